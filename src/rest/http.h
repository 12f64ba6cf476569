/*
 * http.h: libmicrohttpd glue of the REST listener.
 *
 * http.c turns MHD callbacks into PsHttpRequest objects: it collects the body
 * under the size cap, assigns the request id, asks routes.c what to do, and
 * either answers at once or suspends the connection until the worker has run
 * the request inside a database batch (see routes.h).
 */
#ifndef PROVSECRET_HTTP_H
#define PROVSECRET_HTTP_H

#include "postgres.h"

#include <microhttpd.h>

#include "lib/ilist.h"
#include "portability/instr_time.h"

#include "rest/rest_parse.h"

typedef struct PsHttpRequest
{
	MemoryContext cxt;			/* everything of this request lives here */
	struct MHD_Connection *connection;
	void	   *socket;			/* http.c's record of the TCP connection */
	PsRestMethod method;
	PsRestMatchStatus match_status;
	PsRestMatch match;
	char		request_id[PS_REST_REQUEST_ID_MAX + 1];
	char		client_addr[64];
	char	   *authorization;	/* header value, or NULL */
	char	   *body;			/* wiped before the context goes */
	size_t		body_len;
	size_t		body_cap;
	bool		body_too_large; /* past the cap: the rest is discarded */
	size_t		body_discarded;
	PsRestBody	parsed;			/* parsed JSON body; root freed at the end */
	instr_time	started;

	bool		suspended;		/* waiting in the pending list */
	bool		retry;			/* run it again in the next batch */
	int			retries;
	bool		queued;			/* MHD_queue_response done */

	/* the answer, once decided */
	int			status;			/* 0 while undecided */
	char	   *response;		/* ps_rest_secure_malloc'd; MHD frees it */
	size_t		response_len;
	const char *content_type;
	char		allow[48];		/* Allow header for 405 */

	dlist_node	node;			/* in the pending list */
} PsHttpRequest;

/* Requests waiting for the database, oldest first. */
extern dlist_head ps_http_pending;

/* Set by the worker from provsecret.rest_max_body. */
extern size_t ps_http_max_body;

/* MHD callbacks, passed to MHD_start_daemon by rest_worker.c. */
extern enum MHD_Result ps_http_access_handler(void *cls,
											  struct MHD_Connection *connection,
											  const char *url,
											  const char *method,
											  const char *version,
											  const char *upload_data,
											  size_t *upload_data_size,
											  void **con_cls);
extern void ps_http_request_completed(void *cls,
									  struct MHD_Connection *connection,
									  void **con_cls,
									  enum MHD_RequestTerminationCode toe);
extern size_t ps_http_unescape_none(void *cls, struct MHD_Connection *c,
									char *s);

extern void ps_http_connection_notify(void *cls,
									  struct MHD_Connection *connection,
									  void **socket_context,
									  enum MHD_ConnectionNotificationCode toe);

/*
 * Limits MHD has no option for.  A connection may spend at most
 * idle_timeout seconds on one phase (sending the next request's headers, or
 * its body, or reading the answer), so a client that trickles bytes is cut
 * off too.  Under connection pressure (three quarters of max open),
 * connections with no request in progress for a quarter second are closed,
 * so idle clients make room for working ones.  Returns the milliseconds
 * until it wants to run again, or -1 when no connection is open.
 */
extern long ps_http_enforce_limits(int max_connections, int idle_timeout);

/* Decide the answer (before or after the batch). */
extern void ps_http_set_error(PsHttpRequest *req, int status,
							  const char *message);
extern void ps_http_set_body(PsHttpRequest *req, int status,
							 const char *content_type,
							 const char *data, size_t len);
/*
 * Takes over a ps_rest_secure_malloc'd buffer (json_dumps output in the
 * worker), wiped when sent.
 */
extern void ps_http_set_malloced_body(PsHttpRequest *req, int status,
									  const char *content_type,
									  char *data, size_t len);

/* Let MHD call the handler again for a suspended request (after commit). */
extern void ps_http_resume(PsHttpRequest *req);

#endif
