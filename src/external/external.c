/*
 * external.c: resolve external:<resolver>/<path>[#field] through the
 * resolver's backend.
 *
 * The call is made by the outbound worker (outbound.h); the calling process
 * waits for its answer on the process latch: statement_timeout,
 * pg_cancel_backend and postmaster death interrupt the wait, and the
 * resolver's timeout_ms bounds it.  Messages name the resolver and what
 * went wrong, never the token, the URL or anything the backend sent.
 */
#include "postgres.h"

#include <stdlib.h>

#include "mb/pg_wchar.h"
#include "utils/timestamp.h"

#include "audit/audit.h"
#include "core/provsecret.h"
#include "external/external.h"
#include "external/external_auth.h"
#include "external/external_call.h"
#include "external/external_guard.h"
#include "external/resolver.h"
#include "external/resolver_kinds.h"
#include "external/resolver_metrics.h"
#include "outbound/outbound.h"
#include "outbound/outbound_policy.h"
#include "tenancy/authz.h"
#include "tenancy/tenant.h"

static bool
is_json_content_type(const char *ctype)
{
	size_t		n = strcspn(ctype, "; ");

	if (n == 16 && pg_strncasecmp(ctype, "application/json", 16) == 0)
		return true;
	return n > 5 && pg_strncasecmp(ctype + n - 5, "+json", 5) == 0;
}

/* A header line with the token; false when the token cannot be sent. */
static char *
auth_header(const PsResolver *r, const char *token, Size len)
{
	for (Size i = 0; i < len; i++)
		if ((unsigned char) token[i] < 0x20 || token[i] == 0x7f)
			return NULL;
	return psprintf("%s%s", ps_resolver_token_header(r->kind), token);
}

static void
wipe_string(char *s)
{
	if (s != NULL)
		explicit_bzero(s, strlen(s));
}

/*
 * One request with this token (NULL: none); the header line is wiped.  A
 * request carrying a token is a use of the resolver's auth_reference,
 * audited (as use) before the request leaves.
 */
static bool
send_with_token(const PsExternalCall *call, const char *method, const char *url,
				const char *body, size_t body_len, const char *token,
				Size token_len, const char *use, PsOutboundResponse *resp)
{
	const PsResolver *r = call->resolver;
	char	   *volatile header = NULL;
	const char *headers[3] = {NULL, NULL, NULL};
	int			n = 0;
	PsOutboundRequest req = {0};
	volatile bool ok = false;
	char		line[256];

	if (ps_resolver_request_header(r->kind, &r->options, line, sizeof(line)))
		headers[n++] = pstrdup(line);
	ps_external_request_init(r, &req);
	req.url = url;
	req.headers = headers;
	req.method = method;
	req.body = body;
	req.body_len = body_len;
	/* last, so nothing can fail between making the header and its wipe */
	if (token != NULL)
	{
		header = auth_header(r, token, token_len);
		if (header == NULL)
			ps_external_fail(call, "its token contains characters not allowed in an HTTP header");
		headers[n++] = header;
	}
	PG_TRY();
	{
		/* fail closed: no event, no call */
		if (token != NULL)
			ps_external_audit_use(call, "ok", use);
		ok = ps_outbound_request(&req, resp);
	}
	PG_FINALLY();
	{
		wipe_string(header);
	}
	PG_END_TRY();
	return ok;
}

/* How a request carries the auth_reference, for its secret.used event. */
static const char *
token_use(const PsResolver *r, bool cached)
{
	if (ps_resolver_logs_in(r->kind, &r->options))
		return cached ? "universal-auth access token (kept) sent" :
			"universal-auth access token sent";
	return "sent as the token";
}

/*
 * Call the URL with the resolver's token (GET when method is NULL).  A 401
 * to a cached universal-auth access token (revoked, or expired early) logs
 * in once more and repeats the call.  The token is wiped whatever happens;
 * the time taken goes to the resolver's latency on /metrics.
 */
bool
ps_external_send(const PsExternalCall *call, const char *method, const char *url,
				 const char *body, size_t body_len, PsOutboundResponse *resp)
{
	TimestampTz start = GetCurrentTimestamp();
	char	   *volatile token = NULL;
	volatile Size token_len = 0;
	volatile bool ok = false;
	Size		len;
	bool		cached;
	char		rule[256];

	/* before the token is even read: a refused call uses nothing */
	if (!ps_outbound_policy_check_url(url, false, rule, sizeof(rule)))
		ps_external_fail(call, psprintf("call refused by the outbound policy: %s", rule));
	token = ps_external_token(call, false, &len, &cached);
	token_len = len;
	PG_TRY();
	{
		ok = send_with_token(call, method, url, body, body_len, token, token_len,
							 token_use(call->resolver, cached), resp);
		if (ok && resp->status == 401 && cached)
		{
			explicit_bzero(resp->body, resp->body_len);
			explicit_bzero(token, token_len);
			token = NULL;
			ps_external_token_forget(call->resolver);
			token = ps_external_token(call, true, &len, &cached);
			token_len = len;
			ok = send_with_token(call, method, url, body, body_len, token, token_len,
								 token_use(call->resolver, cached), resp);
		}
	}
	PG_FINALLY();
	{
		if (token != NULL)
			explicit_bzero(token, token_len);
	}
	PG_END_TRY();
	ps_resolver_metrics_observe(call->resolver,
								(GetCurrentTimestamp() - start) / 1e6);
	return ok;
}

static const char *
extract_problem(PsExtractResult result, const PsResolver *r, const char *field)
{
	char		where[PS_RESOLVER_LOCATION_MAX];

	if (result == PS_EXTRACT_MALFORMED)
		return ps_resolver_response_any_json(r->kind) ? "the response is not valid JSON" :
			psprintf("the response is not a %s answer", ps_resolver_kind_name(r->kind));
	ps_resolver_value_location(r->kind, &r->options, field, where, sizeof(where));
	if (result == PS_EXTRACT_MISSING)
		return psprintf("the response has no value at %s", where);
	return psprintf("the value at %s is not a string", where);
}

/*
 * GET path[#field] from the call's backend: breaker, status, content type
 * and extraction checked; audited (fail closed) before the value leaves.
 */
static char *
fetch_value(const PsExternalCall *callp, const char *path, const char *field,
			bool use_cache, Size *len)
{
	const PsExternalCall call = *callp;
	const PsResolver r = *callp->resolver;
	const char *canonical = call.reference;
	char		err[256];
	char	   *url;
	char	   *cached;
	int			retry_in_s;
	PsOutboundResponse resp;
	bool		answered;
	char	   *value = NULL;
	size_t		value_len = 0;
	PsExtractResult extracted;
	char	   *volatile result = NULL;

	url = ps_resolver_url(r.kind, &r.options, r.base_url, path, field,
						  err, sizeof(err));
	if (url == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid reference for resolver %s: %s", r.name, err)));

	if (use_cache && r.options.cache_ttl_s > 0 &&
		(cached = ps_value_cache_get(canonical, r.tag, len)) != NULL)
	{
		free(url);
		PG_TRY();
		{
			ps_external_audit_counted(&call, "ok", "cached", PS_OUTCOME_CACHE_HIT);
		}
		PG_CATCH();
		{
			explicit_bzero(cached, *len);
			PG_RE_THROW();
		}
		PG_END_TRY();
		return cached;
	}

	if (!ps_breaker_admit(r.name, r.tag, &retry_in_s))
	{
		free(url);
		ps_external_fail_fast(&call, retry_in_s);
	}

	PG_TRY();
	{
		answered = ps_external_send(&call, NULL, url, NULL, 0, &resp);
	}
	PG_FINALLY();
	{
		free(url);
	}
	PG_END_TRY();

	if (!answered)
	{
		ps_external_breaker_report(&r, true);
		ps_external_fail(&call, psprintf("backend call failed (%s)", resp.error));
	}
	if (ps_external_status_failed(resp.status))
	{
		explicit_bzero(resp.body, resp.body_len);
		ps_external_breaker_report(&r, true);
		ps_external_fail(&call, psprintf("backend answered HTTP %ld", resp.status));
	}
	if (resp.status >= 400)
	{
		explicit_bzero(resp.body, resp.body_len);
		ps_external_breaker_report(&r, false);
	}
	if (resp.status == 404)
	{
		ps_external_audit_counted(&call, "not_found", NULL, PS_OUTCOME_NOT_FOUND);
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("secret %s not found by resolver %s", canonical, r.name)));
	}
	if (resp.status == 401 || resp.status == 403)
		ps_external_fail(&call, psprintf("backend refused the credentials (HTTP %ld)", resp.status));
	if (resp.status >= 400)
		ps_external_fail(&call, psprintf("backend answered HTTP %ld", resp.status));

	if (!is_json_content_type(resp.content_type))
	{
		explicit_bzero(resp.body, resp.body_len);
		ps_external_breaker_report(&r, true);
		ps_external_fail(&call, "the response is not JSON (Content-Type)");
	}
	extracted = ps_resolver_extract(r.kind, &r.options, field, resp.body,
									resp.body_len, &value, &value_len);
	explicit_bzero(resp.body, resp.body_len);
	ps_external_breaker_report(&r, extracted == PS_EXTRACT_MALFORMED);
	if (extracted != PS_EXTRACT_OK)
		ps_external_fail(&call, extract_problem(extracted, &r, field));

	/* fail closed: the event is recorded before the value leaves */
	PG_TRY();
	{
		if (value_len > PS_VALUE_MAX_CHARS * 4)
			ps_external_fail(&call, "the value is longer than a secret may be");
		/* backends send UTF-8; the value must be valid text here too */
		if (GetDatabaseEncoding() != PG_UTF8 &&
			!pg_verify_mbstr(GetDatabaseEncoding(), value, (int) value_len, true))
			ps_external_fail(&call, "the value is not valid in the database encoding");
		result = palloc(value_len + 1);
		memcpy(result, value, value_len + 1);
		if (use_cache && r.options.cache_ttl_s > 0)
			ps_value_cache_put(canonical, r.tag, r.options.cache_ttl_s, value, value_len);
		ps_external_audit_counted(&call, "ok", NULL, PS_OUTCOME_OK);
	}
	PG_CATCH();
	{
		if (result != NULL)
			explicit_bzero(result, value_len);
		explicit_bzero(value, value_len);
		free(value);
		PG_RE_THROW();
	}
	PG_END_TRY();
	explicit_bzero(value, value_len);
	free(value);
	*len = value_len;
	return result;
}

/*
 * read on the resolver's target.  A caller who may not read through it
 * gets the same 42501 whether it exists or not, and whoever owns it; only
 * one who could see it anyway (a global role) learns that it is missing.
 * Both branches do the same work: one lookup, one audited denial.
 */
char *
ps_external_resolve(const PsReference *ref, const char *canonical, Size *len)
{
	PsResolver	r;
	PsExternalCall call = {0};

	if (!ps_resolver_lookup(ref->owner, &r))
	{
		/* no target: only a global role passes; grants load as they would */
		if (ps_authz_allows(NULL, NULL, PS_PERM_DESCRIBE))
			ereport(ERROR,
					(errcode(ERRCODE_NO_DATA_FOUND),
					 errmsg("resolver %s not found", ref->owner)));
		ps_authz_deny_resolver(PS_PERM_READ, ref->owner, NULL, NULL, canonical);
	}
	call.resolver = &r;
	call.tenant = ps_tenant_of(r.scope, r.owner);
	call.reference = canonical;
	if (!ps_authz_allows(call.tenant.company, call.tenant.project, PS_PERM_READ))
		ps_authz_deny_resolver(PS_PERM_READ, r.name, call.tenant.company,
							   call.tenant.project, canonical);
	return fetch_value(&call, ref->path, ref->field, true, len);
}

char *
ps_external_fetch(const PsExternalCall *call, const char *path, Size *len)
{
	PsResolver	latest = *call->resolver;
	PsExternalCall c = *call;

	/* a bound workspace reads what it last wrote */
	latest.options.vault_version = 0;
	c.resolver = &latest;
	return fetch_value(&c, path, "", false, len);
}
