/*
 * routes.h: the REST routes (docs/rest.md).
 *
 * ps_routes_prepare() answers what needs no database (health, metrics, the
 * OpenAPI document, routing and body errors) while the request is still in
 * MHD's hands.  Everything else waits in ps_http_pending until the worker's
 * batch (rest_batch.c) calls ps_routes_execute() inside a subtransaction.
 */
#ifndef PROVSECRET_ROUTES_H
#define PROVSECRET_ROUTES_H

#include "rest/http_request.h"
#include "tenancy/authz.h"

/* Once per worker, before serving. */
extern void ps_routes_init(void);

/* Decide what can be decided now; true when the request needs the batch. */
extern bool ps_routes_prepare(PsHttpRequest *req);

/*
 * Run a prepared request: authenticate, call the secret API, set the answer.
 * Runs inside a (sub)transaction and may throw; the caller maps the error.
 */
extern void ps_routes_execute(PsHttpRequest *req);

/*
 * Raise 42501 unless the installed principals hold perm on the tenant,
 * leaving an access.denied audit event.
 */
extern void ps_routes_require(const char *company, const char *project,
							  PsPermission perm);

#endif
