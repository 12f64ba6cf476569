/*
 * rest_parse_test.c: the REST listener's parsers of hostile input (paths,
 * request ids, UTF-8, JSON bodies), outside a server.  Prints TAP.
 *
 * unit-sources: src/rest/rest_parse.c
 * unit-libs: -ljansson
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "rest/rest_parse.h"

static int	tests = 0;
static int	failures = 0;

static void
ok(int cond, const char *fmt,...)
{
	va_list		ap;

	tests++;
	if (!cond)
		failures++;
	printf("%sok %d - ", cond ? "" : "not ", tests);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

static void
match_case(const char *path, PsRestMethod method, PsRestMatchStatus want,
		   PsRestRoute route, const char *owner, const char *name)
{
	PsRestMatch m;
	PsRestMatchStatus got = ps_rest_match(path, method, &m);

	ok(got == want, "%s: status %d (want %d)", path, got, want);
	if (want == PS_MATCH_OK && got == PS_MATCH_OK)
	{
		ok(m.route == route, "%s: route %s", path, ps_rest_route_label(m.route));
		ok(strcmp(m.owner, owner) == 0, "%s: owner \"%s\"", path, m.owner);
		ok(strcmp(m.name, name) == 0, "%s: name \"%s\"", path, m.name);
	}
}

static void
test_routes(void)
{
	char		allow[48];
	PsRestMatch m;
	char		longseg[400];

	match_case("/healthz", PS_METHOD_GET, PS_MATCH_OK, PS_ROUTE_HEALTHZ, "", "");
	match_case("/readyz", PS_METHOD_GET, PS_MATCH_OK, PS_ROUTE_READYZ, "", "");
	match_case("/readyz", PS_METHOD_HEAD, PS_MATCH_OK, PS_ROUTE_READYZ, "", "");
	match_case("/readyz", PS_METHOD_POST, PS_MATCH_METHOD_NOT_ALLOWED, PS_ROUTE_READYZ, "", "");
	match_case("/readyz/x", PS_METHOD_GET, PS_MATCH_NOT_FOUND, PS_ROUTE_NONE, "", "");
	match_case("/metrics", PS_METHOD_HEAD, PS_MATCH_OK, PS_ROUTE_METRICS, "", "");
	match_case("/v1/openapi.json", PS_METHOD_GET, PS_MATCH_OK, PS_ROUTE_OPENAPI, "", "");
	match_case("/v1/workspaces/ws1/secrets", PS_METHOD_GET, PS_MATCH_OK,
			   PS_ROUTE_WORKSPACE_SECRETS, "ws1", "");
	match_case("/v1/workspaces/ws1/secrets/LITELLM_API_KEY", PS_METHOD_PUT, PS_MATCH_OK,
			   PS_ROUTE_WORKSPACE_SECRET, "ws1", "LITELLM_API_KEY");
	match_case("/v1/companies/acme/provider-secrets/openai", PS_METHOD_DELETE, PS_MATCH_OK,
			   PS_ROUTE_COMPANY_PROVIDER, "acme", "openai");
	match_case("/v1/projects/p.1/provider-secrets", PS_METHOD_GET, PS_MATCH_OK,
			   PS_ROUTE_PROJECT_PROVIDERS, "p.1", "");
	match_case("/v1/resolve", PS_METHOD_POST, PS_MATCH_OK, PS_ROUTE_RESOLVE, "", "");
	/* decoded once: %25 stays a literal percent sign after one pass */
	match_case("/v1/workspaces/ws1/secrets/a%2541", PS_METHOD_GET, PS_MATCH_OK,
			   PS_ROUTE_WORKSPACE_SECRET, "ws1", "a%41");
	match_case("/v1/workspaces/w%73/secrets/K", PS_METHOD_GET, PS_MATCH_OK,
			   PS_ROUTE_WORKSPACE_SECRET, "ws", "K");

	/* unknown routes */
	match_case("/", PS_METHOD_GET, PS_MATCH_NOT_FOUND, 0, "", "");
	match_case("", PS_METHOD_GET, PS_MATCH_NOT_FOUND, 0, "", "");
	match_case("/v1", PS_METHOD_GET, PS_MATCH_NOT_FOUND, 0, "", "");
	match_case("/v1/workspaces/ws1/secrets/", PS_METHOD_GET, PS_MATCH_NOT_FOUND, 0, "", "");
	match_case("/v1/workspaces//secrets", PS_METHOD_GET, PS_MATCH_NOT_FOUND, 0, "", "");
	match_case("/v1/workspaces/ws1/secrets/a/b", PS_METHOD_GET, PS_MATCH_NOT_FOUND, 0, "", "");
	match_case("/v2/resolve", PS_METHOD_POST, PS_MATCH_NOT_FOUND, 0, "", "");
	match_case("/V1/resolve", PS_METHOD_POST, PS_MATCH_NOT_FOUND, 0, "", "");
	match_case("/v1/%72esolve", PS_METHOD_POST, PS_MATCH_NOT_FOUND, 0, "", "");
	match_case("/v1/a/b/c/d/e/f/g", PS_METHOD_GET, PS_MATCH_NOT_FOUND, 0, "", "");

	/* bad segments: after a route matched */
	match_case("/v1/workspaces/ws1/secrets/a%2Fb", PS_METHOD_GET, PS_MATCH_BAD_SEGMENT, 0, "", "");
	match_case("/v1/workspaces/ws1/secrets/a%00b", PS_METHOD_GET, PS_MATCH_BAD_SEGMENT, 0, "", "");
	match_case("/v1/workspaces/ws1/secrets/a%0Ab", PS_METHOD_GET, PS_MATCH_BAD_SEGMENT, 0, "", "");
	match_case("/v1/workspaces/ws1/secrets/a%zz", PS_METHOD_GET, PS_MATCH_BAD_SEGMENT, 0, "", "");
	match_case("/v1/workspaces/ws1/secrets/a%4", PS_METHOD_GET, PS_MATCH_BAD_SEGMENT, 0, "", "");
	match_case("/v1/workspaces/ws1/secrets/%", PS_METHOD_GET, PS_MATCH_BAD_SEGMENT, 0, "", "");
	memset(longseg, 0, sizeof(longseg));
	strcpy(longseg, "/v1/workspaces/ws1/secrets/");
	memset(longseg + strlen(longseg), 'k', 300);
	match_case(longseg, PS_METHOD_GET, PS_MATCH_BAD_SEGMENT, 0, "", "");

	/* methods */
	ok(ps_rest_match("/v1/workspaces/ws1/secrets", PS_METHOD_PUT, &m) == PS_MATCH_METHOD_NOT_ALLOWED,
	   "PUT on a collection: 405");
	ps_rest_allow_header(m.allowed, allow, sizeof(allow));
	ok(strcmp(allow, "GET") == 0, "Allow: %s", allow);
	ok(ps_rest_match("/v1/workspaces/ws1/secrets/K", PS_METHOD_OTHER, &m) == PS_MATCH_METHOD_NOT_ALLOWED,
	   "PATCH on an item: 405");
	ps_rest_allow_header(m.allowed, allow, sizeof(allow));
	ok(strcmp(allow, "GET, PUT, DELETE") == 0, "Allow: %s", allow);
	ok(ps_rest_match("/v1/resolve", PS_METHOD_GET, &m) == PS_MATCH_METHOD_NOT_ALLOWED,
	   "GET /v1/resolve: 405");
	ok(ps_rest_match("/v1/workspaces/ws1/secrets/K", PS_METHOD_HEAD, &m) == PS_MATCH_METHOD_NOT_ALLOWED,
	   "HEAD never reveals");
	ok(ps_rest_method_from_string("get") == PS_METHOD_OTHER, "methods are case-sensitive");
}

static void
test_request_ids(void)
{
	char		s65[66];

	ok(ps_rest_request_id_valid("abc-DEF_1.2"), "well-formed id");
	ok(!ps_rest_request_id_valid(""), "empty id");
	ok(!ps_rest_request_id_valid(NULL), "no id");
	ok(!ps_rest_request_id_valid("a b"), "space");
	ok(!ps_rest_request_id_valid("a\nb"), "newline");
	ok(!ps_rest_request_id_valid("é"), "non-ASCII");
	memset(s65, 'a', 65);
	s65[65] = '\0';
	ok(!ps_rest_request_id_valid(s65), "65 characters");
	s65[64] = '\0';
	ok(ps_rest_request_id_valid(s65), "64 characters");
}

static void
test_if_match(void)
{
	PsIfMatch	kind;
	long		v = 0;

	ok(ps_rest_parse_if_match("\"3\"", &kind, &v) == NULL && kind == PS_IF_MATCH_VERSION && v == 3,
	   "a strong tag names a version");
	ok(ps_rest_parse_if_match(" * ", &kind, &v) == NULL && kind == PS_IF_MATCH_STAR, "*");
	ok(ps_rest_parse_if_match("W/\"3\"", &kind, &v) == NULL && kind == PS_IF_MATCH_NOTHING,
	   "a weak tag never matches");
	ok(ps_rest_parse_if_match("\"0\"", &kind, &v) == NULL && kind == PS_IF_MATCH_NOTHING, "no version 0");
	ok(ps_rest_parse_if_match("\"2147483648\"", &kind, &v) == NULL && kind == PS_IF_MATCH_NOTHING,
	   "past int32");
	ok(ps_rest_parse_if_match("W/\"4\", \"3\",", &kind, &v) == NULL && kind == PS_IF_MATCH_VERSION && v == 3,
	   "a list with one version");
	ok(ps_rest_parse_if_match("\"3\", \"4\"", &kind, &v) != NULL, "two versions: 400");
	ok(ps_rest_parse_if_match("3", &kind, &v) != NULL, "unquoted");
	ok(ps_rest_parse_if_match("\"3", &kind, &v) != NULL, "unterminated");
	ok(ps_rest_parse_if_match("", &kind, &v) != NULL, "empty");
	ok(ps_rest_parse_if_match("*, \"3\"", &kind, &v) != NULL, "* in a list");
	ok(ps_rest_parse_if_match("\"a\x7f\"", &kind, &v) != NULL, "DEL in a tag");
	ok(ps_rest_parse_if_match("\"3\" \"4\"", &kind, &v) != NULL, "no comma");
}

static void
test_utf8(void)
{
	ok(ps_rest_utf8_length("abc", 3) == 3, "ASCII");
	ok(ps_rest_utf8_length("\xc3\xa9\xe2\x82\xac\xf0\x9f\x94\x91", 9) == 3, "2, 3 and 4 byte forms");
	ok(ps_rest_utf8_length("\xff", 1) < 0, "0xff");
	ok(ps_rest_utf8_length("\xc0\xaf", 2) < 0, "overlong /");
	ok(ps_rest_utf8_length("\xe0\x80\xaf", 3) < 0, "overlong 3-byte");
	ok(ps_rest_utf8_length("\xed\xa0\x80", 3) < 0, "surrogate");
	ok(ps_rest_utf8_length("\xf4\x90\x80\x80", 4) < 0, "beyond U+10FFFF");
	ok(ps_rest_utf8_length("\xc3", 1) < 0, "truncated at the end");
	ok(ps_rest_utf8_length("\xe2\x82", 2) < 0, "truncated 3-byte");
	ok(ps_rest_utf8_length("a\0b", 3) == 3, "NUL counts (the JSON parser refuses it)");
}

static const char *
parse(const char *body, PsRestBodyField kind, PsRestBody *out)
{
	return ps_rest_parse_body(body, strlen(body), kind, out);
}

static void
test_bodies(void)
{
	PsRestBody	b;
	const char *msg;
	char	   *big;
	size_t		n;

	msg = parse("{\"value\":\"sk-1\",\"description\":\"d\",\"extra\":[1]}", PS_BODY_VALUE, &b);
	ok(msg == NULL && strcmp(b.value, "sk-1") == 0 && b.value_len == 4 &&
	   strcmp(b.description, "d") == 0, "value and description; unknown field ignored");
	json_decref(b.root);
	msg = parse("{\"value\":\"x\",\"description\":null}", PS_BODY_VALUE, &b);
	ok(msg == NULL && b.description == NULL, "null description");
	json_decref(b.root);
	msg = parse("{\"credentialValue\":\"c\"}", PS_BODY_CREDENTIAL_VALUE, &b);
	ok(msg == NULL && strcmp(b.value, "c") == 0, "credentialValue");
	json_decref(b.root);
	msg = parse("{\"reference\":\"managed:project/a/b\"}", PS_BODY_REFERENCE, &b);
	ok(msg == NULL && strcmp(b.reference, "managed:project/a/b") == 0, "reference");
	json_decref(b.root);

	msg = parse("", PS_BODY_VALUE, &b);
	ok(msg != NULL, "empty body: %s", msg);
	json_decref(b.root);
	msg = parse("{\"value\":", PS_BODY_VALUE, &b);
	ok(msg != NULL, "truncated JSON: %s", msg);
	json_decref(b.root);
	msg = parse("[\"value\"]", PS_BODY_VALUE, &b);
	ok(msg != NULL, "array: %s", msg);
	json_decref(b.root);
	msg = parse("{\"value\":1}", PS_BODY_VALUE, &b);
	ok(msg != NULL, "number value: %s", msg);
	json_decref(b.root);
	msg = parse("{\"value\":\"x\",\"description\":false}", PS_BODY_VALUE, &b);
	ok(msg != NULL, "boolean description: %s", msg);
	json_decref(b.root);
	msg = parse("{\"value\":\"x\",\"value\":\"y\"}", PS_BODY_VALUE, &b);
	ok(msg != NULL, "duplicate key: %s", msg);
	json_decref(b.root);
	msg = parse("{\"value\":\"a\\u0000b\"}", PS_BODY_VALUE, &b);
	ok(msg != NULL, "escaped NUL: %s", msg);
	json_decref(b.root);
	msg = parse("{\"value\":\"\xff\"}", PS_BODY_VALUE, &b);
	ok(msg != NULL, "invalid UTF-8: %s", msg);
	json_decref(b.root);
	msg = parse("{\"credentialValue\":\"x\"}", PS_BODY_VALUE, &b);
	ok(msg != NULL, "value missing: %s", msg);
	json_decref(b.root);

	/* 10,000 characters of two bytes each pass, 10,001 do not */
	big = malloc(20 * 10001 + 64);
	for (int chars = 10000; chars <= 10001; chars++)
	{
		n = (size_t) sprintf(big, "{\"value\":\"");
		for (int i = 0; i < chars; i++)
		{
			big[n++] = '\xc3';
			big[n++] = '\xa9';
		}
		strcpy(big + n, "\"}");
		msg = parse(big, PS_BODY_VALUE, &b);
		if (chars == 10000)
			ok(msg == NULL && b.value_len == 20000, "10,000 characters (20,000 bytes) accepted");
		else
			ok(msg != NULL && strstr(msg, "10,000") != NULL, "10,001 characters refused: %s", msg);
		json_decref(b.root);
	}
	free(big);
}

static void
test_secure_alloc(void)
{
	char	   *p = ps_rest_secure_malloc(32);

	ok(p != NULL, "secure malloc");
	memcpy(p, "plaintext", 10);
	ps_rest_secure_free(p);
	ps_rest_secure_free(NULL);
	ok(1, "secure free (wipes, then frees; NULL is fine)");
}

int
main(void)
{
	printf("TAP version 13\n");
	test_routes();
	test_request_ids();
	test_if_match();
	test_utf8();
	test_bodies();
	test_secure_alloc();
	printf("1..%d\n", tests);
	return failures == 0 ? 0 : 1;
}
