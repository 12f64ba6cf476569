/*
 * http_request.h: one REST request as the router sees it, and how its answer
 * is decided.  http.c fills it from libmicrohttpd; routes.c answers it.
 */
#ifndef PROVSECRET_HTTP_REQUEST_H
#define PROVSECRET_HTTP_REQUEST_H

#include "postgres.h"

#include <microhttpd.h>

#include "lib/ilist.h"
#include "portability/instr_time.h"

#include "rest/rest_parse.h"
#include "rest/vault_parse.h"

/* Extra answer headers a dialect may set (Set-Cookie, Location, CSP...). */
#define PS_HTTP_MAX_EXTRA_HEADERS 10

struct PsHttpRequest;

/*
 * A dialect served beside the native routes by a layer above rest/ (the
 * settings pages, src/ui/), registered from _PG_init through
 * ps_http_register_dialect, so no include points up.  http.c asks claims()
 * for each path; a claimed request is created with begin() (read the
 * headers it needs while MHD holds them), answered by prepare() or, when
 * that returns true, by execute() inside the worker's batch (channel names
 * its audit events), and finish() wipes what it kept.  set_error, when
 * given, shapes every error answer of a claimed request.
 */
typedef struct PsHttpDialect
{
	const char *channel;
	bool		(*claims) (const char *url);
	void		(*begin) (struct PsHttpRequest *req, const char *url,
						  const char *method);
	bool		(*prepare) (struct PsHttpRequest *req);
	void		(*execute) (struct PsHttpRequest *req);
	void		(*set_error) (struct PsHttpRequest *req, int status,
							  const char *message);
	void		(*finish) (struct PsHttpRequest *req);
} PsHttpDialect;

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
	char	   *if_match;		/* If-Match header value, or NULL */
	char	   *body;			/* wiped before the context goes */
	size_t		body_len;
	size_t		body_cap;
	bool		body_too_large; /* past the cap: the rest is discarded */
	size_t		body_discarded;
	PsRestBody	parsed;			/* parsed JSON body; root freed at the end */

	/* the Vault dialect (vault_routes.c), when it claimed the path */
	bool		vault;
	PsVaultMatch vault_match;
	int			vault_version;	/* ?version=N, 0 when absent or 0, -1 malformed */
	bool		vault_raw_token;	/* authorization is X-Vault-Token's value */
	PsVaultWrite vault_write;	/* parsed write body; root freed at the end */
	const char *vault_jwt;		/* login body's jwt, points into vault_write.root */
	instr_time	started;

	/* a registered dialect (settings pages), when it claimed the path */
	const PsHttpDialect *dialect;
	void	   *dialect_state;	/* the dialect's, in cxt */
	int			n_extra_headers;
	const char *extra_header_names[PS_HTTP_MAX_EXTRA_HEADERS];
	char	   *extra_header_values[PS_HTTP_MAX_EXTRA_HEADERS];

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
	char		etag[16];		/* ETag of a 2xx answer ("" for none) */

	dlist_node	node;			/* in the pending list */
} PsHttpRequest;

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

/* Add a header to the answer (copied into the request's context). */
extern void ps_http_add_header(PsHttpRequest *req, const char *name,
							   const char *value);

/* The dialect registered beside the native routes, or NULL. */
extern const PsHttpDialect *ps_http_dialect;
extern void ps_http_register_dialect(const PsHttpDialect *dialect);

/* Free the answer decided so far (wiped), if any. */
extern void ps_http_drop_response(PsHttpRequest *req);

#endif
