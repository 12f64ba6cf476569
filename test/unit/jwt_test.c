/*
 * jwt_test.c: unit tests of the token verifier (src/token/jwt.c, src/token/jwks.c,
 * src/core/base64url.c), printing TAP.
 *
 * The Keycloak-shaped tokens and the attacks come from
 * fixtures/jwt_fixtures.json (minted with jose by fixtures/gen-fixtures.mjs
 * and committed); they are verified at the fixture's fixed clock.  The
 * hostile JWKS documents and encodings are built here.
 *
 * unit-sources: src/token/jwt.c src/token/jwks.c src/core/base64url.c
 * unit-libs: -lcrypto -ljansson -lm
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/base64url.h"
#include "token/jwks.h"
#include "token/jwt.h"

static int	tests_run = 0;
static int	tests_failed = 0;

static void
ok(int cond, const char *fmt,...)
{
	va_list		ap;

	tests_run++;
	if (!cond)
		tests_failed++;
	printf("%sok %d - ", cond ? "" : "not ", tests_run);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

static const char *const status_names[] = {
	"OK", "MISSING", "TOO_LARGE", "MALFORMED", "ALG_NOT_ALLOWED",
	"UNKNOWN_KID", "KEY_MISMATCH", "BAD_SIGNATURE", "EXPIRED",
	"NOT_YET_VALID", "WRONG_ISSUER", "WRONG_AUDIENCE", "WRONG_TYPE",
	"BAD_CLAIMS", "NOT_CONFIGURED", "NO_MEMORY",
};
#define NUM_STATUS ((int) (sizeof(status_names) / sizeof(status_names[0])))

static const char *
status_name(PsJwtStatus s)
{
	return ((int) s >= 0 && (int) s < NUM_STATUS) ? status_names[s] : "?";
}

/* --- base64url ------------------------------------------------------- */

static int
b64_decodes(const char *in, const char *want)
{
	unsigned char buf[64];
	size_t		n;

	if (!ps_base64url_decode(in, strlen(in), buf, sizeof(buf), &n))
		return want == NULL;
	return want != NULL && n == strlen(want) && memcmp(buf, want, n) == 0;
}

static void
test_base64url(void)
{
	unsigned char small[2];
	size_t		n;

	ok(b64_decodes("", ""), "base64url: empty decodes to nothing");
	ok(b64_decodes("aGVsbG8", "hello"), "base64url: unpadded text");
	ok(b64_decodes("Pz8_", "??\x3f"), "base64url: '_' is 63");
	ok(b64_decodes("-_8", "\xfb\xff"), "base64url: '-' is 62");
	ok(b64_decodes("aGVsbG8=", NULL), "base64url: padding refused");
	ok(b64_decodes("aGVs bG8", NULL), "base64url: whitespace refused");
	ok(b64_decodes("Pz8/", NULL), "base64url: standard alphabet '/' refused");
	ok(b64_decodes("Pz8+", NULL), "base64url: standard alphabet '+' refused");
	ok(b64_decodes("aGVsbG8h0", NULL), "base64url: length 1 mod 4 refused");
	ok(b64_decodes("aGVsbG9", NULL), "base64url: non-zero trailing bits refused");
	ok(b64_decodes("QR", NULL) && b64_decodes("QQ", "A"),
	   "base64url: one encoding per value");
	ok(!ps_base64url_decode("aGVsbG8", 7, small, sizeof(small), &n),
	   "base64url: output capacity respected");
}

/* --- algorithm allowlist --------------------------------------------- */

static void
test_algorithms(void)
{
	unsigned int m;

	ok(ps_jwt_parse_algorithms("RS256,ES256,EdDSA", &m) && m == 7,
	   "allowlist: default list");
	ok(ps_jwt_parse_algorithms(" RS256 , ,EdDSA,", &m) &&
	   m == (PS_JWT_ALG_RS256 | PS_JWT_ALG_EDDSA), "allowlist: spaces and empty items");
	ok(!ps_jwt_parse_algorithms("RS256,none", &m), "allowlist: none refused");
	ok(!ps_jwt_parse_algorithms("HS256", &m), "allowlist: HS256 refused");
	ok(!ps_jwt_parse_algorithms("rs256", &m), "allowlist: names are case-sensitive");
	ok(!ps_jwt_parse_algorithms("", &m) && !ps_jwt_parse_algorithms(NULL, &m),
	   "allowlist: empty refused");
}

/* --- JWKS ------------------------------------------------------------ */

static size_t
jwks_count_of(const char *doc, int *parsed)
{
	char		err[256];
	PsJwks	   *j = ps_jwks_parse(doc, strlen(doc), err, sizeof(err));
	size_t		n = ps_jwks_count(j);

	*parsed = (j != NULL);
	ps_jwks_free(j);
	return n;
}

/* A JWK as text, with one member replaced or added. */
static char *
jwk_with(json_t *jwk, const char *member, json_t *value)
{
	json_t	   *copy = json_deep_copy(jwk);
	json_t	   *doc = json_object();
	json_t	   *keys = json_array();
	char	   *text;

	if (value)
		json_object_set_new(copy, member, value);
	else
		json_object_del(copy, member);
	json_array_append_new(keys, copy);
	json_object_set_new(doc, "keys", keys);
	text = json_dumps(doc, 0);
	json_decref(doc);
	return text;
}

static void
expect_skipped(json_t *jwk, const char *member, json_t *value, const char *what)
{
	char	   *doc = jwk_with(jwk, member, value);
	int			parsed;
	size_t		n = jwks_count_of(doc, &parsed);

	ok(parsed && n == 0, "jwks: key skipped when %s", what);
	free(doc);
}

static void
test_jwks(json_t *fixture)
{
	json_t	   *keys = json_object_get(json_object_get(fixture, "jwks"), "keys");
	json_t	   *rsa = json_array_get(keys, 0);
	json_t	   *ec = json_array_get(keys, 1);
	json_t	   *ed = json_array_get(keys, 2);
	char	   *doc = json_dumps(json_object_get(fixture, "jwks"), 0);
	char		err[256];
	PsJwks	   *jwks = ps_jwks_parse(doc, strlen(doc), err, sizeof(err));
	int			parsed;
	static const char *const hostile[] = {
		"", "null", "[]", "\"keys\"", "{}", "{\"keys\":{}}", "{\"keys\":null}",
		"{\"keys\":[1,\"a\",null,true,[],{}]}", "{\"keys\":[{\"kty\":7}]}",
		"{\"keys\":[{\"kty\":\"RSA\",\"n\":5,\"e\":\"AQAB\"}]}",
		"{\"keys\":[{\"kty\":\"RSA\",\"n\":\"!!!\",\"e\":\"AQAB\"}]}",
		"{\"keys\":[{\"kty\":\"oct\",\"k\":\"c2VjcmV0\"}]}",
		"{\"keys\":[],\"keys\":[]}", "{\"keys\":[]", "\xff\xfe{}",
	};

	ok(jwks != NULL && ps_jwks_count(jwks) == 3,
	   "jwks: fixture parses to 3 signing keys (the use=enc key skipped)");
	ok(ps_jwks_has_kid(jwks, "rsa1") && ps_jwks_has_kid(jwks, "ec1") &&
	   ps_jwks_has_kid(jwks, "ed1"), "jwks: kids found");
	ok(!ps_jwks_has_kid(jwks, "enc1") && !ps_jwks_has_kid(jwks, "nope") &&
	   !ps_jwks_has_kid(jwks, NULL), "jwks: absent kids not found");
	ps_jwks_free(jwks);
	free(doc);

	for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++)
	{
		size_t		n = jwks_count_of(hostile[i], &parsed);

		ok(n == 0, "jwks: hostile document %zu yields no key", i);
	}
	ok(jwks_count_of("{\"keys\":[]}", &parsed) == 0 && parsed,
	   "jwks: empty key list is a valid (empty) set");

	expect_skipped(rsa, "e", json_string("AQ"), "RSA e = 1");
	expect_skipped(rsa, "n", json_string("_____________________________________________________________________________________________________________________________________________________________________________w"),
				   "RSA modulus under 2048 bits");
	expect_skipped(rsa, "n", NULL, "RSA n missing");
	expect_skipped(rsa, "use", json_string("enc"), "use is enc");
	expect_skipped(rsa, "alg", json_string("RS512"), "alg is one we do not verify");
	expect_skipped(rsa, "alg", json_string("ES256"), "alg does not fit kty");
	expect_skipped(rsa, "kid", json_integer(1), "kid is not a string");
	expect_skipped(rsa, "kid", json_string(""), "kid is empty");
	expect_skipped(rsa, "key_ops", json_pack("[s]", "encrypt"), "key_ops lacks verify");
	expect_skipped(ec, "x", json_string("AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), "EC point is off the curve");
	expect_skipped(ec, "y", json_string("AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), "EC coordinate is 31 bytes");
	expect_skipped(ec, "crv", json_string("P-384"), "EC curve is not P-256");
	expect_skipped(ec, "crv", NULL, "EC curve missing");
	expect_skipped(ed, "crv", json_string("X25519"), "OKP curve is X25519");
	expect_skipped(ed, "x", json_string("AQID"), "Ed25519 key is 3 bytes");

	/* e = 3 is a legitimate exponent: the key stays. */
	doc = jwk_with(rsa, "e", json_string("Aw"));
	ok(jwks_count_of(doc, &parsed) == 1, "jwks: RSA e = 3 accepted");
	free(doc);

	/* Duplicate kid: the first key wins, the second is skipped. */
	{
		json_t	   *dup = json_pack("{s:[O,O]}", "keys", rsa, rsa);
		char	   *text = json_dumps(dup, 0);

		ok(jwks_count_of(text, &parsed) == 1, "jwks: duplicate kid kept once");
		free(text);
		json_decref(dup);
	}
	/* More keys than the cap: only the cap is kept. */
	{
		json_t	   *many = json_array();
		json_t	   *d;
		char	   *text;

		for (int i = 0; i < PS_JWKS_MAX_KEYS + 10; i++)
		{
			json_t	   *k = json_deep_copy(ed);
			char		kid[32];

			snprintf(kid, sizeof(kid), "k%d", i);
			json_object_set_new(k, "kid", json_string(kid));
			json_array_append_new(many, k);
		}
		d = json_pack("{s:o}", "keys", many);
		text = json_dumps(d, 0);
		ok(jwks_count_of(text, &parsed) == PS_JWKS_MAX_KEYS, "jwks: key count capped");
		free(text);
		json_decref(d);
	}
	/* Deep nesting and oversize documents fail cleanly. */
	{
		size_t		depth = 100000;
		char	   *deep = malloc(2 * depth + 16);

		strcpy(deep, "{\"keys\":");
		memset(deep + 8, '[', depth);
		memset(deep + 8 + depth, ']', depth);
		strcpy(deep + 8 + 2 * depth, "}");
		ok(jwks_count_of(deep, &parsed) == 0 && !parsed, "jwks: deep nesting refused");
		free(deep);
	}
	{
		size_t		len = PS_JWKS_MAX_BYTES + 1;
		char	   *big = malloc(len + 1);

		memset(big, ' ', len);
		big[len] = '\0';
		memcpy(big, "{\"keys\":[]}", 11);
		ok(ps_jwks_parse(big, len, err, sizeof(err)) == NULL &&
		   strstr(err, "larger") != NULL, "jwks: oversize document refused");
		free(big);
	}
}

/* --- tokens from the fixtures ----------------------------------------- */

static int
names_equal(char **have, size_t n, json_t *want)
{
	if (want == NULL)
		return 1;
	if (json_array_size(want) != n)
		return 0;
	for (size_t i = 0; i < n; i++)
	{
		if (strcmp(have[i], json_string_value(json_array_get(want, i))) != 0)
			return 0;
	}
	return 1;
}

static void
test_cases(json_t *fixture, const PsJwks *jwks, const PsJwtPolicy *base, int64_t now)
{
	size_t		i;
	json_t	   *c;

	json_array_foreach(json_object_get(fixture, "cases"), i, c)
	{
		const char *name = json_string_value(json_object_get(c, "name"));
		const char *token = json_string_value(json_object_get(c, "token"));
		const char *expect = json_string_value(json_object_get(c, "expect"));
		json_t	   *algs = json_object_get(c, "algorithms");
		PsJwtPolicy policy = *base;
		PsJwtIdentity id;
		PsJwtStatus st;
		int			good;

		if (algs)
			policy.algorithms = json_string_value(algs);
		st = ps_jwt_verify(token, strlen(token), jwks, &policy, now, &id);
		good = strcmp(status_name(st), expect) == 0;
		if (good && st == PS_JWT_OK)
		{
			json_t	   *v;

			if ((v = json_object_get(c, "subject")) && strcmp(id.subject, json_string_value(v)) != 0)
				good = 0;
			if ((v = json_object_get(c, "client")) &&
				(id.client == NULL || strcmp(id.client, json_string_value(v)) != 0))
				good = 0;
			if (!names_equal(id.roles, id.nroles, json_object_get(c, "roles")) ||
				!names_equal(id.groups, id.ngroups, json_object_get(c, "groups")))
				good = 0;
		}
		else if (st != PS_JWT_OK && (id.subject != NULL || id.nroles != 0))
			good = 0;
		ok(good, "token: %s -> %s (got %s)", name, expect, status_name(st));
		ps_jwt_identity_free(&id);
	}
}

/* The first valid RS256 token from the fixtures, for the clock and policy tests. */
static const char *
valid_token(json_t *fixture)
{
	return json_string_value(json_object_get(
		json_array_get(json_object_get(fixture, "cases"), 0), "token"));
}

static void
test_policy_and_clock(json_t *fixture, const PsJwks *jwks, const PsJwtPolicy *base, int64_t now)
{
	const char *tok = valid_token(fixture);
	size_t		len = strlen(tok);
	PsJwtPolicy p = *base;
	PsJwtIdentity id;
	int64_t		exp;
	char	   *withnul;

	ok(ps_jwt_verify(tok, len, jwks, &p, now, &id) == PS_JWT_OK, "clock: valid at fixture time");
	exp = id.expires_at;
	ps_jwt_identity_free(&id);
	ok(exp == now + 300, "identity: expires_at is exp");
	ok(ps_jwt_verify(tok, len, jwks, &p, exp + 29, &id) == PS_JWT_OK,
	   "clock: 29 s past exp accepted with 30 s leeway");
	ps_jwt_identity_free(&id);
	ok(ps_jwt_verify(tok, len, jwks, &p, exp + 30, &id) == PS_JWT_EXPIRED,
	   "clock: 30 s past exp expired");
	p.leeway = 0;
	ok(ps_jwt_verify(tok, len, jwks, &p, exp, &id) == PS_JWT_EXPIRED,
	   "clock: at exp with no leeway expired");
	p.leeway = -5;
	ok(ps_jwt_verify(tok, len, jwks, &p, exp, &id) == PS_JWT_EXPIRED,
	   "clock: negative leeway counts as 0");
	p = *base;
	ok(ps_jwt_verify(tok, len, jwks, &p, now - 10 - 31, &id) == PS_JWT_NOT_YET_VALID,
	   "clock: before iat beyond leeway not yet valid");

	p.issuer = NULL;
	ok(ps_jwt_verify(tok, len, jwks, &p, now, &id) == PS_JWT_NOT_CONFIGURED, "policy: no issuer");
	p.issuer = "";
	ok(ps_jwt_verify(tok, len, jwks, &p, now, &id) == PS_JWT_NOT_CONFIGURED, "policy: empty issuer");
	p = *base;
	p.audience = NULL;
	ok(ps_jwt_verify(tok, len, jwks, &p, now, &id) == PS_JWT_NOT_CONFIGURED, "policy: no audience");
	p = *base;
	p.algorithms = "none";
	ok(ps_jwt_verify(tok, len, jwks, &p, now, &id) == PS_JWT_NOT_CONFIGURED, "policy: allowlist of none");
	ok(ps_jwt_verify(tok, len, jwks, NULL, now, &id) == PS_JWT_NOT_CONFIGURED, "policy: NULL");
	ok(ps_jwt_verify(tok, len, NULL, base, now, &id) == PS_JWT_UNKNOWN_KID, "jwks: NULL set");
	ok(ps_jwt_verify(NULL, 0, jwks, base, now, &id) == PS_JWT_MISSING, "token: NULL");
	p = *base;
	p.audience = "account";
	ok(ps_jwt_verify(tok, len, jwks, &p, now, &id) == PS_JWT_OK, "policy: second aud entry matches");
	ps_jwt_identity_free(&id);

	withnul = strdup(tok);
	withnul[len - 3] = '\0';
	ok(ps_jwt_verify(withnul, len, jwks, base, now, &id) == PS_JWT_MALFORMED,
	   "token: embedded NUL is malformed");
	ok(ps_jwt_verify(tok, len - 1, jwks, base, now, &id) != PS_JWT_OK,
	   "token: one byte short fails");
	free(withnul);
}

/* --- claims checks on their own ---------------------------------------- */

static PsJwtStatus
claims(const char *json, const PsJwtPolicy *p, int64_t now, PsJwtIdentity *id)
{
	return ps_jwt_check_claims(json, strlen(json), p, now, id);
}

static void
test_claims(void)
{
	PsJwtPolicy p = {"https://kc/realms/r", "api", "RS256", 30};
	PsJwtIdentity id;
	char		buf[16384];
	size_t		off;

	ok(claims("{\"iss\":\"https://kc/realms/r\",\"aud\":\"api\",\"sub\":\"u\",\"exp\":1000.9}",
			  &p, 999, &id) == PS_JWT_OK && id.expires_at == 1000 && id.client == NULL,
	   "claims: real exp accepted, no azp");
	ps_jwt_identity_free(&id);
	ok(claims("{\"iss\":\"https://kc/realms/r\",\"aud\":\"api\",\"sub\":\"u\",\"exp\":2000,\"nonce\":\"n-1\"}",
			  &p, 999, &id) == PS_JWT_OK && id.nonce != NULL && strcmp(id.nonce, "n-1") == 0,
	   "claims: an ID token's nonce is returned");
	ps_jwt_identity_free(&id);
	ok(claims("{\"iss\":\"https://kc/realms/r\",\"aud\":\"api\",\"sub\":\"u\",\"exp\":2000,\"nonce\":7}",
			  &p, 999, &id) == PS_JWT_OK && id.nonce == NULL,
	   "claims: a nonce that is not a string is not returned");
	ps_jwt_identity_free(&id);
	ok(claims("{\"iss\":\"https://kc/realms/r\",\"aud\":\"api\",\"sub\":\"u\",\"exp\":1e300}",
			  &p, 999, &id) == PS_JWT_BAD_CLAIMS, "claims: absurd exp refused");
	ok(claims("{\"iss\":\"https://kc/realms/r\",\"aud\":\"api\",\"sub\":\"u\",\"exp\":9223372036854775807}",
			  &p, 999, &id) == PS_JWT_OK, "claims: largest integer exp does not overflow");
	ps_jwt_identity_free(&id);
	ok(claims("{\"iss\":\"https://kc/realms/r\",\"aud\":[1,null,\"api\"],\"sub\":\"u\",\"exp\":2000}",
			  &p, 999, &id) == PS_JWT_OK, "claims: aud array with junk still matches");
	ps_jwt_identity_free(&id);
	ok(claims("{\"iss\":\"https://kc/realms/r\",\"aud\":{\"api\":1},\"sub\":\"u\",\"exp\":2000}",
			  &p, 999, &id) == PS_JWT_WRONG_AUDIENCE, "claims: aud object does not match");
	ok(claims("{\"iss\":\"https://kc/realms/r\",\"aud\":\"api\",\"sub\":\"a\\u0007b\",\"exp\":2000}",
			  &p, 999, &id) == PS_JWT_BAD_CLAIMS, "claims: control character in sub refused");
	ok(claims("{\"iss\":\"https://kc/realms/r\",\"aud\":\"api\",\"sub\":\"a\\u0000b\",\"exp\":2000}",
			  &p, 999, &id) == PS_JWT_MALFORMED, "claims: NUL in a string refused");
	ok(claims("{\"iss\":\"https://kc/realms/r\",\"aud\":\"api\",\"sub\":\"u\",\"azp\":5,\"exp\":2000}",
			  &p, 999, &id) == PS_JWT_BAD_CLAIMS, "claims: non-string azp refused");
	ok(claims("{\"iss\":\"https://kc/realms/r\",\"aud\":\"api\",\"sub\":\"u\",\"typ\":1,\"exp\":2000}",
			  &p, 999, &id) == PS_JWT_WRONG_TYPE, "claims: non-string typ refused");
	ok(claims("{\"iss\":\"https://kc/realms/r\",\"aud\":\"api\",\"sub\":\"u\",\"typ\":\"bearer\",\"exp\":2000}",
			  &p, 999, &id) == PS_JWT_WRONG_TYPE, "claims: typ is case-sensitive");
	ok(claims("{\"iss\":\"https://kc/realms/R\",\"aud\":\"api\",\"sub\":\"u\",\"exp\":2000}",
			  &p, 999, &id) == PS_JWT_WRONG_ISSUER, "claims: issuer is case-sensitive");
	ok(claims("{\"iss\":\"https://kc/realms/r\",\"aud\":\"api\",\"sub\":\"u\",\"exp\":2000,\"exp\":3000}",
			  &p, 999, &id) == PS_JWT_MALFORMED, "claims: duplicate claim refused");

	/* 300 roles: 256 kept. */
	off = (size_t) snprintf(buf, sizeof(buf),
							"{\"iss\":\"https://kc/realms/r\",\"aud\":\"api\",\"sub\":\"u\",\"exp\":2000,"
							"\"realm_access\":{\"roles\":[");
	for (int i = 0; i < 300; i++)
		off += (size_t) snprintf(buf + off, sizeof(buf) - off, "%s\"r%d\"", i ? "," : "", i);
	snprintf(buf + off, sizeof(buf) - off, "]}}");
	ok(claims(buf, &p, 999, &id) == PS_JWT_OK && id.nroles == PS_JWT_MAX_LIST &&
	   strcmp(id.roles[255], "r255") == 0, "claims: role count capped at %d", PS_JWT_MAX_LIST);
	ps_jwt_identity_free(&id);
}

static void
test_messages(void)
{
	int			distinct = 1;

	for (int a = 0; a < NUM_STATUS; a++)
		for (int b = a + 1; b < NUM_STATUS; b++)
			if (strcmp(ps_jwt_status_message(a), ps_jwt_status_message(b)) == 0)
				distinct = 0;
	ok(distinct, "messages: one distinct message per status");
}

static char *
fixture_path(int argc, char **argv)
{
	static char path[4096];
	const char *slash;

	if (argc > 1)
		return argv[1];
	if (getenv("PS_ROOT") != NULL)
	{
		snprintf(path, sizeof(path), "%s/test/unit/fixtures/jwt_fixtures.json",
				 getenv("PS_ROOT"));
		return path;
	}
	/* Beside this source file, wherever the binary runs from. */
	slash = strrchr(__FILE__, '/');
	snprintf(path, sizeof(path), "%.*sfixtures/jwt_fixtures.json",
			 slash ? (int) (slash - __FILE__ + 1) : 0, __FILE__);
	return path;
}

int
main(int argc, char **argv)
{
	json_error_t jerr;
	const char *path = fixture_path(argc, argv);
	json_t	   *fixture = json_load_file(path, 0, &jerr);
	char	   *doc;
	char		err[256];
	PsJwks	   *jwks;
	PsJwtPolicy policy;
	int64_t		now;

	if (fixture == NULL)
	{
		printf("Bail out! cannot read %s: %s\n", path, jerr.text);
		return 2;
	}
	doc = json_dumps(json_object_get(fixture, "jwks"), 0);
	jwks = ps_jwks_parse(doc, strlen(doc), err, sizeof(err));
	free(doc);
	policy.issuer = json_string_value(json_object_get(fixture, "issuer"));
	policy.audience = json_string_value(json_object_get(fixture, "audience"));
	policy.algorithms = json_string_value(json_object_get(fixture, "algorithms"));
	policy.leeway = json_integer_value(json_object_get(fixture, "leeway"));
	now = json_integer_value(json_object_get(fixture, "now"));

	test_base64url();
	test_algorithms();
	test_jwks(fixture);
	test_cases(fixture, jwks, &policy, now);
	test_policy_and_clock(fixture, jwks, &policy, now);
	test_claims();
	test_messages();

	ps_jwks_free(jwks);
	json_decref(fixture);
	printf("1..%d\n", tests_run);
	return tests_failed ? 1 : 0;
}
