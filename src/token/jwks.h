/*
 * jwks.h: a JSON Web Key Set (RFC 7517) turned into OpenSSL public keys.
 *
 * Pure C (no postgres.h): the document comes from the network, so it is
 * parsed by a function that can be unit-tested and fuzzed on its own.
 * Supported keys: RSA (n, e; 2048 to 8192 bits), EC P-256 (x, y) and OKP
 * Ed25519 (x).  Keys of any other type or curve, keys whose "use" is not
 * "sig", and keys whose "alg" we do not verify are skipped, not errors.
 */
#ifndef PROVSECRET_JWKS_H
#define PROVSECRET_JWKS_H

#include <stdbool.h>
#include <stddef.h>
#include <openssl/evp.h>

/* Caps on what a JWKS document may hold. */
#define PS_JWKS_MAX_BYTES	(256 * 1024)
#define PS_JWKS_MAX_KEYS	64
#define PS_JWKS_MAX_KID		256

typedef enum PsJwkType
{
	PS_JWK_RSA,					/* verifies RS256 */
	PS_JWK_EC_P256,				/* verifies ES256 */
	PS_JWK_ED25519				/* verifies EdDSA */
} PsJwkType;

typedef struct PsJwk
{
	char	   *kid;			/* NULL when the key has none */
	char	   *alg;			/* NULL when the key does not pin one */
	PsJwkType	type;
	EVP_PKEY   *pkey;
} PsJwk;

typedef struct PsJwks PsJwks;

/*
 * Parse a JWKS document of len bytes (need not be NUL-terminated).  Returns
 * NULL with a message in err (never quoting key material) when the document
 * is not a JWKS at all; a JWKS whose keys were all skipped is returned with
 * no keys.
 */
extern PsJwks *ps_jwks_parse(const char *json, size_t len,
							 char *err, size_t errlen);
extern void ps_jwks_free(PsJwks *jwks);

extern size_t ps_jwks_count(const PsJwks *jwks);
extern const PsJwk *ps_jwks_key(const PsJwks *jwks, size_t i);
extern bool ps_jwks_has_kid(const PsJwks *jwks, const char *kid);

/* The key with this kid, or NULL. */
extern const PsJwk *ps_jwks_find(const PsJwks *jwks, const char *kid);

#endif
