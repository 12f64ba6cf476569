/*
 * external.c: resolve external:<resolver>/<path>[#field] through the
 * resolver's backend.
 *
 * The call runs in the calling backend through outbound.c, whose libcurl
 * multi loop waits on the process latch: statement_timeout,
 * pg_cancel_backend and postmaster death interrupt it, and the resolver's
 * timeout_ms bounds it.  Messages name the resolver and what went wrong,
 * never the token, the URL or anything the backend sent.
 */
#include "postgres.h"

#include "mb/pg_wchar.h"

#include <stdlib.h>

#include "audit.h"
#include "authz.h"
#include "external.h"
#include "external_guard.h"
#include "outbound.h"
#include "provsecret.h"
#include "resolver.h"
#include "resolver_kinds.h"
#include "secret.h"
#include "tenant.h"

/* What one external reveal is about, for its audit event and errors. */
typedef struct Call
{
	const PsResolver *resolver;
	PsTenant	tenant;
	const char *reference;
} Call;

static void
audit_call(const Call *call, const char *outcome, const char *what)
{
	PsAuditEvent event = {0};

	event.action = "secret.revealed";
	event.reference = call->reference;
	event.company = call->tenant.company;
	event.project = call->tenant.project;
	event.outcome = outcome;
	event.detail = psprintf("resolver %s%s%s", call->resolver->name,
							what ? ": " : "", what ? what : "");
	event.count = 1;
	ps_audit_record(&event, true);
}

/* Audit the failure, then raise 58030 naming the resolver. */
static void pg_attribute_noreturn()
fail(const Call *call, const char *what)
{
	audit_call(call, "error", what);
	ereport(ERROR,
			(errcode(ERRCODE_IO_ERROR),
			 errmsg("external resolver %s: %s", call->resolver->name, what)));
}

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
	if (r->kind == PS_KIND_VAULT_KV2)
		return psprintf("X-Vault-Token: %s", token);
	return psprintf("Authorization: Bearer %s", token);
}

static void
wipe_string(char *s)
{
	if (s != NULL)
		explicit_bzero(s, strlen(s));
}

/*
 * GET the URL with the resolver's token.  Returns the response; the token
 * and the header carrying it are wiped whatever happens.
 */
static bool
call_backend(const Call *call, const char *url, PsOutboundResponse *resp)
{
	const PsResolver *r = call->resolver;
	char	   *volatile token = NULL;
	char	   *volatile header = NULL;
	Size		token_len = 0;
	const char *headers[3] = {NULL, NULL, NULL};
	int			n = 0;
	PsOutboundRequest req = {0};
	volatile bool ok = false;

	if (r->auth_reference != NULL)
	{
		token = ps_secret_resolve_internal(r->auth_reference, &token_len);
		if (token == NULL)
			fail(call, "its auth_reference names no secret");
	}
	PG_TRY();
	{
		if (token != NULL)
		{
			header = auth_header(r, token, token_len);
			if (header == NULL)
				fail(call, "its token contains characters not allowed in an HTTP header");
			headers[n++] = header;
		}
		if (r->kind == PS_KIND_VAULT_KV2 && r->options.vault_namespace[0])
			headers[n++] = psprintf("X-Vault-Namespace: %s", r->options.vault_namespace);
		req.url = url;
		req.headers = headers;
		req.connect_timeout_ms = r->options.timeout_ms;
		req.total_timeout_ms = r->options.timeout_ms;
		req.max_response_bytes = PS_RESOLVER_RESPONSE_MAX;
		ok = ps_outbound_get(&req, resp);
	}
	PG_FINALLY();
	{
		if (token != NULL)
			explicit_bzero(token, token_len);
		wipe_string(header);
	}
	PG_END_TRY();
	return ok;
}

static const char *
extract_problem(PsExtractResult result, const PsResolver *r, const char *field)
{
	const char *where;

	if (result == PS_EXTRACT_MALFORMED)
		return r->kind == PS_KIND_HTTP_JSON ? "the response is not valid JSON" :
			psprintf("the response is not a %s answer", ps_resolver_kind_name(r->kind));
	if (r->kind == PS_KIND_VAULT_KV2)
		where = psprintf("data.data.%s", field[0] ? field : "value");
	else if (r->kind == PS_KIND_INFISICAL)
		where = "secret.secretValue";
	else
		where = field[0] ? psprintf("/%s", field) : r->options.pointer;
	if (result == PS_EXTRACT_MISSING)
		return psprintf("the response has no value at %s", where);
	return psprintf("the value at %s is not a string", where);
}

char *
ps_external_resolve(const PsReference *ref, const char *canonical, Size *len)
{
	PsResolver	r;
	Call		call;
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

	if (!ps_resolver_lookup(ref->owner, &r))
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("resolver %s not found", ref->owner)));
	call.resolver = &r;
	call.tenant = ps_tenant_of(r.scope, r.owner);
	call.reference = canonical;
	if (!ps_authz_allows(call.tenant.company, call.tenant.project, PS_PERM_READ))
		ps_authz_deny(PS_PERM_READ, call.tenant.company, call.tenant.project, canonical);

	url = ps_resolver_url(r.kind, &r.options, r.base_url, ref->path, ref->field,
						  err, sizeof(err));
	if (url == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid reference for resolver %s: %s", r.name, err)));

	if (r.options.cache_ttl_s > 0 &&
		(cached = ps_value_cache_get(canonical, r.tag, len)) != NULL)
	{
		free(url);
		PG_TRY();
		{
			audit_call(&call, "ok", "cached");
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
		fail(&call, psprintf("backend unavailable, failing fast for %d s after %d consecutive failures",
							 retry_in_s, r.options.breaker_failures));
	}

	PG_TRY();
	{
		answered = call_backend(&call, url, &resp);
	}
	PG_FINALLY();
	{
		free(url);
	}
	PG_END_TRY();

	if (!answered)
	{
		ps_breaker_report(r.name, r.tag, true, r.options.breaker_failures,
						  r.options.breaker_cooldown_s);
		fail(&call, psprintf("backend call failed (%s)", resp.error));
	}
	if (resp.status >= 500 || resp.status < 200 ||
		(resp.status >= 300 && resp.status < 400))
	{
		explicit_bzero(resp.body, resp.body_len);
		ps_breaker_report(r.name, r.tag, true, r.options.breaker_failures,
						  r.options.breaker_cooldown_s);
		fail(&call, psprintf("backend answered HTTP %ld", resp.status));
	}
	if (resp.status >= 400)
	{
		/* a 4xx is a healthy backend saying no */
		explicit_bzero(resp.body, resp.body_len);
		ps_breaker_report(r.name, r.tag, false, r.options.breaker_failures,
						  r.options.breaker_cooldown_s);
	}
	if (resp.status == 404)
	{
		audit_call(&call, "not_found", NULL);
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("secret %s not found by resolver %s", canonical, r.name)));
	}
	if (resp.status == 401 || resp.status == 403)
		fail(&call, psprintf("backend refused the credentials (HTTP %ld)", resp.status));
	if (resp.status >= 400)
		fail(&call, psprintf("backend answered HTTP %ld", resp.status));

	if (!is_json_content_type(resp.content_type))
	{
		explicit_bzero(resp.body, resp.body_len);
		ps_breaker_report(r.name, r.tag, true, r.options.breaker_failures,
						  r.options.breaker_cooldown_s);
		fail(&call, "the response is not JSON (Content-Type)");
	}
	extracted = ps_resolver_extract(r.kind, &r.options, ref->field, resp.body,
									resp.body_len, &value, &value_len);
	explicit_bzero(resp.body, resp.body_len);
	ps_breaker_report(r.name, r.tag, extracted == PS_EXTRACT_MALFORMED,
					  r.options.breaker_failures, r.options.breaker_cooldown_s);
	if (extracted != PS_EXTRACT_OK)
		fail(&call, extract_problem(extracted, &r, ref->field));

	/* fail closed: the event is recorded before the value leaves */
	PG_TRY();
	{
		if (value_len > PS_VALUE_MAX_CHARS * 4)
			fail(&call, "the value is longer than a secret may be");
		/* backends send UTF-8; the value must be valid text here too */
		if (GetDatabaseEncoding() != PG_UTF8 &&
			!pg_verify_mbstr(GetDatabaseEncoding(), value, (int) value_len, true))
			fail(&call, "the value is not valid in the database encoding");
		result = palloc(value_len + 1);
		memcpy(result, value, value_len + 1);
		if (r.options.cache_ttl_s > 0)
			ps_value_cache_put(canonical, r.tag, r.options.cache_ttl_s, value, value_len);
		audit_call(&call, "ok", NULL);
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
