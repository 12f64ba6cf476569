/*
 * jwks.c: parse a JSON Web Key Set into OpenSSL public keys.
 *
 * The document is hostile input (it crosses the network, or a file an
 * operator may get wrong): every member is type-checked, sizes are capped,
 * and a key we cannot use is skipped rather than failing the whole set, so
 * one exotic key in Keycloak's JWKS (RSA-OAEP for encryption, say) does not
 * stop tokens signed with the others from verifying.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/param_build.h>

#include "core/base64url.h"
#include "token/jwks.h"

struct PsJwks
{
	size_t		nkeys;
	PsJwk		keys[PS_JWKS_MAX_KEYS];
};

/* Decoded base64url member of a JWK, or NULL (missing, wrong type, bad encoding, too long). */
static unsigned char *
jwk_bytes(json_t *jwk, const char *member, size_t maxlen, size_t *len)
{
	json_t	   *v = json_object_get(jwk, member);
	const char *s;
	size_t		slen;
	unsigned char *out;

	if (!json_is_string(v))
		return NULL;
	s = json_string_value(v);
	slen = json_string_length(v);
	if (slen == 0 || slen > (maxlen / 3 + 1) * 4)
		return NULL;
	out = ps_base64url_decode_alloc(s, slen, len);
	if (out != NULL && *len > maxlen)
	{
		free(out);
		return NULL;
	}
	return out;
}

/* Optional string member: true when absent or equal to want. */
static bool
member_absent_or(json_t *jwk, const char *member, const char *want)
{
	json_t	   *v = json_object_get(jwk, member);

	if (v == NULL)
		return true;
	return json_is_string(v) && strcmp(json_string_value(v), want) == 0;
}

static EVP_PKEY *
pkey_from_params(const char *keytype, OSSL_PARAM_BLD *bld)
{
	OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY   *pkey = NULL;

	if (params == NULL)
		return NULL;
	ctx = EVP_PKEY_CTX_new_from_name(NULL, keytype, NULL);
	if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) <= 0 ||
		EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0)
		pkey = NULL;
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	return pkey;
}

static EVP_PKEY *
rsa_key(json_t *jwk)
{
	size_t		nlen = 0,
				elen = 0;
	unsigned char *n = jwk_bytes(jwk, "n", 8192 / 8 + 1, &nlen);
	unsigned char *e = jwk_bytes(jwk, "e", 8, &elen);
	BIGNUM	   *bn_n = NULL,
			   *bn_e = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	EVP_PKEY   *pkey = NULL;

	if (n == NULL || e == NULL)
		goto done;
	bn_n = BN_bin2bn(n, (int) nlen, NULL);
	bn_e = BN_bin2bn(e, (int) elen, NULL);
	if (bn_n == NULL || bn_e == NULL)
		goto done;
	/* Small moduli are forgeable; e = 1 makes every message its own signature. */
	if (BN_num_bits(bn_n) < 2048 || BN_num_bits(bn_n) > 8192 ||
		!BN_is_odd(bn_n) || !BN_is_odd(bn_e) || BN_num_bits(bn_e) < 2)
		goto done;
	bld = OSSL_PARAM_BLD_new();
	if (bld == NULL ||
		!OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) ||
		!OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e))
		goto done;
	pkey = pkey_from_params("RSA", bld);
done:
	OSSL_PARAM_BLD_free(bld);
	BN_free(bn_n);
	BN_free(bn_e);
	free(n);
	free(e);
	return pkey;
}

static EVP_PKEY *
ec_p256_key(json_t *jwk)
{
	size_t		xlen = 0,
				ylen = 0;
	unsigned char *x = jwk_bytes(jwk, "x", 32, &xlen);
	unsigned char *y = jwk_bytes(jwk, "y", 32, &ylen);
	unsigned char point[65];
	OSSL_PARAM_BLD *bld = NULL;
	EVP_PKEY   *pkey = NULL;
	EVP_PKEY_CTX *check = NULL;

	/* RFC 7518 §6.2.1.2: coordinates are always the full 32 bytes. */
	if (x == NULL || y == NULL || xlen != 32 || ylen != 32)
		goto done;
	point[0] = 0x04;			/* uncompressed point */
	memcpy(point + 1, x, 32);
	memcpy(point + 33, y, 32);
	bld = OSSL_PARAM_BLD_new();
	if (bld == NULL ||
		!OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
										 "prime256v1", 0) ||
		!OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY,
										  point, sizeof(point)))
		goto done;
	pkey = pkey_from_params("EC", bld);
	/* A point off the curve invites invalid-curve attacks. */
	if (pkey != NULL)
	{
		check = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
		if (check == NULL || EVP_PKEY_public_check(check) != 1)
		{
			EVP_PKEY_free(pkey);
			pkey = NULL;
		}
	}
done:
	EVP_PKEY_CTX_free(check);
	OSSL_PARAM_BLD_free(bld);
	free(x);
	free(y);
	return pkey;
}

static EVP_PKEY *
ed25519_key(json_t *jwk)
{
	size_t		xlen = 0;
	unsigned char *x = jwk_bytes(jwk, "x", 32, &xlen);
	EVP_PKEY   *pkey = NULL;

	if (x != NULL && xlen == 32)
		pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, x, 32);
	free(x);
	return pkey;
}

/* Does a "key_ops" member, when present, allow verification? */
static bool
key_ops_allow_verify(json_t *jwk)
{
	json_t	   *ops = json_object_get(jwk, "key_ops");
	size_t		i;
	json_t	   *op;

	if (ops == NULL)
		return true;
	if (!json_is_array(ops))
		return false;
	json_array_foreach(ops, i, op)
	{
		if (json_is_string(op) && strcmp(json_string_value(op), "verify") == 0)
			return true;
	}
	return false;
}

/* Fill *key from one JWK; false when the key is skipped. */
static bool
parse_one_key(const PsJwks *jwks, json_t *jwk, PsJwk *key)
{
	json_t	   *kty = json_object_get(jwk, "kty");
	json_t	   *kid = json_object_get(jwk, "kid");
	json_t	   *alg = json_object_get(jwk, "alg");
	const char *want_alg;
	const char *k;

	if (!json_is_object(jwk) || !json_is_string(kty))
		return false;
	if (!member_absent_or(jwk, "use", "sig") || !key_ops_allow_verify(jwk))
		return false;
	if (kid != NULL)
	{
		if (!json_is_string(kid) || json_string_length(kid) == 0 ||
			json_string_length(kid) > PS_JWKS_MAX_KID)
			return false;
		/* First key with a kid wins: a duplicate would make the choice ambiguous. */
		if (ps_jwks_find(jwks, json_string_value(kid)) != NULL)
			return false;
	}
	if (alg != NULL && !json_is_string(alg))
		return false;

	k = json_string_value(kty);
	if (strcmp(k, "RSA") == 0)
	{
		key->type = PS_JWK_RSA;
		want_alg = "RS256";
	}
	else if (strcmp(k, "EC") == 0 && member_absent_or(jwk, "crv", "P-256") &&
			 json_object_get(jwk, "crv") != NULL)
	{
		key->type = PS_JWK_EC_P256;
		want_alg = "ES256";
	}
	else if (strcmp(k, "OKP") == 0 && member_absent_or(jwk, "crv", "Ed25519") &&
			 json_object_get(jwk, "crv") != NULL)
	{
		key->type = PS_JWK_ED25519;
		want_alg = "EdDSA";
	}
	else
		return false;
	/* A key pinned to an algorithm we do not verify (RS512, RSA-OAEP, ...) is not ours. */
	if (alg != NULL && strcmp(json_string_value(alg), want_alg) != 0)
		return false;

	switch (key->type)
	{
		case PS_JWK_RSA:
			key->pkey = rsa_key(jwk);
			break;
		case PS_JWK_EC_P256:
			key->pkey = ec_p256_key(jwk);
			break;
		case PS_JWK_ED25519:
			key->pkey = ed25519_key(jwk);
			break;
	}
	if (key->pkey == NULL)
		return false;
	key->kid = kid ? strdup(json_string_value(kid)) : NULL;
	key->alg = alg ? strdup(want_alg) : NULL;
	if ((kid && key->kid == NULL) || (alg && key->alg == NULL))
	{
		EVP_PKEY_free(key->pkey);
		free(key->kid);
		free(key->alg);
		return false;
	}
	return true;
}

PsJwks *
ps_jwks_parse(const char *json, size_t len, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t	   *root;
	json_t	   *keys;
	json_t	   *jwk;
	size_t		i;
	PsJwks	   *jwks;

	if (len > PS_JWKS_MAX_BYTES)
	{
		snprintf(err, errlen, "JWKS document is larger than %d bytes",
				 PS_JWKS_MAX_BYTES);
		return NULL;
	}
	root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL)
	{
		/* jerr.text may quote the input; the position is enough. */
		snprintf(err, errlen, "JWKS document is not valid JSON (line %d, column %d)",
				 jerr.line, jerr.column);
		return NULL;
	}
	keys = json_object_get(root, "keys");
	if (!json_is_object(root) || !json_is_array(keys))
	{
		snprintf(err, errlen, "JWKS document has no \"keys\" array");
		json_decref(root);
		return NULL;
	}
	jwks = calloc(1, sizeof(PsJwks));
	if (jwks == NULL)
	{
		snprintf(err, errlen, "out of memory");
		json_decref(root);
		return NULL;
	}
	json_array_foreach(keys, i, jwk)
	{
		if (jwks->nkeys >= PS_JWKS_MAX_KEYS)
			break;
		if (parse_one_key(jwks, jwk, &jwks->keys[jwks->nkeys]))
			jwks->nkeys++;
		else
			memset(&jwks->keys[jwks->nkeys], 0, sizeof(PsJwk));
	}
	json_decref(root);
	return jwks;
}

void
ps_jwks_free(PsJwks *jwks)
{
	if (jwks == NULL)
		return;
	for (size_t i = 0; i < jwks->nkeys; i++)
	{
		EVP_PKEY_free(jwks->keys[i].pkey);
		free(jwks->keys[i].kid);
		free(jwks->keys[i].alg);
	}
	free(jwks);
}

size_t
ps_jwks_count(const PsJwks *jwks)
{
	return jwks ? jwks->nkeys : 0;
}

const PsJwk *
ps_jwks_key(const PsJwks *jwks, size_t i)
{
	return (jwks && i < jwks->nkeys) ? &jwks->keys[i] : NULL;
}

const PsJwk *
ps_jwks_find(const PsJwks *jwks, const char *kid)
{
	if (jwks == NULL || kid == NULL)
		return NULL;
	for (size_t i = 0; i < jwks->nkeys; i++)
	{
		if (jwks->keys[i].kid && strcmp(jwks->keys[i].kid, kid) == 0)
			return &jwks->keys[i];
	}
	return NULL;
}

bool
ps_jwks_has_kid(const PsJwks *jwks, const char *kid)
{
	return ps_jwks_find(jwks, kid) != NULL;
}
