/*
 * fuzz_jwks.c: libFuzzer target over the JWKS parser (src/token/jwks.c), which
 * reads a document fetched from the identity provider.
 *
 * Sources: src/token/jwks.c src/core/base64url.c src/token/jwt.c
 * Libs: -lcrypto -ljansson -lm
 *
 * The input is a JWKS document.  Properties: a rejection has a message; a
 * parsed set holds at most PS_JWKS_MAX_KEYS keys, each with a public key of
 * a supported type, when pinned the alg that type verifies, and a kid
 * (when present) of at most PS_JWKS_MAX_KID bytes that ps_jwks_find and
 * ps_jwks_has_kid agree on; a token naming a key whose signature is zeros
 * never verifies.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fuzz_encode.h"
#include "token/jwks.h"
#include "token/jwt.h"

static const PsJwtPolicy policy = {"iss", "aud", "RS256,ES256,EdDSA", 30};

/* base64url of JSON text; malloc'd. */
static char *
encode_json(json_t *o)
{
	char	   *text = json_dumps(o, JSON_COMPACT);
	char	   *out = malloc(fuzz_b64url_room(strlen(text)) + 1);

	out[fuzz_b64url_encode((const uint8_t *) text, strlen(text), out)] = '\0';
	free(text);
	json_decref(o);
	return out;
}

/* A token naming this key whose signature is zeros never verifies. */
static void
check_forged(const PsJwks *jwks, const PsJwk *key)
{
	static const char *const algs[] = {"RS256", "ES256", "EdDSA"};
	static const char zeros[] =
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
	char	   *payload = encode_json(json_pack("{s:s, s:s, s:s, s:I}", "sub", "s",
												"iss", policy.issuer, "aud",
												policy.audience, "exp", (json_int_t) 9999999999));

	for (int i = 0; i < 3; i++)
	{
		char	   *header = encode_json(key->kid ?
										 json_pack("{s:s, s:s}", "alg", algs[i], "kid", key->kid) :
										 json_pack("{s:s}", "alg", algs[i]));
		size_t		len = strlen(header) + strlen(payload) + sizeof(zeros) + 2;
		char	   *tok = malloc(len);
		PsJwtIdentity id;

		snprintf(tok, len, "%s.%s.%s", header, payload, zeros);
		if (ps_jwt_verify(tok, strlen(tok), jwks, &policy, 0, &id) == PS_JWT_OK)
			abort();
		free(tok);
		free(header);
	}
	free(payload);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *doc = malloc(size ? size : 1);
	char		err[256] = "";
	PsJwks	   *jwks;

	memcpy(doc, data, size);
	jwks = ps_jwks_parse(doc, size, err, sizeof(err));
	if (jwks == NULL)
	{
		if (err[0] == '\0' || strnlen(err, sizeof(err)) == sizeof(err))
			abort();
	}
	else
	{
		size_t		n = ps_jwks_count(jwks);

		if (size > PS_JWKS_MAX_BYTES || n > PS_JWKS_MAX_KEYS)
			abort();
		for (size_t i = 0; i < n; i++)
		{
			const PsJwk *key = ps_jwks_key(jwks, i);

			if (key == NULL || key->pkey == NULL ||
				(key->type != PS_JWK_RSA && key->type != PS_JWK_EC_P256 &&
				 key->type != PS_JWK_ED25519))
				abort();
			/* a pinned alg is the one the key type verifies */
			if (key->alg != NULL &&
				strcmp(key->alg, key->type == PS_JWK_RSA ? "RS256" :
					   key->type == PS_JWK_EC_P256 ? "ES256" : "EdDSA") != 0)
				abort();
			if (key->kid != NULL)
			{
				const PsJwk *found;

				if (strlen(key->kid) > PS_JWKS_MAX_KID ||
					!ps_jwks_has_kid(jwks, key->kid))
					abort();
				/* find returns the first key with this kid */
				found = ps_jwks_find(jwks, key->kid);
				if (found == NULL || strcmp(found->kid, key->kid) != 0)
					abort();
			}
			check_forged(jwks, key);
		}
		if (ps_jwks_key(jwks, n) != NULL)
			abort();
		ps_jwks_free(jwks);
	}
	free(doc);
	return 0;
}
