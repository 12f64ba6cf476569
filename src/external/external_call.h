/*
 * external_call.h: one call to a resolver's backend: what it is about (for
 * its audit event and errors), how it is audited and counted on /metrics,
 * how it fails, what it tells the circuit breaker, and the request's limits.
 * external.h includes this; external_auth.c needs only this, so the token
 * (external_auth.c) and the resolve (external.c) do not include each other.
 */
#ifndef PROVSECRET_EXTERNAL_CALL_H
#define PROVSECRET_EXTERNAL_CALL_H

#include "postgres.h"

#include "external/resolver.h"
#include "external/resolver_metrics.h"
#include "outbound/outbound.h"
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
 * Count the call's outcome on /metrics as metric, then audit it durably
 * with outcome and optional reason.
 */
extern void ps_external_audit_counted(const PsExternalCall *call,
									  const char *outcome, const char *what,
									  PsResolverOutcome metric);

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

#endif
