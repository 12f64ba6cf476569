/*
 * vault_auth.h: the Vault dialect's tokens and auth routes (vault_auth.c).
 */
#ifndef PROVSECRET_VAULT_AUTH_H
#define PROVSECRET_VAULT_AUTH_H

#include "postgres.h"

#include "nodes/pg_list.h"

#include "rest/http_request.h"

/* The token the client sent (X-Vault-Token, or Bearer), or NULL; no error. */
extern const char *ps_vault_token_or_null(PsHttpRequest *req);

/* The token the client sent; Vault's 403 when Authorization is not Bearer. */
extern const char *ps_vault_client_token(PsHttpRequest *req);

/*
 * Verify a token: its principals (and *subject), or Vault's 403 "permission
 * denied" (the verifier's message never quotes the token).
 */
extern List *ps_vault_verify(const char *token, char **subject);

/* GET auth/token/lookup-self for a verified token. */
extern void ps_vault_lookup_self(PsHttpRequest *req, const char *token,
								 List *principals, const char *subject);

/*
 * PUT/POST auth/jwt/login: verify req->vault_jwt, audit auth.login (ok, or
 * denied as anonymous with the verifier's reason, durably), answer the JWT
 * back as the client token.
 */
extern void ps_vault_login(PsHttpRequest *req);

#endif
