/*
 * jwt.c: verify a compact JWS access token against a JWKS and a policy.
 *
 * Everything about the token is attacker-controlled, including the header
 * that names the algorithm and the key: the algorithm must be in the
 * allowlist and must match the type of the key the kid selects, so a public
 * key can never be used as an HMAC secret, and "none" is never accepted.
 * Claims are parsed only after the signature has verified.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/ec.h>

#include "core/base64url.h"
#include "token/jwt.h"

#define MAX_LEEWAY	86400

static const struct
{
	const char *name;
	unsigned int bit;
	PsJwkType	key_type;
}			algorithms[] = {
	{"RS256", PS_JWT_ALG_RS256, PS_JWK_RSA},
	{"ES256", PS_JWT_ALG_ES256, PS_JWK_EC_P256},
	{"EdDSA", PS_JWT_ALG_EDDSA, PS_JWK_ED25519},
};

#define NUM_ALGORITHMS (sizeof(algorithms) / sizeof(algorithms[0]))

bool
ps_jwt_parse_algorithms(const char *list, unsigned int *mask)
{
	const char *p = list;

	*mask = 0;
	if (list == NULL)
		return false;
	while (*p)
	{
		const char *start;
		size_t		len;
		bool		known = false;

		while (*p == ' ' || *p == ',')
			p++;
		start = p;
		while (*p && *p != ',' && *p != ' ')
			p++;
		len = (size_t) (p - start);
		if (len == 0)
			continue;
		for (size_t i = 0; i < NUM_ALGORITHMS; i++)
		{
			if (strlen(algorithms[i].name) == len &&
				memcmp(algorithms[i].name, start, len) == 0)
			{
				*mask |= algorithms[i].bit;
				known = true;
			}
		}
		if (!known)
			return false;
	}
	return *mask != 0;
}

const char *
ps_jwt_status_message(PsJwtStatus status)
{
	switch (status)
	{
		case PS_JWT_OK:
			return "token verified";
		case PS_JWT_MISSING:
			return "no bearer token";
		case PS_JWT_TOO_LARGE:
			return "token is too large";
		case PS_JWT_MALFORMED:
			return "token is malformed";
		case PS_JWT_ALG_NOT_ALLOWED:
			return "token algorithm is not allowed";
		case PS_JWT_UNKNOWN_KID:
			return "token is signed with an unknown key";
		case PS_JWT_KEY_MISMATCH:
			return "token algorithm does not match its key";
		case PS_JWT_BAD_SIGNATURE:
			return "token signature is invalid";
		case PS_JWT_EXPIRED:
			return "token has expired";
		case PS_JWT_NOT_YET_VALID:
			return "token is not yet valid";
		case PS_JWT_WRONG_ISSUER:
			return "token issuer is not trusted";
		case PS_JWT_WRONG_AUDIENCE:
			return "token audience does not match";
		case PS_JWT_WRONG_TYPE:
			return "token is not an access token";
		case PS_JWT_BAD_CLAIMS:
			return "token claims are missing or invalid";
		case PS_JWT_NOT_CONFIGURED:
			return "token verification is not configured";
		case PS_JWT_NO_MEMORY:
			return "out of memory";
	}
	return "token rejected";
}

void
ps_jwt_identity_free(PsJwtIdentity *id)
{
	if (id == NULL)
		return;
	free(id->subject);
	free(id->client);
	free(id->nonce);
	for (size_t i = 0; i < id->nroles; i++)
		free(id->roles[i]);
	free(id->roles);
	for (size_t i = 0; i < id->ngroups; i++)
		free(id->groups[i]);
	free(id->groups);
	memset(id, 0, sizeof(*id));
}

/* A name we can turn into a principal: bounded, no control characters. */
static bool
valid_name(json_t *v)
{
	const unsigned char *s;
	size_t		len;

	if (!json_is_string(v))
		return false;
	s = (const unsigned char *) json_string_value(v);
	len = json_string_length(v);
	if (len == 0 || len > PS_JWT_MAX_NAME)
		return false;
	for (size_t i = 0; i < len; i++)
	{
		if (s[i] < 0x20 || s[i] == 0x7f)
			return false;
	}
	return true;
}

/* Copy the valid strings of a JSON array (anything else yields none). */
static bool
copy_names(json_t *array, char ***names, size_t *count)
{
	size_t		i;
	json_t	   *v;

	*names = NULL;
	*count = 0;
	if (!json_is_array(array) || json_array_size(array) == 0)
		return true;
	*names = calloc(json_array_size(array) < PS_JWT_MAX_LIST ?
					json_array_size(array) : PS_JWT_MAX_LIST, sizeof(char *));
	if (*names == NULL)
		return false;
	json_array_foreach(array, i, v)
	{
		if (*count >= PS_JWT_MAX_LIST)
			break;
		if (!valid_name(v))
			continue;
		(*names)[*count] = strdup(json_string_value(v));
		if ((*names)[*count] == NULL)
			return false;
		(*count)++;
	}
	return true;
}

/* A NumericDate claim; false when present with the wrong type or range. */
static bool
get_time(json_t *claims, const char *name, bool *present, int64_t *value)
{
	json_t	   *v = json_object_get(claims, name);

	*present = (v != NULL);
	if (v == NULL)
		return true;
	if (json_is_integer(v))
	{
		*value = (int64_t) json_integer_value(v);
		return true;
	}
	if (json_is_real(v))
	{
		double		d = json_real_value(v);

		if (!isfinite(d) || d > 1e15 || d < -1e15)
			return false;
		*value = (int64_t) floor(d);
		return true;
	}
	return false;
}

static bool
audience_matches(json_t *claims, const char *audience)
{
	json_t	   *aud = json_object_get(claims, "aud");
	json_t	   *azp = json_object_get(claims, "azp");
	size_t		i;
	json_t	   *v;

	if (json_is_string(aud) && strcmp(json_string_value(aud), audience) == 0)
		return true;
	if (json_is_array(aud))
	{
		json_array_foreach(aud, i, v)
		{
			if (json_is_string(v) && strcmp(json_string_value(v), audience) == 0)
				return true;
		}
	}
	return json_is_string(azp) && strcmp(json_string_value(azp), audience) == 0;
}

PsJwtStatus
ps_jwt_check_claims(const char *payload, size_t len, const PsJwtPolicy *policy,
					int64_t now, PsJwtIdentity *out)
{
	json_error_t jerr;
	json_t	   *claims;
	json_t	   *v;
	int64_t		leeway = policy->leeway;
	int64_t		exp = 0,
				nbf = 0,
				iat = 0;
	bool		has_exp,
				has_nbf,
				has_iat;
	PsJwtStatus status = PS_JWT_OK;

	memset(out, 0, sizeof(*out));
	if (leeway < 0)
		leeway = 0;
	if (leeway > MAX_LEEWAY)
		leeway = MAX_LEEWAY;
	claims = json_loadb(payload, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(claims))
	{
		json_decref(claims);
		return PS_JWT_MALFORMED;
	}

	if (!get_time(claims, "exp", &has_exp, &exp) ||
		!get_time(claims, "nbf", &has_nbf, &nbf) ||
		!get_time(claims, "iat", &has_iat, &iat) || !has_exp)
		status = PS_JWT_BAD_CLAIMS;
	else if (now - leeway >= exp)
		status = PS_JWT_EXPIRED;
	else if ((has_nbf && nbf > now + leeway) || (has_iat && iat > now + leeway))
		status = PS_JWT_NOT_YET_VALID;
	else if (!json_is_string(json_object_get(claims, "iss")) ||
			 strcmp(json_string_value(json_object_get(claims, "iss")),
					policy->issuer) != 0)
		status = PS_JWT_WRONG_ISSUER;
	else if (!audience_matches(claims, policy->audience))
		status = PS_JWT_WRONG_AUDIENCE;
	else if ((v = json_object_get(claims, "typ")) != NULL &&
			 (!json_is_string(v) || strcmp(json_string_value(v), "Bearer") != 0))
		status = PS_JWT_WRONG_TYPE;
	else if (!valid_name(json_object_get(claims, "sub")) ||
			 ((v = json_object_get(claims, "azp")) != NULL && !valid_name(v)))
		status = PS_JWT_BAD_CLAIMS;

	if (status == PS_JWT_OK)
	{
		json_t	   *realm = json_object_get(claims, "realm_access");

		out->expires_at = exp;
		out->subject = strdup(json_string_value(json_object_get(claims, "sub")));
		if ((v = json_object_get(claims, "azp")) != NULL)
			out->client = strdup(json_string_value(v));
		if (out->subject == NULL || (v != NULL && out->client == NULL))
			status = PS_JWT_NO_MEMORY;
		else if ((v = json_object_get(claims, "nonce")) != NULL && valid_name(v) &&
				 (out->nonce = strdup(json_string_value(v))) == NULL)
			status = PS_JWT_NO_MEMORY;
		else if (!copy_names(json_is_object(realm) ? json_object_get(realm, "roles") : NULL,
							 &out->roles, &out->nroles) ||
				 !copy_names(json_object_get(claims, "groups"),
							 &out->groups, &out->ngroups))
			status = PS_JWT_NO_MEMORY;
	}
	if (status != PS_JWT_OK)
		ps_jwt_identity_free(out);
	json_decref(claims);
	return status;
}

/* ES256 signatures are JOSE's raw r||s; OpenSSL wants DER. */
static unsigned char *
ecdsa_raw_to_der(const unsigned char *sig, int *derlen)
{
	ECDSA_SIG  *es = ECDSA_SIG_new();
	BIGNUM	   *r = BN_bin2bn(sig, 32, NULL);
	BIGNUM	   *s = BN_bin2bn(sig + 32, 32, NULL);
	unsigned char *der = NULL;

	*derlen = 0;
	if (es == NULL || r == NULL || s == NULL || !ECDSA_SIG_set0(es, r, s))
	{
		BN_free(r);
		BN_free(s);
		ECDSA_SIG_free(es);
		return NULL;
	}
	*derlen = i2d_ECDSA_SIG(es, &der);
	ECDSA_SIG_free(es);			/* owns r and s now */
	if (*derlen <= 0)
	{
		OPENSSL_free(der);
		return NULL;
	}
	return der;
}

static bool
signature_valid(const PsJwk *key, const unsigned char *input, size_t inlen,
				const unsigned char *sig, size_t siglen)
{
	EVP_MD_CTX *md = NULL;
	unsigned char *der = NULL;
	const EVP_MD *digest = EVP_sha256();
	bool		ok = false;

	switch (key->type)
	{
		case PS_JWK_RSA:
			if (siglen != (size_t) EVP_PKEY_get_size(key->pkey))
				return false;
			break;
		case PS_JWK_EC_P256:
			{
				int			derlen;

				if (siglen != 64 || (der = ecdsa_raw_to_der(sig, &derlen)) == NULL)
					return false;
				sig = der;
				siglen = (size_t) derlen;
				break;
			}
		case PS_JWK_ED25519:
			if (siglen != 64)
				return false;
			digest = NULL;		/* EdDSA hashes internally */
			break;
	}
	md = EVP_MD_CTX_new();
	ok = md != NULL &&
		EVP_DigestVerifyInit(md, NULL, digest, NULL, key->pkey) == 1 &&
		EVP_DigestVerify(md, sig, siglen, input, inlen) == 1;
	EVP_MD_CTX_free(md);
	OPENSSL_free(der);
	return ok;
}

/* The key a token's header selects; status explains a NULL. */
static const PsJwk *
select_key(const PsJwks *jwks, json_t *kid, unsigned int alg_index,
		   PsJwtStatus *status)
{
	const PsJwk *key = NULL;

	if (kid != NULL)
	{
		if (!json_is_string(kid))
		{
			*status = PS_JWT_MALFORMED;
			return NULL;
		}
		key = ps_jwks_find(jwks, json_string_value(kid));
	}
	else
	{
		/* Without a kid, only an unambiguous key will do. */
		for (size_t i = 0; i < ps_jwks_count(jwks); i++)
		{
			const PsJwk *k = ps_jwks_key(jwks, i);

			if (k->type != algorithms[alg_index].key_type)
				continue;
			if (key != NULL)
			{
				key = NULL;
				break;
			}
			key = k;
		}
	}
	if (key == NULL)
		*status = PS_JWT_UNKNOWN_KID;
	else if (key->type != algorithms[alg_index].key_type ||
			 (key->alg && strcmp(key->alg, algorithms[alg_index].name) != 0))
	{
		*status = PS_JWT_KEY_MISMATCH;
		key = NULL;
	}
	return key;
}

/* Header checks: returns the algorithm's index in algorithms[] through *alg_index. */
static PsJwtStatus
check_header(json_t *header, unsigned int allowed, unsigned int *alg_index)
{
	json_t	   *alg = json_object_get(header, "alg");

	if (!json_is_string(alg))
		return PS_JWT_MALFORMED;
	for (unsigned int i = 0; i < NUM_ALGORITHMS; i++)
	{
		if (strcmp(json_string_value(alg), algorithms[i].name) == 0 &&
			(allowed & algorithms[i].bit) != 0)
		{
			*alg_index = i;
			/* We implement no JWS extension, so any "crit" is unmet (RFC 7515 §4.1.11). */
			if (json_object_get(header, "crit") != NULL)
				return PS_JWT_MALFORMED;
			return PS_JWT_OK;
		}
	}
	return PS_JWT_ALG_NOT_ALLOWED;
}

PsJwtStatus
ps_jwt_verify(const char *token, size_t len, const PsJwks *jwks,
			  const PsJwtPolicy *policy, int64_t now, PsJwtIdentity *out)
{
	const char *dot1,
			   *dot2;
	unsigned int allowed;
	unsigned int alg_index = 0;
	unsigned char *header_json = NULL,
			   *payload_json = NULL,
			   *sig = NULL;
	size_t		header_len,
				payload_len,
				sig_len;
	json_t	   *header = NULL;
	const PsJwk *key;
	PsJwtStatus status;

	memset(out, 0, sizeof(*out));
	if (policy == NULL || policy->issuer == NULL || policy->issuer[0] == '\0' ||
		policy->audience == NULL || policy->audience[0] == '\0' ||
		!ps_jwt_parse_algorithms(policy->algorithms, &allowed))
		return PS_JWT_NOT_CONFIGURED;
	if (token == NULL || len == 0)
		return PS_JWT_MISSING;
	if (len > PS_JWT_MAX_TOKEN)
		return PS_JWT_TOO_LARGE;

	/* Exactly three segments; a NUL anywhere is malformed, not a terminator. */
	dot1 = memchr(token, '.', len);
	dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t) (dot1 + 1 - token)) : NULL;
	if (dot1 == NULL || dot2 == NULL ||
		memchr(dot2 + 1, '.', len - (size_t) (dot2 + 1 - token)) != NULL ||
		dot1 == token || dot2 == dot1 + 1)
		return PS_JWT_MALFORMED;

	/* Every segment must decode before anything else is looked at. */
	header_json = ps_base64url_decode_alloc(token, (size_t) (dot1 - token), &header_len);
	payload_json = ps_base64url_decode_alloc(dot1 + 1, (size_t) (dot2 - dot1 - 1),
											 &payload_len);
	sig = ps_base64url_decode_alloc(dot2 + 1, len - (size_t) (dot2 + 1 - token), &sig_len);
	if (header_json == NULL || payload_json == NULL || sig == NULL)
	{
		status = PS_JWT_MALFORMED;
		goto done;
	}
	header = json_loadb((const char *) header_json, header_len,
						JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(header))
	{
		status = PS_JWT_MALFORMED;
		goto done;
	}
	if ((status = check_header(header, allowed, &alg_index)) != PS_JWT_OK)
		goto done;
	if ((key = select_key(jwks, json_object_get(header, "kid"), alg_index,
						  &status)) == NULL)
		goto done;

	if (sig_len == 0)
	{
		status = PS_JWT_MALFORMED;
		goto done;
	}
	/* The signing input is the first two segments exactly as sent. */
	if (!signature_valid(key, (const unsigned char *) token,
						 (size_t) (dot2 - token), sig, sig_len))
	{
		status = PS_JWT_BAD_SIGNATURE;
		goto done;
	}
	status = ps_jwt_check_claims((const char *) payload_json, payload_len,
								 policy, now, out);
done:
	json_decref(header);
	free(header_json);
	free(payload_json);
	free(sig);
	return status;
}
