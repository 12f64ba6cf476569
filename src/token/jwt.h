/*
 * jwt.h: verification of Keycloak access tokens (compact JWS, RFC 7515/7519).
 *
 * Pure C (no postgres.h): the token is hostile input, so the verifier is a
 * function over bytes that is unit-tested and fuzzed outside a server.  The
 * PostgreSQL side (GUCs, JWKS cache, principals) is token.c.
 *
 * What is checked, in order: size and shape; header JSON; "alg" in the
 * policy's allowlist and one we implement (RS256, ES256, EdDSA: never
 * "none", never HMAC); the key chosen by "kid" and of the type "alg" needs;
 * the signature (OpenSSL EVP); then the claims: "iss" exactly, "aud"
 * (string or array) or "azp" equal to the audience, "exp" required, "nbf"
 * and "iat" with leeway, "typ" equal to "Bearer" when present, "sub".
 */
#ifndef PROVSECRET_JWT_H
#define PROVSECRET_JWT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "token/jwks.h"

#define PS_JWT_MAX_TOKEN		(16 * 1024)
#define PS_JWT_MAX_LIST			256 /* roles or groups kept */
#define PS_JWT_MAX_NAME			256 /* bytes of sub, azp, a role, a group */

/* Bits of an algorithm allowlist. */
#define PS_JWT_ALG_RS256		0x01
#define PS_JWT_ALG_ES256		0x02
#define PS_JWT_ALG_EDDSA		0x04

typedef enum PsJwtStatus
{
	PS_JWT_OK = 0,
	PS_JWT_MISSING,				/* empty token */
	PS_JWT_TOO_LARGE,
	PS_JWT_MALFORMED,			/* not three base64url segments of JSON */
	PS_JWT_ALG_NOT_ALLOWED,		/* none, HS*, or not in the allowlist */
	PS_JWT_UNKNOWN_KID,			/* no such key: the caller may refetch the JWKS */
	PS_JWT_KEY_MISMATCH,		/* the kid's key is not of the type alg needs */
	PS_JWT_BAD_SIGNATURE,
	PS_JWT_EXPIRED,
	PS_JWT_NOT_YET_VALID,		/* nbf or iat in the future */
	PS_JWT_WRONG_ISSUER,
	PS_JWT_WRONG_AUDIENCE,
	PS_JWT_WRONG_TYPE,			/* typ present and not "Bearer" */
	PS_JWT_BAD_CLAIMS,			/* exp or sub missing, claims of the wrong type */
	PS_JWT_NOT_CONFIGURED,		/* policy lacks issuer, audience or algorithms */
	PS_JWT_NO_MEMORY
} PsJwtStatus;

typedef struct PsJwtPolicy
{
	const char *issuer;			/* exact "iss" */
	const char *audience;		/* in "aud", or equal to "azp" */
	const char *algorithms;		/* allowlist, e.g. "RS256,ES256,EdDSA" */
	int64_t		leeway;			/* seconds of clock skew tolerated */
} PsJwtPolicy;

/* What a verified token says about its bearer; every string is malloc'd. */
typedef struct PsJwtIdentity
{
	char	   *subject;		/* "sub" */
	char	   *client;			/* "azp", or NULL */
	char	  **roles;			/* realm_access.roles (strings only, bounded) */
	size_t		nroles;
	char	  **groups;			/* "groups" (strings only, bounded) */
	size_t		ngroups;
	int64_t		expires_at;		/* "exp" */
	char	   *nonce;			/* "nonce" of an ID token, or NULL */
} PsJwtIdentity;

/*
 * Parse an allowlist such as "RS256, ES256,EdDSA" into PS_JWT_ALG_* bits.
 * False when a name is unknown or unsupported (none, HS256, ...) or the list
 * is empty, so a GUC check hook can refuse it.
 */
extern bool ps_jwt_parse_algorithms(const char *list, unsigned int *mask);

/*
 * Verify a compact JWS of len bytes (need not be NUL-terminated) at time now
 * (seconds since the epoch).  On PS_JWT_OK, *out holds the identity (free it
 * with ps_jwt_identity_free); otherwise *out is zeroed.
 */
extern PsJwtStatus ps_jwt_verify(const char *token, size_t len,
								 const PsJwks *jwks, const PsJwtPolicy *policy,
								 int64_t now, PsJwtIdentity *out);

/*
 * The claims checks alone, on a payload JSON whose signature has been
 * verified; exported for the unit tests and the fuzzer.
 */
extern PsJwtStatus ps_jwt_check_claims(const char *payload, size_t len,
									   const PsJwtPolicy *policy, int64_t now,
									   PsJwtIdentity *out);

extern void ps_jwt_identity_free(PsJwtIdentity *id);

/* A short English reason, safe to show a client: it never quotes the token. */
extern const char *ps_jwt_status_message(PsJwtStatus status);

#endif
