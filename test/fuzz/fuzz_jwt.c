/*
 * fuzz_jwt.c: libFuzzer target over the token verifier (src/token/jwt.c).
 *
 * Sources: src/token/jwt.c src/token/jwks.c src/core/base64url.c
 * Libs: -lcrypto -ljansson -lm
 *
 * The first input byte picks the entry point, the rest is its input:
 *   0  ps_jwt_verify against the fixture JWKS: any status is a known one
 *      with a message, and an accepted token's identity is bounded
 *   1  ps_jwt_check_claims (the part only a validly signed token reaches):
 *      the same identity bounds
 *   2  tampering: the input is (offset, xor) byte pairs applied to a valid
 *      RS256 or EdDSA fixture token; a token that differs from the original
 *      must never verify
 *   3  ps_jwt_parse_algorithms: an accepted list sets only known bits
 *   4  a header: the second byte picks a valid fixture token, the rest is
 *      its new header (JSON, base64url-encoded here), so the fuzzer reaches
 *      alg, kid and typ handling; only the original header may verify
 * The JWKS parser has its own target, fuzz_jwks.c.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/base64url.h"
#include "fuzz_encode.h"
#include "token/jwks.h"
#include "token/jwt.h"

#define MAX_VALID 16

static PsJwks *fixture_jwks;
static char *valid_tokens[MAX_VALID];	/* RS256 and EdDSA, not malleable */
static int	nvalid;
static const PsJwtPolicy policy = {
	"http://127.0.0.1:55450/realms/test", "provsecret", "RS256,ES256,EdDSA", 30
};
static const int64_t now = 1750000000;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char		path[4096];
	const char *slash = strrchr(__FILE__, '/');
	json_t	   *fixture;
	json_t	   *c;
	size_t		i;
	char	   *doc;
	char		err[256];

	(void) argc;
	(void) argv;
	snprintf(path, sizeof(path), "%.*s../unit/fixtures/jwt_fixtures.json",
			 slash ? (int) (slash - __FILE__ + 1) : 0, __FILE__);
	fixture = json_load_file(path, 0, NULL);
	if (fixture == NULL)
	{
		fprintf(stderr, "cannot read %s\n", path);
		exit(2);
	}
	doc = json_dumps(json_object_get(fixture, "jwks"), 0);
	fixture_jwks = ps_jwks_parse(doc, strlen(doc), err, sizeof(err));
	free(doc);
	json_array_foreach(json_object_get(fixture, "cases"), i, c)
	{
		const char *tok = json_string_value(json_object_get(c, "token"));
		const char *dot = tok ? strchr(tok, '.') : NULL;
		unsigned char *header;
		size_t		hlen;
		PsJwtIdentity id;

		if (dot == NULL || nvalid == MAX_VALID ||
			ps_jwt_verify(tok, strlen(tok), fixture_jwks, &policy, now, &id) != PS_JWT_OK)
			continue;
		ps_jwt_identity_free(&id);
		header = ps_base64url_decode_alloc(tok, (size_t) (dot - tok), &hlen);
		/* ECDSA signatures are malleable (s and n - s): not for this property */
		if (header && strstr((char *) header, "ES256") == NULL)
			valid_tokens[nvalid++] = strdup(tok);
		free(header);
	}
	json_decref(fixture);
	if (fixture_jwks == NULL || nvalid == 0)
	{
		fprintf(stderr, "the fixture JWKS or its valid tokens do not load\n");
		exit(2);
	}
	return 0;
}

static void
check_identity(const PsJwtIdentity *id)
{
	if (id->subject == NULL || strlen(id->subject) > PS_JWT_MAX_NAME ||
		(id->client && strlen(id->client) > PS_JWT_MAX_NAME) ||
		id->nroles > PS_JWT_MAX_LIST || id->ngroups > PS_JWT_MAX_LIST ||
		(id->nroles > 0 && id->roles == NULL) ||
		(id->ngroups > 0 && id->groups == NULL))
		abort();
	for (size_t i = 0; i < id->nroles; i++)
		if (id->roles[i] == NULL || strlen(id->roles[i]) > PS_JWT_MAX_NAME)
			abort();
	for (size_t i = 0; i < id->ngroups; i++)
		if (id->groups[i] == NULL || strlen(id->groups[i]) > PS_JWT_MAX_NAME)
			abort();
}

static void
check_status(PsJwtStatus st, PsJwtIdentity *id)
{
	const char *msg = ps_jwt_status_message(st);

	if (st < PS_JWT_OK || st > PS_JWT_NO_MEMORY || msg == NULL || msg[0] == '\0')
		abort();
	if (st == PS_JWT_OK)
	{
		check_identity(id);
		ps_jwt_identity_free(id);
	}
}

static void
tamper(const uint8_t *data, size_t size)
{
	const char *orig;
	char	   *tok;
	size_t		len;
	PsJwtIdentity id;

	if (size < 1)
		return;
	orig = valid_tokens[data[0] % nvalid];
	len = strlen(orig);
	tok = malloc(len);
	memcpy(tok, orig, len);
	for (size_t i = 1; i + 1 < size; i += 2)
		tok[data[i] * 7 % len] ^= data[i + 1];
	if (memcmp(tok, orig, len) != 0 &&
		ps_jwt_verify(tok, len, fixture_jwks, &policy, now, &id) == PS_JWT_OK)
		abort();				/* a changed token verified */
	free(tok);
}

static void
new_header(const uint8_t *data, size_t size)
{
	const char *orig;
	const char *dot;
	unsigned char *orig_header;
	size_t		orig_len;
	char	   *tok;
	size_t		len;
	PsJwtIdentity id;

	if (size < 1)
		return;
	orig = valid_tokens[data[0] % nvalid];
	dot = strchr(orig, '.');
	orig_header = ps_base64url_decode_alloc(orig, (size_t) (dot - orig), &orig_len);
	data++;
	size--;
	tok = malloc(fuzz_b64url_room(size) + strlen(dot));
	len = fuzz_b64url_encode(data, size, tok);
	memcpy(tok + len, dot, strlen(dot));
	len += strlen(dot);
	if (ps_jwt_verify(tok, len, fixture_jwks, &policy, now, &id) == PS_JWT_OK)
	{
		if (size != orig_len || memcmp(data, orig_header, size) != 0)
			abort();			/* a header the signature does not cover */
		ps_jwt_identity_free(&id);
	}
	free(tok);
	free(orig_header);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *input;
	PsJwtIdentity id;

	if (size < 1)
		return 0;
	size--;
	/* a copy of exactly size bytes, so ASan sees any read past the end */
	input = malloc(size + 1);
	memcpy(input, data + 1, size);
	switch (data[0] % 5)
	{
		case 0:
			check_status(ps_jwt_verify(input, size, fixture_jwks, &policy, now, &id), &id);
			break;
		case 1:
			check_status(ps_jwt_check_claims(input, size, &policy, now, &id), &id);
			break;
		case 2:
			tamper(data + 1, size);
			break;
		case 3:
			{
				unsigned int mask = 0;

				input[size] = '\0';
				if (ps_jwt_parse_algorithms(input, &mask) &&
					(mask & ~(unsigned) (PS_JWT_ALG_RS256 | PS_JWT_ALG_ES256 |
										 PS_JWT_ALG_EDDSA)) != 0)
					abort();
				break;
			}
		case 4:
			new_header(data + 1, size);
			break;
	}
	free(input);
	return 0;
}
