/*
 * token.c: bearer tokens in the server.
 *
 * The one verification both channels use
 * (ps_token_authenticate: the REST worker per request, provsecret.authenticate
 * for SQL callers), and the mapping from a verified token to principals.
 * The verifier itself is the pure jwt.c; the keys come from jwks_cache.c.
 *
 * A token is a credential: no message here quotes it, and errhidestmt
 * keeps the statement that carried it out of the server log.
 */
#include "postgres.h"

#include <time.h>

#include "fmgr.h"
#include "utils/builtins.h"

#include "core/principal.h"
#include "core/provsecret.h"
#include "core/redact.h"
#include "token/jwks_cache.h"
#include "token/jwt.h"
#include "token/token.h"
#include "token/token_cache.h"
#include "token/token_settings.h"

/* "Bearer <token>" or the bare token. */
static const char *
strip_scheme(const char *bearer)
{
	if (pg_strncasecmp(bearer, "Bearer ", 7) == 0)
	{
		bearer += 7;
		while (*bearer == ' ')
			bearer++;
	}
	return bearer;
}

/* The principals of a verified identity; id is malloc'd: freed on error. */
static List *
principals_of(PsJwtIdentity *id, char **subject)
{
	List	   *principals = NIL;

	PG_TRY();
	{
		*subject = pstrdup(id->subject);
		principals = lappend(principals, psprintf("user:%s", id->subject));
		if (id->client)
			principals = lappend(principals, psprintf("client:%s", id->client));
		for (size_t i = 0; i < id->nroles; i++)
			principals = lappend(principals, psprintf("role:%s", id->roles[i]));
		for (size_t i = 0; i < id->ngroups; i++)
			principals = lappend(principals, psprintf("group:%s", id->groups[i]));
	}
	PG_CATCH();
	{
		ps_jwt_identity_free(id);
		PG_RE_THROW();
	}
	PG_END_TRY();
	return principals;
}

/* What a verified token stays valid for: this key set and these settings. */
static uint64
verifier_epoch(uint32 jwks_generation)
{
	return ((uint64) jwks_generation << 32) | ps_token_settings_generation();
}

static bool
verifier_configured(void)
{
	return ps_jwt_issuer != NULL && ps_jwt_issuer[0] != '\0' &&
		ps_jwt_audience != NULL && ps_jwt_audience[0] != '\0';
}

bool
ps_token_cached_principals(const char *bearer, List **principals)
{
	const char *token = strip_scheme(bearer);
	uint32		generation;
	char	   *subject;

	if (!verifier_configured() || !ps_jwks_cache_usable(&generation))
		return false;
	return ps_token_cache_lookup(token, strlen(token), verifier_epoch(generation),
								 (int64) time(NULL), ps_jwt_leeway,
								 principals, &subject);
}

static List *
verify_bearer(const char *bearer, char **subject)
{
	const char *token = strip_scheme(bearer);
	size_t		len = strlen(token);
	PsJwtPolicy policy;
	const PsJwks *jwks;
	PsJwtIdentity id;
	PsJwtStatus status;
	List	   *principals = NIL;
	int64		now;
	int64		expires_at;
	uint64		epoch;

	if (!verifier_configured())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("bearer tokens are not configured"),
				 errhint("Set provsecret.jwt_issuer and provsecret.jwt_audience."),
				 errhidestmt(true)));
	policy.issuer = ps_jwt_issuer;
	policy.audience = ps_jwt_audience;
	policy.algorithms = ps_jwt_algorithms;
	policy.leeway = ps_jwt_leeway;

	jwks = ps_jwks_cache_get(false);
	now = (int64) time(NULL);
	epoch = verifier_epoch(ps_jwks_cache_generation());
	if (ps_token_cache_lookup(token, len, epoch, now, ps_jwt_leeway,
							  &principals, subject))
		return principals;
	status = ps_jwt_verify(token, len, jwks, &policy, now, &id);
	if (status == PS_JWT_UNKNOWN_KID)
	{
		/* Perhaps the issuer rotated its keys: one rate-limited refetch. */
		const PsJwks *fresh = ps_jwks_cache_get(true);

		if (fresh != jwks)
			status = ps_jwt_verify(token, len, fresh, &policy, now, &id);
		epoch = verifier_epoch(ps_jwks_cache_generation());
	}
	if (status != PS_JWT_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("bearer token rejected: %s", ps_jwt_status_message(status)),
				 errhidestmt(true)));

	principals = principals_of(&id, subject);
	expires_at = id.expires_at;
	/* freed before storing, which may fail: the claims are malloc'd */
	ps_jwt_identity_free(&id);
	ps_token_cache_store(token, len, epoch, expires_at, *subject, principals);
	return principals;
}

List *
ps_token_authenticate(const char *bearer, char **subject)
{
	MemoryContext caller = CurrentMemoryContext;
	List	   *volatile principals = NIL;

	/*
	 * Whatever fails while the token is in hand (a rejection, the JWKS fetch,
	 * a statement timeout), the statement carrying the token stays out of the
	 * log.
	 */
	PG_TRY();
	{
		principals = verify_bearer(bearer, subject);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(caller);
		edata = CopyErrorData();
		FlushErrorState();
		edata->hide_stmt = true;
		ReThrowError(edata);
	}
	PG_END_TRY();
	return principals;
}

char *
ps_token_verify_id_token(const char *token, const char *client_id,
						 const char *nonce)
{
	PsJwtPolicy policy;
	const PsJwks *jwks;
	PsJwtIdentity id;
	PsJwtStatus status;
	char	   *subject;
	bool		nonce_ok;

	if (ps_jwt_issuer == NULL || ps_jwt_issuer[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("bearer tokens are not configured"),
				 errhint("Set provsecret.jwt_issuer and provsecret.jwt_audience.")));
	policy.issuer = ps_jwt_issuer;
	policy.audience = client_id;
	policy.algorithms = ps_jwt_algorithms;
	policy.leeway = ps_jwt_leeway;
	jwks = ps_jwks_cache_get(false);
	status = ps_jwt_verify(token, strlen(token), jwks, &policy,
						   (int64) time(NULL), &id);
	if (status == PS_JWT_UNKNOWN_KID)
	{
		const PsJwks *fresh = ps_jwks_cache_get(true);

		if (fresh != jwks)
			status = ps_jwt_verify(token, strlen(token), fresh, &policy,
								   (int64) time(NULL), &id);
	}
	if (status != PS_JWT_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("ID token rejected: %s", ps_jwt_status_message(status))));
	nonce_ok = id.nonce != NULL && strcmp(id.nonce, nonce) == 0;
	subject = pstrdup(id.subject);
	ps_jwt_identity_free(&id);
	if (!nonce_ok)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("ID token rejected: the nonce does not match the sign-in")));
	return subject;
}

PG_FUNCTION_INFO_V1(ps_authenticate);

/*
 * provsecret.authenticate(bearer_token text) returns text: verify, install
 * the token's principals for the rest of the transaction, return the subject.
 */
Datum
ps_authenticate(PG_FUNCTION_ARGS)
{
	char	   *token;
	char	   *subject;
	List	   *volatile principals = NIL;

	ps_redact_activity();
	token = text_to_cstring(PG_GETARG_TEXT_PP(0));

	/* A failed call must not leave an earlier token's principals in force. */
	ps_authz_set_token_principals(NIL, false);
	PG_TRY();
	{
		principals = ps_token_authenticate(token, &subject);
	}
	PG_FINALLY();
	{
		/* a rejected token may still be a live credential */
		explicit_bzero(token, strlen(token));
	}
	PG_END_TRY();
	ps_authz_set_token_principals(principals, false);
	PG_RETURN_TEXT_P(cstring_to_text(subject));
}
