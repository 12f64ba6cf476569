/*
 * external_call.c: one call to a resolver's backend (external_call.h): its
 * audit events and /metrics count, its failure, the circuit breaker's
 * report and the request's limits.  external.c (resolve, send, fetch) and
 * external_auth.c (the resolver's token, a universal-auth login) both use
 * these.
 */
#include "postgres.h"

#include "audit/audit.h"
#include "external/external_call.h"
#include "external/external_guard.h"
#include "external/resolver_kinds.h"
#include "tenancy/authz.h"
#include "tenancy/tenant.h"

/* Count the call's outcome on /metrics, then audit it durably. */
void
ps_external_audit_counted(const PsExternalCall *call, const char *outcome,
						  const char *what, PsResolverOutcome metric)
{
	PsAuditEvent event = {0};

	ps_resolver_metrics_count(call->resolver, metric);

	event.action = call->action ? call->action : "secret.revealed";
	event.reference = call->reference;
	event.company = ps_event_company(call->tenant.company, call->tenant.project);
	event.project = call->tenant.project;
	event.value_version = call->value_version;
	event.outcome = outcome;
	event.detail = psprintf("resolver %s%s%s", call->resolver->name,
							what ? ": " : "", what ? what : "");
	event.count = 1;
	ps_audit_record(&event, true);
}

void
ps_external_audit_use(const PsExternalCall *call, const char *outcome,
					  const char *what)
{
	const PsResolver *r = call->resolver;
	PsTenant	owner = ps_tenant_of(r->scope, r->owner);
	PsAuditEvent event = {0};

	event.action = "secret.used";
	event.reference = r->auth_reference;
	event.company = ps_event_company(owner.company, owner.project);
	event.project = owner.project;
	event.outcome = outcome;
	event.detail = psprintf("resolver %s: %s%s%s", r->name, what,
							call->reference ? ", for " : "",
							call->reference ? call->reference : "");
	event.count = 1;
	ps_audit_record(&event, true);
}

/* Audit the failure, then raise 58030 naming the resolver. */
void
ps_external_fail(const PsExternalCall *call, const char *what)
{
	ps_external_audit_counted(call, "error", what, PS_OUTCOME_ERROR);
	ereport(ERROR,
			(errcode(ERRCODE_IO_ERROR),
			 errmsg("external resolver %s: %s", call->resolver->name, what)));
}

void
ps_external_fail_fast(const PsExternalCall *call, int retry_in_s)
{
	const char *what = psprintf("backend unavailable, failing fast for %d s after %d consecutive failures",
								retry_in_s, call->resolver->options.breaker_failures);

	ps_external_audit_counted(call, "error", what, PS_OUTCOME_REJECTED);
	ereport(ERROR,
			(errcode(ERRCODE_IO_ERROR),
			 errmsg("external resolver %s: %s", call->resolver->name, what)));
}

void
ps_external_breaker_report(const PsResolver *r, bool failed)
{
	ps_breaker_report(r->name, r->tag, failed, r->options.breaker_failures,
					  r->options.breaker_cooldown_s);
}

bool
ps_external_status_failed(long status)
{
	return status < 200 || (status >= 300 && status < 400) || status >= 500;
}

void
ps_external_audit(const PsExternalCall *call, const char *outcome, const char *what)
{
	ps_external_audit_counted(call, outcome, what,
			   strcmp(outcome, "ok") == 0 ? PS_OUTCOME_OK :
			   strcmp(outcome, "not_found") == 0 ? PS_OUTCOME_NOT_FOUND :
			   PS_OUTCOME_ERROR);
}

void
ps_external_request_init(const PsResolver *r, PsOutboundRequest *req)
{
	req->connect_timeout_ms = r->options.timeout_ms;
	req->total_timeout_ms = r->options.timeout_ms;
	req->max_response_bytes = PS_RESOLVER_RESPONSE_MAX;
	req->ca_file = r->options.ca_file[0] ? r->options.ca_file : NULL;
}
