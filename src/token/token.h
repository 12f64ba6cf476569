/*
 * token.h: bearer tokens in the server: the verification both channels use
 * (the SQL function provsecret.authenticate and the REST worker).  Settings:
 * token_settings.h; keys: jwks_cache.h.
 */
#ifndef PROVSECRET_TOKEN_H
#define PROVSECRET_TOKEN_H

#include "postgres.h"

#include "nodes/pg_list.h"

/*
 * Verify a bearer token (a leading "Bearer " is accepted) against the
 * configured issuer, audience, algorithms and JWKS.  Returns the principals
 * it carries, palloc'd in CurrentMemoryContext: "user:<sub>",
 * "client:<azp>", "role:<realm role>", "group:<group>"; *subject is the
 * token's "sub".  It does not install them: callers pass them to
 * ps_authz_set_token_principals() (core/principal.h).
 *
 * Errors, never quoting the token:
 *   28000 (invalid_authorization_specification) the token is rejected
 *   55000 (object_not_in_prerequisite_state) issuer, audience or JWKS
 *         source not configured
 *   58030 (io_error) the JWKS could not be read or fetched
 */
extern List *ps_token_authenticate(const char *bearer, char **subject);

/*
 * The principals of a token this process has verified before, when its
 * verified-token cache still holds it and the key set is current; never
 * raises an error and never loads keys: false means "verify it with
 * ps_token_authenticate".
 */
extern bool ps_token_cached_principals(const char *bearer, List **principals);

/*
 * An OpenID Connect ID token (the settings pages' sign-in): verified as
 * above against the same issuer, JWKS, algorithms and leeway, but for the
 * audience client_id, and its "nonce" must equal nonce.  Returns its "sub"
 * (palloc'd).  Errors as above; never cached.
 */
extern char *ps_token_verify_id_token(const char *token, const char *client_id,
									  const char *nonce);

#endif
