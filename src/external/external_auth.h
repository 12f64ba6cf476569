/*
 * external_auth.h: the credential an external resolver presents.
 *
 * Usually the value of its auth_reference.  An infisical resolver with the
 * option client_id uses universal-auth instead: auth_reference names the
 * client secret, and the resolver logs in (POST {base_url}/api/v1/auth/
 * universal-auth/login) for an access token, kept per process in locked
 * memory (sodium_malloc) until shortly before it expires.
 */
#ifndef PROVSECRET_EXTERNAL_AUTH_H
#define PROVSECRET_EXTERNAL_AUTH_H

#include "postgres.h"

#include "external/external_call.h"

/*
 * The token to send for call's resolver, palloc'd (the caller wipes it), or
 * NULL when the resolver has no auth_reference.  *cached is true when it is
 * a universal-auth access token from the cache; with fresh, the cache is
 * skipped and a new login made.  Raises 58030 (audited) when the
 * auth_reference names no secret or the login fails.
 */
extern char *ps_external_token(const PsExternalCall *call, bool fresh,
							   Size *len, bool *cached);

/* Forget the cached access token of a resolver (it was refused). */
extern void ps_external_token_forget(const PsResolver *r);

#endif
