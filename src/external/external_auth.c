/*
 * external_auth.c: auth_reference values and Infisical universal-auth
 * access tokens for external resolvers.
 */
#include "postgres.h"

#include <stdlib.h>

#include "utils/timestamp.h"

#include "core/provsecret.h"
#include "crypto/locked_cache.h"
#include "external/external_auth.h"
#include "external/external_call.h"
#include "external/resolver_kinds.h"
#include "outbound/outbound.h"
#include "store/secret_read.h"

#define TOKEN_SLOTS 8
#define TOKEN_MARGIN_MAX_S 60	/* refresh at most this long before expiry */

/* Universal-auth access tokens, by resolver name. */
PS_LOCKED_CACHE(tokens, TOKEN_SLOTS);

void
ps_external_token_forget(const PsResolver *r)
{
	ps_locked_cache_forget(&tokens, r->name);
}

/*
 * Keep a token that lives expires_in seconds, until a margin before it
 * expires (a tenth of its life, at least 1 s, at most a minute) so it is
 * never sent when about to lapse.  Best effort.
 */
static void
token_put(const PsResolver *r, const char *token, Size len, long expires_in)
{
	long		margin = Max(1, Min(TOKEN_MARGIN_MAX_S, expires_in / 10));

	ps_external_token_forget(r);
	if (expires_in <= margin)
		return;
	ps_locked_cache_put(&tokens, r->name, r->tag,
						TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
													(expires_in - margin) * 1000),
						token, len);
}

/*
 * POST the client id and secret to the login endpoint; the access token,
 * palloc'd.  Everything that held the secret or the token is wiped.
 */
static char *
login(const PsExternalCall *call, Size *len)
{
	const PsResolver *r = call->resolver;
	char	   *volatile secret;
	Size		secret_len = 0;
	char	   *volatile url = NULL;
	char	   *volatile body = NULL;
	size_t		body_len = 0;
	char		err[256];
	PsOutboundRequest req = {0};
	PsOutboundResponse resp;
	volatile bool answered = false;
	char	   *token;
	size_t		token_len;
	long		expires_in;
	PsExtractResult parsed;
	char	   *result;

	secret = ps_secret_resolve_internal(r->auth_reference, &secret_len);
	if (secret == NULL)
	{
		ps_external_audit_use(call, "not_found", "it names no secret, no login sent");
		ps_external_fail(call, "its auth_reference names no secret");
	}
	PG_TRY();
	{
		char	   *u;
		char	   *b;

		if (!ps_resolver_login_request(&r->options, r->base_url, secret,
									   secret_len, &u, &b, &body_len,
									   err, sizeof(err)))
			ps_external_fail(call, err);
		url = u;
		body = b;
		explicit_bzero(secret, secret_len);
		ps_external_request_init(r, &req);
		req.url = url;
		req.method = "POST";
		req.body = body;
		req.body_len = body_len;
		/* fail closed: no event, no login */
		ps_external_audit_use(call, "ok", "sent to universal-auth login");
		answered = ps_outbound_request(&req, &resp);
	}
	PG_FINALLY();
	{
		explicit_bzero(secret, secret_len);
		free(url);
		ps_resolver_free_body(body, body_len);
	}
	PG_END_TRY();

	if (!answered)
	{
		ps_external_breaker_report(r, true);
		ps_external_fail(call, psprintf("universal-auth login failed (%s)", resp.error));
	}
	if (resp.status < 200 || resp.status >= 300)
	{
		explicit_bzero(resp.body, resp.body_len);
		ps_external_breaker_report(r, ps_external_status_failed(resp.status));
		if (resp.status == 400 || resp.status == 401 || resp.status == 403)
			ps_external_fail(call, psprintf("universal-auth login refused the client credentials (HTTP %ld)",
											resp.status));
		ps_external_fail(call, psprintf("universal-auth login answered HTTP %ld", resp.status));
	}
	parsed = ps_resolver_login_parse(resp.body, resp.body_len, &token, &token_len,
									 &expires_in);
	explicit_bzero(resp.body, resp.body_len);
	if (parsed != PS_EXTRACT_OK)
	{
		ps_external_breaker_report(r, true);
		ps_external_fail(call, "the universal-auth login response has no accessToken");
	}
	/* token is malloc'd: wiped and freed whatever palloc does */
	PG_TRY();
	{
		result = palloc(token_len + 1);
		memcpy(result, token, token_len + 1);
		token_put(r, token, token_len, expires_in);
	}
	PG_FINALLY();
	{
		explicit_bzero(token, token_len);
		free(token);
	}
	PG_END_TRY();
	*len = token_len;
	return result;
}

char *
ps_external_token(const PsExternalCall *call, bool fresh, Size *len, bool *cached)
{
	const PsResolver *r = call->resolver;
	char	   *token;

	*cached = false;
	*len = 0;
	if (r->auth_reference == NULL)
		return NULL;
	if (!ps_resolver_logs_in(r->kind, &r->options))
	{
		token = ps_secret_resolve_internal(r->auth_reference, len);
		if (token == NULL)
		{
			ps_external_audit_use(call, "not_found", "it names no secret, nothing sent");
			ps_external_fail(call, "its auth_reference names no secret");
		}
		return token;
	}
	if (!fresh && (token = ps_locked_cache_get(&tokens, r->name, r->tag, len)) != NULL)
	{
		*cached = true;
		return token;
	}
	return login(call, len);
}
