/*
 * external.h: resolving external:<resolver>/<path>[#field] references
 * (DESIGN §9) through a registered resolver.
 */
#ifndef PROVSECRET_EXTERNAL_H
#define PROVSECRET_EXTERNAL_H

#include "postgres.h"

#include "outbound/outbound.h"
#include "core/reference.h"
#include "external/resolver.h"
#include "tenancy/tenant.h"

/* One call to a resolver's backend, for its audit event and errors. */
typedef struct PsExternalCall
{
	const PsResolver *resolver;
	PsTenant	tenant;			/* whose secret: audited as this tenant's */
	const char *reference;
	const char *action;			/* audit action; NULL: secret.revealed */
	int32		value_version;	/* audited, 0 when unknown */
} PsExternalCall;

/*
 * Authorize (read on the resolver's target), fetch from the backend, audit
 * (secret.revealed naming the resolver, whatever the outcome) and return the
 * value, palloc'd; the caller wipes it.  58030 when the backend fails, P0002
 * when it cleanly says the secret does not exist.
 */
extern char *ps_external_resolve(const PsReference *ref, const char *canonical,
								 Size *len);

/*
 * Call the backend with the resolver's token (method NULL: GET; body JSON
 * or NULL, the caller's to wipe).  false with resp->error when no response
 * came.
 */
extern bool ps_external_send(const PsExternalCall *call, const char *method,
							 const char *url, const char *body,
							 size_t body_len, PsOutboundResponse *resp);

/* Timeouts, size cap and CA file of a request to r's backend. */
extern void ps_external_request_init(const PsResolver *r, PsOutboundRequest *req);

/* Audit the call durably with this outcome and optional reason. */
extern void ps_external_audit(const PsExternalCall *call, const char *outcome,
							  const char *what);

/*
 * Audit a use of the resolver's auth_reference (secret.used, durably: an
 * error when it cannot be recorded) by a request about to carry it or a
 * credential obtained with it; what says how, e.g. "sent as the token".
 */
extern void ps_external_audit_use(const PsExternalCall *call, const char *outcome,
								  const char *what);

/* Audit outcome error, then raise 58030 naming the resolver and what. */
extern void ps_external_fail(const PsExternalCall *call, const char *what)
			pg_attribute_noreturn();

/* The same when the circuit breaker refused the call (retry_in_s left). */
extern void ps_external_fail_fast(const PsExternalCall *call, int retry_in_s)
			pg_attribute_noreturn();

/* Tell the resolver's circuit breaker how an admitted call went. */
extern void ps_external_breaker_report(const PsResolver *r, bool failed);

/*
 * Does an HTTP status count as a backend failure for the breaker?  1xx, 3xx
 * and 5xx do; a 4xx is a healthy backend saying no.
 */
extern bool ps_external_status_failed(long status);

/*
 * GET path from a bound workspace's backend (no authorization: the caller
 * did it; no cache; the latest version, whatever the resolver's version
 * option) and return the value, palloc'd, audited as call->action.  58030
 * on failure, P0002 on a clean 404.
 */
extern char *ps_external_fetch(const PsExternalCall *call, const char *path,
							   Size *len);

#endif
