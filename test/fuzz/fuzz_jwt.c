/*
 * fuzz_jwt.c: libFuzzer target over the token verifier and the JWKS parser.
 *
 * The first input byte picks the entry point, the rest is its input:
 *   0  ps_jwks_parse, then a token lookup and verify against what it parsed
 *   1  ps_jwt_verify against the fixture JWKS
 *   2  ps_jwt_check_claims (the part only a validly signed token reaches)
 * Build and run: test/fuzz/run.sh [seconds]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "token/jwks.h"
#include "token/jwt.h"

static PsJwks *fixture_jwks;
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
	char	   *doc;
	char		err[256];

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
	json_decref(fixture);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *input = (const char *) data + 1;
	PsJwtIdentity id;
	char		err[256];

	if (size < 1)
		return 0;
	size--;
	switch (data[0] % 3)
	{
		case 0:
			{
				PsJwks	   *jwks = ps_jwks_parse(input, size, err, sizeof(err));

				if (jwks)
				{
					const char *tok = "eyJhbGciOiJFZERTQSIsImtpZCI6ImsifQ.e30.AAAA";

					(void) ps_jwks_has_kid(jwks, "rsa1");
					if (ps_jwt_verify(tok, strlen(tok), jwks, &policy, now, &id) == PS_JWT_OK)
						abort();	/* a garbage signature must never verify */
					ps_jwks_free(jwks);
				}
				break;
			}
		case 1:
			if (ps_jwt_verify(input, size, fixture_jwks, &policy, now, &id) == PS_JWT_OK)
				ps_jwt_identity_free(&id);
			break;
		case 2:
			if (ps_jwt_check_claims(input, size, &policy, now, &id) == PS_JWT_OK)
			{
				if (id.subject == NULL || id.nroles > PS_JWT_MAX_LIST ||
					id.ngroups > PS_JWT_MAX_LIST)
					abort();
				ps_jwt_identity_free(&id);
			}
			break;
	}
	return 0;
}
