/*
 * vault_auth.c: the Vault dialect's tokens (docs/vault.md): which token a
 * request carries, its verification (the one native REST uses, token.c;
 * every refusal is Vault's 403), and the auth routes: auth/jwt/login
 * (audited as auth.login), auth/token/lookup-self.
 *
 * The client's token is never written anywhere: it only goes to the
 * verifier, and back to the client that sent it on login.
 */
#include "postgres.h"

#include <jansson.h>

#include "audit/audit.h"
#include "core/principal.h"
#include "rest/vault_answer.h"
#include "rest/vault_auth.h"
#include "token/token.h"

/* The token the client sent, or NULL when it is not one (no error). */
const char *
ps_vault_token_or_null(PsHttpRequest *req)
{
	const char *p = req->authorization;

	if (p == NULL || req->vault_raw_token)
		return p;
	if (pg_strncasecmp(p, "Bearer ", 7) != 0)
		return NULL;
	for (p += 7; *p == ' '; p++)
		;
	return p;
}

/* The token the client sent: X-Vault-Token as is, or Authorization: Bearer. */
const char *
ps_vault_client_token(PsHttpRequest *req)
{
	const char *p = ps_vault_token_or_null(req);

	if (p == NULL)
		ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
						errmsg("permission denied")));
	return p;
}

/*
 * Verify a token; a rejected one is Vault's 403 "permission denied" (the
 * verifier's message never quotes the token).
 */
List *
ps_vault_verify(const char *token, char **subject)
{
	MemoryContext cxt = CurrentMemoryContext;
	List	   *volatile principals = NIL;

	PG_TRY();
	{
		principals = ps_token_authenticate(token, subject);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		if (edata->sqlerrcode != ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION)
			PG_RE_THROW();
		FlushErrorState();
		ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
						errmsg("permission denied")));
	}
	PG_END_TRY();
	return principals;
}

static json_t *
principal_array(List *principals)
{
	json_t	   *a = json_array();
	ListCell   *lc;

	foreach(lc, principals)
		json_array_append_new(a, json_string((const char *) lfirst(lc)));
	return a;
}

/* Seconds left of a verified token, and its expiry as RFC 3339. */
static long long
seconds_left(const char *token, char *expire, size_t size)
{
	long long	exp = ps_vault_jwt_exp(token);
	time_t		t = (time_t) exp;
	struct tm	tm;
	long long	left = exp - (long long) time(NULL);

	expire[0] = '\0';
	if (exp > 0 && gmtime_r(&t, &tm) != NULL)
		strftime(expire, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return left > 0 ? left : 0;
}

void
ps_vault_lookup_self(PsHttpRequest *req, const char *token, List *principals,
					 const char *subject)
{
	char		expire[32];
	long long	ttl = seconds_left(token, expire, sizeof(expire));

	ps_vault_answer(req, 200, ps_vault_envelope(req,
							  json_pack("{s:s, s:s, s:o, s:I, s:o, s:b, s:s, s:o}",
										"accessor", "",
										"display_name", psprintf("jwt-%s", subject ? subject : ""),
										"expire_time", expire[0] ? json_string(expire) : json_null(),
										"ttl", (json_int_t) ttl,
										"policies", principal_array(principals),
										"renewable", 0,
										"type", "service",
										"meta", json_null())));
}

static void
login_answer(PsHttpRequest *req, List *principals)
{
	char		expire[32];
	long long	ttl = seconds_left(req->vault_jwt, expire, sizeof(expire));
	json_t	   *policies = principal_array(principals);

	ps_vault_answer(req, 200,
		   json_pack("{s:s, s:s, s:b, s:i, s:n, s:n, s:n, s:{s:s, s:s, s:O, s:O, s:I, s:b, s:s}}",
					 "request_id", req->request_id, "lease_id", "",
					 "renewable", 0, "lease_duration", 0,
					 "data", "wrap_info", "warnings",
					 "auth",
					 "client_token", req->vault_jwt,
					 "accessor", "",
					 "policies", policies,
					 "token_policies", policies,
					 "lease_duration", (json_int_t) ttl,
					 "renewable", 0,
					 "token_type", "service"));
	json_decref(policies);
}

/*
 * The audit event of a login: "auth.login", outcome ok (in the request's
 * transaction, committed before the answer leaves) or denied (durable, as
 * access.denied; detail = the verifier's reason, which never quotes the
 * token).
 */
static void
login_audit(const char *outcome, const char *detail)
{
	PsAuditEvent ev = {0};

	ev.action = "auth.login";
	ev.outcome = outcome;
	ev.count = 1;
	ev.detail = detail;
	ps_audit_record(&ev, strcmp(outcome, "ok") != 0);
}

void
ps_vault_login(PsHttpRequest *req)
{
	char	   *subject = NULL;
	List	   *volatile principals = NIL;
	char	   *volatile reason = NULL;
	MemoryContext cxt = CurrentMemoryContext;

	PG_TRY();
	{
		principals = ps_token_authenticate(req->vault_jwt, &subject);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		if (edata->sqlerrcode != ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION)
			PG_RE_THROW();
		FlushErrorState();
		reason = pstrdup(edata->message ? edata->message : "token rejected");
	}
	PG_END_TRY();
	if (reason != NULL)
	{
		login_audit("denied", reason);
		ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
						errmsg("permission denied")));
	}
	ps_authz_set_token_principals(principals, true);
	login_audit("ok", "jwt");
	login_answer(req, principals);
}
