/*
 * resolver_kinds_test.c: options, URLs and response parsing of the external
 * backend kinds (DESIGN §9), outside a server.  Prints TAP.
 *
 * Sources: src/external/resolver_kinds.c src/external/kind_vault_kv2.c src/external/kind_infisical.c src/external/kind_http_json.c
 * Libs: -ljansson
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "external/resolver_kinds.h"

static int	tests = 0;
static int	failures = 0;

static void
ok(int cond, const char *what)
{
	tests++;
	if (!cond)
		failures++;
	printf("%sok %d - %s\n", cond ? "" : "not ", tests, what);
}

static PsResolverOptions
opts_of(PsResolverKind kind, const char *json, int *parsed, char *err)
{
	PsResolverOptions o;

	*parsed = ps_resolver_options_parse(kind, json, strlen(json), &o, err, 200);
	return o;
}

static int
options_ok(PsResolverKind kind, const char *json)
{
	char		err[200];
	int			parsed;

	(void) opts_of(kind, json, &parsed, err);
	return parsed;
}

static int
url_is(PsResolverKind kind, const char *json, const char *base, const char *path,
	   const char *field, const char *want)
{
	char		err[200];
	int			parsed;
	PsResolverOptions o = opts_of(kind, json, &parsed, err);
	char	   *url = parsed ? ps_resolver_url(kind, &o, base, path, field, err, sizeof(err)) : NULL;
	int			same = url != NULL && strcmp(url, want) == 0;

	if (!same)
		printf("# got %s\n", url ? url : err);
	free(url);
	return same;
}

static PsExtractResult
extract(PsResolverKind kind, const char *json_opts, const char *field,
		const char *body, char **value)
{
	char		err[200];
	int			parsed;
	PsResolverOptions o = opts_of(kind, json_opts, &parsed, err);
	size_t		len;

	return ps_resolver_extract(kind, &o, field, body, strlen(body), value, &len);
}

static int
extracts(PsResolverKind kind, const char *json_opts, const char *field,
		 const char *body, const char *want)
{
	char	   *value = NULL;
	PsExtractResult r = extract(kind, json_opts, field, body, &value);
	int			same = r == PS_EXTRACT_OK && strcmp(value, want) == 0;

	free(value);
	return same;
}

static void
test_kinds(void)
{
	PsResolverKind k;

	ok(ps_resolver_kind_parse("vault-kv2", &k) && k == PS_KIND_VAULT_KV2, "vault-kv2 is a kind");
	ok(ps_resolver_kind_parse("infisical", &k) && k == PS_KIND_INFISICAL, "infisical is a kind");
	ok(ps_resolver_kind_parse("http-json", &k) && k == PS_KIND_HTTP_JSON, "http-json is a kind");
	ok(!ps_resolver_kind_parse("vault", &k), "vault is not a kind");
	ok(!ps_resolver_kind_parse("", &k), "empty is not a kind");
}

static void
test_options(void)
{
	char		err[200];
	int			parsed;
	PsResolverOptions o;
	char	   *json;

	o = opts_of(PS_KIND_VAULT_KV2, "{}", &parsed, err);
	ok(parsed && strcmp(o.mount, "secret") == 0 && o.timeout_ms == 5000 &&
	   o.cache_ttl_s == 0 && o.vault_namespace[0] == '\0', "vault-kv2 defaults");
	o = opts_of(PS_KIND_INFISICAL, "{\"project_id\":\"p1\"}", &parsed, err);
	ok(parsed && strcmp(o.environment, "prod") == 0, "infisical environment defaults to prod");
	o = opts_of(PS_KIND_HTTP_JSON, "{}", &parsed, err);
	ok(parsed && strcmp(o.pointer, "/value") == 0, "http-json pointer defaults to /value");

	ok(options_ok(PS_KIND_VAULT_KV2, "{\"mount\":\"kv/team-a\",\"namespace\":\"admin/eng\",\"timeout_ms\":250,\"cache_ttl_s\":60}"),
	   "vault-kv2 accepts mount, namespace, timeout_ms, cache_ttl_s");
	ok(!options_ok(PS_KIND_VAULT_KV2, "{\"mount\":\"../sys\"}"), "mount with .. is refused");
	ok(!options_ok(PS_KIND_VAULT_KV2, "{\"mount\":\"a b\"}"), "mount with a space is refused");
	ok(!options_ok(PS_KIND_VAULT_KV2, "{\"mount\":\"/kv\"}"), "mount with a leading slash is refused");
	ok(!options_ok(PS_KIND_VAULT_KV2, "{\"namespace\":\"a\\r\\nX-Evil: 1\"}"), "namespace with CR LF is refused");
	ok(!options_ok(PS_KIND_VAULT_KV2, "{\"timeout_ms\":0}"), "timeout_ms 0 is refused");
	ok(!options_ok(PS_KIND_VAULT_KV2, "{\"timeout_ms\":600000}"), "timeout_ms over 60 s is refused");
	ok(!options_ok(PS_KIND_VAULT_KV2, "{\"timeout_ms\":\"5000\"}"), "timeout_ms as a string is refused");
	ok(!options_ok(PS_KIND_VAULT_KV2, "{\"cache_ttl_s\":-1}"), "negative cache_ttl_s is refused");
	ok(!options_ok(PS_KIND_VAULT_KV2, "{\"project_id\":\"x\"}"), "project_id is not a vault-kv2 option");
	ok(!options_ok(PS_KIND_INFISICAL, "{}"), "infisical needs project_id");
	ok(!options_ok(PS_KIND_INFISICAL, "{\"project_id\":\"a&b\"}"), "project_id with & is refused");
	ok(!options_ok(PS_KIND_INFISICAL, "{\"project_id\":\"p\",\"environment\":\"\"}"), "empty environment is refused");
	ok(options_ok(PS_KIND_HTTP_JSON, "{\"pointer\":\"/a/b~1c/0\"}"), "pointer with ~1 and an index is accepted");
	ok(options_ok(PS_KIND_HTTP_JSON, "{\"pointer\":\"\"}"), "the empty pointer (whole document) is accepted");
	ok(!options_ok(PS_KIND_HTTP_JSON, "{\"pointer\":\"value\"}"), "pointer without a leading / is refused");
	ok(!options_ok(PS_KIND_HTTP_JSON, "{\"pointer\":\"/a~2\"}"), "pointer with ~2 is refused");
	ok(!options_ok(PS_KIND_HTTP_JSON, "[]"), "an array is not an options object");
	ok(!options_ok(PS_KIND_HTTP_JSON, "{\"timeout_ms\":1,\"timeout_ms\":2}"), "duplicate keys are refused");
	ok(!options_ok(PS_KIND_HTTP_JSON, "{"), "malformed JSON is refused");

	(void) opts_of(PS_KIND_HTTP_JSON, "{\"sk-canary-value-123456\":1}", &parsed, err);
	ok(!parsed && strstr(err, "sk-canary") == NULL, "an unknown key that is not a name is not quoted");
	(void) opts_of(PS_KIND_HTTP_JSON, "{\"colour\":1}", &parsed, err);
	ok(!parsed && strstr(err, "colour") != NULL, "an unknown option name is quoted");

	o = opts_of(PS_KIND_INFISICAL, "{\"project_id\":\"p1\",\"timeout_ms\":300}", &parsed, err);
	json = ps_resolver_options_json(PS_KIND_INFISICAL, &o);
	ok(json != NULL && strcmp(json, "{\"breaker_cooldown_s\":30,\"breaker_failures\":5,\"cache_ttl_s\":0,\"environment\":\"prod\",\"project_id\":\"p1\",\"timeout_ms\":300}") == 0,
	   "canonical options JSON shows the defaults, sorted");
	free(json);
}

static void
test_new_options(void)
{
	char		err[200];
	int			parsed;
	PsResolverOptions o;
	char	   *json;

	o = opts_of(PS_KIND_INFISICAL, "{\"project_id\":\"p1\",\"client_id\":\"4bd5-a1.b_c\"}", &parsed, err);
	ok(parsed && strcmp(o.client_id, "4bd5-a1.b_c") == 0, "infisical accepts client_id");
	ok(!options_ok(PS_KIND_INFISICAL, "{\"project_id\":\"p1\",\"client_id\":\"a b\"}"), "client_id with a space is refused");
	ok(!options_ok(PS_KIND_VAULT_KV2, "{\"client_id\":\"x\"}"), "client_id is not a vault-kv2 option");

	o = opts_of(PS_KIND_HTTP_JSON, "{\"ca_file\":\"/etc/provsecret/ca.pem\"}", &parsed, err);
	ok(parsed && strcmp(o.ca_file, "/etc/provsecret/ca.pem") == 0, "ca_file: an absolute path, every kind");
	ok(!options_ok(PS_KIND_HTTP_JSON, "{\"ca_file\":\"ca.pem\"}"), "ca_file: a relative path is refused");
	ok(!options_ok(PS_KIND_HTTP_JSON, "{\"ca_file\":\"/\"}"), "ca_file: / alone is refused");
	ok(!options_ok(PS_KIND_HTTP_JSON, "{\"ca_file\":\"/etc/../ca.pem\"}"), "ca_file: a .. segment is refused");
	ok(!options_ok(PS_KIND_HTTP_JSON, "{\"ca_file\":\"/etc/ca.pem\\n\"}"), "ca_file: a newline is refused");
	ok(!options_ok(PS_KIND_HTTP_JSON, "{\"ca_file\":1}"), "ca_file: a number is refused");
	(void) opts_of(PS_KIND_HTTP_JSON, "{\"ca_file\":\"ca.pem\"}", &parsed, err);
	ok(strstr(err, "absolute path") != NULL, "ca_file: the error says it must be absolute");

	o = opts_of(PS_KIND_VAULT_KV2, "{\"version\":3,\"soft_delete\":true}", &parsed, err);
	ok(parsed && o.vault_version == 3 && o.soft_delete, "vault-kv2 accepts version and soft_delete");
	ok(!options_ok(PS_KIND_VAULT_KV2, "{\"version\":0}"), "version 0 is refused");
	ok(!options_ok(PS_KIND_VAULT_KV2, "{\"version\":\"2\"}"), "version as a string is refused");
	ok(!options_ok(PS_KIND_VAULT_KV2, "{\"soft_delete\":\"yes\"}"), "soft_delete must be a boolean");
	ok(!options_ok(PS_KIND_INFISICAL, "{\"project_id\":\"p\",\"version\":1}"), "version is not an infisical option");

	json = ps_resolver_options_json(PS_KIND_VAULT_KV2, &o);
	ok(json != NULL && strstr(json, "\"soft_delete\":true") && strstr(json, "\"version\":3"),
	   "canonical JSON shows version and soft_delete when set");
	free(json);
	o = opts_of(PS_KIND_VAULT_KV2, "{}", &parsed, err);
	json = ps_resolver_options_json(PS_KIND_VAULT_KV2, &o);
	ok(json != NULL && strstr(json, "soft_delete") == NULL && strstr(json, "version") == NULL &&
	   strstr(json, "ca_file") == NULL, "... and not when unset");
	free(json);
}

static PsExtractResult
login_parse(const char *body, char **token, size_t *token_len, long *expires)
{
	return ps_resolver_login_parse(body, strlen(body), token, token_len, expires);
}

static void
test_writes_and_login(void)
{
	char		err[200];
	int			parsed;
	PsResolverOptions o;
	char	   *url;
	char	   *body;
	size_t		body_len;
	const char *method;
	char	   *token;
	size_t		token_len;
	long		expires;

	o = opts_of(PS_KIND_VAULT_KV2, "{}", &parsed, err);
	ok(ps_resolver_write_request(PS_KIND_VAULT_KV2, &o, "http://127.0.0.1:1", "a/b", PS_WRITE_DELETE,
								 NULL, 0, &url, &method, &body, &body_len, err, sizeof(err)) &&
	   strcmp(url, "http://127.0.0.1:1/v1/secret/metadata/a/b") == 0 && strcmp(method, "DELETE") == 0 &&
	   body == NULL, "vault-kv2 delete: DELETE metadata/<path> (every version)");
	free(url);
	o = opts_of(PS_KIND_VAULT_KV2, "{\"soft_delete\":true}", &parsed, err);
	ok(ps_resolver_write_request(PS_KIND_VAULT_KV2, &o, "http://127.0.0.1:1", "a/b", PS_WRITE_DELETE,
								 NULL, 0, &url, &method, &body, &body_len, err, sizeof(err)) &&
	   strcmp(url, "http://127.0.0.1:1/v1/secret/data/a/b") == 0,
	   "vault-kv2 delete with soft_delete: DELETE data/<path>");
	free(url);
	o = opts_of(PS_KIND_VAULT_KV2, "{\"version\":7}", &parsed, err);
	ok(ps_resolver_write_request(PS_KIND_VAULT_KV2, &o, "http://127.0.0.1:1", "a", PS_WRITE_CREATE,
								 "v", 1, &url, &method, &body, &body_len, err, sizeof(err)) &&
	   strcmp(url, "http://127.0.0.1:1/v1/secret/data/a") == 0, "vault-kv2 writes ignore version");
	free(url);
	ps_resolver_free_body(body, body_len);

	o = opts_of(PS_KIND_INFISICAL, "{\"project_id\":\"p\",\"client_id\":\"cid\"}", &parsed, err);
	ok(ps_resolver_login_request(&o, "https://app.infisical.com/", "s\"e\\c", 5, &url, &body, &body_len,
								 err, sizeof(err)) &&
	   strcmp(url, "https://app.infisical.com/api/v1/auth/universal-auth/login") == 0 &&
	   strcmp(body, "{\"clientId\":\"cid\",\"clientSecret\":\"s\\\"e\\\\c\"}") == 0,
	   "universal-auth login: URL and JSON body, the secret escaped");
	free(url);
	ps_resolver_free_body(body, body_len);
	ok(!ps_resolver_login_request(&o, "https://x", "\xff", 1, &url, &body, &body_len, err, sizeof(err)),
	   "universal-auth login: a secret that is not UTF-8 is refused");

	ok(login_parse("{\"accessToken\":\"ey.a\",\"expiresIn\":7200,\"tokenType\":\"Bearer\"}",
							   &token, &token_len, &expires) == PS_EXTRACT_OK &&
	   strcmp(token, "ey.a") == 0 && token_len == 4 && expires == 7200,
	   "login response: accessToken and expiresIn");
	free(token);
	ok(login_parse("{\"accessToken\":\"t\"}", &token, &token_len, &expires) == PS_EXTRACT_OK &&
	   expires == -1, "login response without expiresIn: not cached (-1)");
	free(token);
	ok(login_parse("{\"accessToken\":\"t\",\"expiresIn\":-5}", &token, &token_len, &expires) == PS_EXTRACT_OK &&
	   expires == -1, "login response with a negative expiresIn: -1");
	free(token);
	ok(login_parse("{\"expiresIn\":5}", &token, &token_len, &expires) == PS_EXTRACT_MISSING,
	   "login response without accessToken is missing");
	ok(login_parse("{\"accessToken\":5}", &token, &token_len, &expires) == PS_EXTRACT_NOT_STRING,
	   "login response with a number as accessToken");
	ok(login_parse("<html>", &token, &token_len, &expires) == PS_EXTRACT_MALFORMED,
	   "login response that is not JSON is malformed");
}

static void
test_urls(void)
{
	char		err[200];
	int			parsed;
	PsResolverOptions o;

	ok(url_is(PS_KIND_VAULT_KV2, "{}", "http://127.0.0.1:8200", "team/openai", "",
			  "http://127.0.0.1:8200/v1/secret/data/team/openai"), "vault-kv2 URL");
	ok(url_is(PS_KIND_VAULT_KV2, "{\"mount\":\"kv/a\"}", "https://vault.example.com/", "x", "f",
			  "https://vault.example.com/v1/kv/a/data/x"), "vault-kv2 URL with a mount; trailing / of base dropped");
	ok(url_is(PS_KIND_VAULT_KV2, "{}", "http://127.0.0.1:1", "a b/c?d=1&e%", "",
			  "http://127.0.0.1:1/v1/secret/data/a%20b/c%3Fd%3D1%26e%25"), "vault-kv2 path is percent-encoded");
	ok(url_is(PS_KIND_INFISICAL, "{\"project_id\":\"p1\"}", "http://127.0.0.1:1", "OPENAI", "",
			  "http://127.0.0.1:1/api/v3/secrets/raw/OPENAI?workspaceId=p1&environment=prod&secretPath=%2F"),
	   "infisical URL at the root");
	ok(url_is(PS_KIND_INFISICAL, "{\"project_id\":\"p1\",\"environment\":\"dev\"}", "http://127.0.0.1:1/base", "team/llm/OPENAI", "",
			  "http://127.0.0.1:1/base/api/v3/secrets/raw/OPENAI?workspaceId=p1&environment=dev&secretPath=%2Fteam%2Fllm"),
	   "infisical URL with folders");
	ok(url_is(PS_KIND_VAULT_KV2, "{\"version\":2}", "http://127.0.0.1:8200", "team/openai", "",
			  "http://127.0.0.1:8200/v1/secret/data/team/openai?version=2"), "vault-kv2 URL with version");
	ok(url_is(PS_KIND_HTTP_JSON, "{}", "http://localhost:9/secrets", "a/b", "",
			  "http://localhost:9/secrets/a/b"), "http-json URL");

	o = opts_of(PS_KIND_INFISICAL, "{\"project_id\":\"p1\"}", &parsed, err);
	ok(ps_resolver_url(PS_KIND_INFISICAL, &o, "http://127.0.0.1:1", "a", "f", err, sizeof(err)) == NULL,
	   "infisical refuses a #field");
	ok(ps_resolver_url(PS_KIND_INFISICAL, &o, "http://127.0.0.1:1", "a/", "", err, sizeof(err)) == NULL,
	   "infisical refuses a path ending in /");
}

static void
test_extract(void)
{
	char	   *v = NULL;
	const char *vault = "{\"request_id\":\"r\",\"data\":{\"data\":{\"value\":\"sk-one\",\"password\":\"pw\",\"n\":3},"
		"\"metadata\":{\"version\":2,\"destroyed\":false}}}";

	ok(extracts(PS_KIND_VAULT_KV2, "{}", "", vault, "sk-one"), "vault-kv2: data.data.value");
	ok(extracts(PS_KIND_VAULT_KV2, "{}", "password", vault, "pw"), "vault-kv2: data.data.<field>");
	ok(extract(PS_KIND_VAULT_KV2, "{}", "nope", vault, &v) == PS_EXTRACT_MISSING, "vault-kv2: missing field");
	ok(extract(PS_KIND_VAULT_KV2, "{}", "n", vault, &v) == PS_EXTRACT_NOT_STRING, "vault-kv2: a number is not a value");
	ok(extract(PS_KIND_VAULT_KV2, "{}", "", "{\"data\":{\"data\":null,\"metadata\":{}}}", &v) == PS_EXTRACT_MISSING,
	   "vault-kv2: deleted version (data null) is missing");
	ok(extract(PS_KIND_VAULT_KV2, "{}", "", "{\"errors\":[]}", &v) == PS_EXTRACT_MALFORMED, "vault-kv2: no data is malformed");
	ok(extract(PS_KIND_VAULT_KV2, "{}", "", "{\"data\":{\"data\":{\"value\":\"x", &v) == PS_EXTRACT_MALFORMED,
	   "vault-kv2: truncated JSON is malformed");
	ok(extract(PS_KIND_VAULT_KV2, "{}", "", "<html>hi</html>", &v) == PS_EXTRACT_MALFORMED, "vault-kv2: HTML is malformed");
	ok(extract(PS_KIND_VAULT_KV2, "{}", "", "", &v) == PS_EXTRACT_MALFORMED, "vault-kv2: empty body is malformed");

	ok(extracts(PS_KIND_INFISICAL, "{\"project_id\":\"p\"}", "",
				"{\"secret\":{\"secretKey\":\"K\",\"secretValue\":\"sk-inf\",\"version\":1}}", "sk-inf"),
	   "infisical: secret.secretValue");
	ok(extract(PS_KIND_INFISICAL, "{\"project_id\":\"p\"}", "", "{\"secrets\":[]}", &v) == PS_EXTRACT_MALFORMED,
	   "infisical: no secret object is malformed");

	ok(extracts(PS_KIND_HTTP_JSON, "{}", "", "{\"value\":\"v1\"}", "v1"), "http-json: default pointer /value");
	ok(extracts(PS_KIND_HTTP_JSON, "{\"pointer\":\"/a/b~1c/1\"}", "", "{\"a\":{\"b/c\":[\"x\",\"y\"]}}", "y"),
	   "http-json: pointer through an escaped key and an index");
	ok(extracts(PS_KIND_HTTP_JSON, "{\"pointer\":\"\"}", "", "\"whole\"", "whole"), "http-json: empty pointer, string document");
	ok(extracts(PS_KIND_HTTP_JSON, "{}", "token", "{\"value\":\"v\",\"token\":\"t\"}", "t"), "http-json: #field selects /field");
	ok(extract(PS_KIND_HTTP_JSON, "{\"pointer\":\"/a/01\"}", "", "{\"a\":[\"x\",\"y\"]}", &v) == PS_EXTRACT_MISSING,
	   "http-json: a leading-zero index names nothing");
	ok(extract(PS_KIND_HTTP_JSON, "{\"pointer\":\"/a/9\"}", "", "{\"a\":[\"x\"]}", &v) == PS_EXTRACT_MISSING,
	   "http-json: an index past the end names nothing");
	ok(extract(PS_KIND_HTTP_JSON, "{}", "", "{\"value\":{\"x\":1}}", &v) == PS_EXTRACT_NOT_STRING,
	   "http-json: an object is not a value");
	ok(extract(PS_KIND_HTTP_JSON, "{}", "", "{\"value\":\"a\\u0000b\"}", &v) == PS_EXTRACT_MALFORMED,
	   "http-json: a NUL inside a string is refused");
}

int
main(void)
{
	test_kinds();
	test_options();
	test_new_options();
	test_writes_and_login();
	test_urls();
	test_extract();
	printf("1..%d\n", tests);
	return failures ? 1 : 0;
}
