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

#include "rest/http_request.h"

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

/* Let MHD call the handler again for a suspended request (after commit). */
extern void ps_http_resume(PsHttpRequest *req);

#endif
