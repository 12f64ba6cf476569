/*
 * vault_parse_test.c: the Vault KV v2 dialect's parsers of hostile input
 * (paths, methods, ?version, JSON bodies, a JWT's exp), outside a server.
 * Prints TAP.
 *
 * unit-sources: src/rest/vault_parse.c src/rest/rest_parse.c
 * unit-libs: -ljansson -lsodium
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "rest/vault_parse.h"

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
match(const char *path, const char *method, bool list, int status,
	  PsVaultRoute route, const char *tenant, const char *name)
{
	PsVaultMatch m;

	ps_vault_match(path, method, "secret", list, &m);
	ok(m.status == status && (status != 0 || m.route == route) &&
	   (tenant == NULL || strcmp(m.tenant, tenant) == 0) &&
	   (name == NULL || strcmp(m.name, name) == 0),
	   "%s %s%s -> %d (got %d, route %d)", method, path, list ? "?list=true" : "",
	   status, m.status, m.route);
}

static const char *
write_body(const char *body, PsVaultWrite *w)
{
	const char *msg = ps_vault_parse_write(body, strlen(body), w);

	if (w->root)
		json_decref((json_t *) w->root);
	return msg;
}

static char *
fake_jwt(const char *payload)
{
	static char out[512];
	char		b64[400];

	sodium_bin2base64(b64, sizeof(b64), (const unsigned char *) payload,
					  strlen(payload), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	snprintf(out, sizeof(out), "eyJhbGciOiJSUzI1NiJ9.%s.c2ln", b64);
	return out;
}

int
main(void)
{
	PsVaultWrite w;
	int			v;
	char		big[20100];
	char		body[20200];

	/* which paths the dialect claims */
	ok(ps_vault_claims("/v1/secret/data/project/a/b", "secret"), "claims the mount");
	ok(ps_vault_claims("/v1/sys/health", "secret"), "claims sys");
	ok(ps_vault_claims("/v1/auth/jwt/login", "secret"), "claims auth");
	ok(!ps_vault_claims("/v1/secrets/x", "secret"), "a longer first segment is not the mount");
	ok(ps_vault_claims("/v1/kv/data/project/a/b", "secret") &&
	   ps_vault_claims("/v1/kv/metadata/project/a/", "secret") &&
	   ps_vault_claims("/v1/kv/metadata", "secret"),
	   "a KV v2 path under another mount is the dialect's (its 404)");
	ok(!ps_vault_claims("/v1/workspaces/data/secrets", "secret") &&
	   !ps_vault_claims("/v1/companies/metadata/provider-secrets", "secret") &&
	   !ps_vault_claims("/v1/kv/config", "secret") &&
	   !ps_vault_claims("/v1/kv/datax/y", "secret"),
	   "native routes with a tenant named data stay native");
	ok(!ps_vault_claims("/v1/workspaces/ws/secrets", "secret"), "native routes stay native");
	ok(!ps_vault_claims("/v1/workspaces/ws/secrets", "workspaces"), "a reserved mount claims nothing");
	ok(!ps_vault_claims("/healthz", "secret"), "/healthz is native");

	/* reserved mounts */
	ok(ps_vault_mount_reserved("workspaces") && ps_vault_mount_reserved("companies") &&
	   ps_vault_mount_reserved("projects") && ps_vault_mount_reserved("resolve") &&
	   ps_vault_mount_reserved("openapi.json") && ps_vault_mount_reserved("auth") &&
	   ps_vault_mount_reserved("sys") && ps_vault_mount_reserved("") &&
	   ps_vault_mount_reserved("a/b") && ps_vault_mount_reserved(".."),
	   "native names, empty, slashes and dots are refused as mounts");
	ok(!ps_vault_mount_reserved("secret") && !ps_vault_mount_reserved("kv"), "secret and kv are fine");

	/* routes */
	match("/v1/secret/data/project/ws1/OPENAI_API_KEY", "GET", false, 0, PS_VAULT_DATA, "ws1", "OPENAI_API_KEY");
	match("/v1/secret/data/company/acme/openai", "PUT", false, 0, PS_VAULT_DATA, "acme", "openai");
	match("/v1/secret/data/company/acme/openai", "POST", false, 0, PS_VAULT_DATA, NULL, NULL);
	match("/v1/secret/data/company/acme/openai", "DELETE", false, 0, PS_VAULT_DATA, NULL, NULL);
	match("/v1/secret/data/company/acme/openai", "PATCH", false, 405, 0, NULL, NULL);
	match("/v1/secret/data/company/acme/openai", "OPTIONS", false, 405, 0, NULL, NULL);
	match("/v1/secret/metadata/project/ws1/K", "GET", false, 0, PS_VAULT_METADATA, "ws1", "K");
	match("/v1/secret/metadata/project/ws1/K", "PUT", false, 405, 0, NULL, NULL);
	match("/v1/secret/metadata/project/ws1/", "LIST", false, 0, PS_VAULT_LIST, "ws1", NULL);
	match("/v1/secret/metadata/project/ws1", "LIST", false, 0, PS_VAULT_LIST, "ws1", NULL);
	match("/v1/secret/metadata/project/ws1", "GET", true, 0, PS_VAULT_LIST, "ws1", NULL);
	match("/v1/secret/metadata/project/ws1/K", "LIST", false, 404, 0, NULL, NULL);
	match("/v1/secret/metadata/team/ws1/", "LIST", false, 404, 0, NULL, NULL);
	match("/v1/secret/data/team/ws1/K", "GET", false, 404, 0, NULL, NULL);
	match("/v1/secret/data/project/ws1", "GET", false, 404, 0, NULL, NULL);
	match("/v1/secret/data/project/ws1/K/extra", "GET", false, 404, 0, NULL, NULL);
	match("/v1/secret/data/project//K", "GET", false, 400, 0, NULL, NULL);
	match("/v1/secret/data/project/ws1/a%2Fb", "GET", false, 400, 0, NULL, NULL);
	match("/v1/secret/data/project/ws1/a%0Ab", "GET", false, 400, 0, NULL, NULL);
	match("/v1/secret/data/project/ws1/a%00b", "GET", false, 400, 0, NULL, NULL);
	match("/v1/secret/data/project/ws1/%zz", "GET", false, 400, 0, NULL, NULL);
	match("/v1/secret/config", "GET", false, 404, 0, NULL, NULL);
	match("/v1/secret/a/b/c/d/e/f/g/h/i", "GET", false, 400, 0, NULL, NULL);
	match("/v1/sys/health", "GET", false, 0, PS_VAULT_HEALTH, NULL, NULL);
	match("/v1/sys/health", "POST", false, 405, 0, NULL, NULL);
	match("/v1/sys/seal", "PUT", false, 404, 0, NULL, NULL);
	match("/v1/auth/token/lookup-self", "GET", false, 0, PS_VAULT_LOOKUP_SELF, NULL, NULL);
	match("/v1/auth/token/revoke-self", "PUT", false, 0, PS_VAULT_REVOKE_SELF, NULL, NULL);
	match("/v1/auth/token/revoke-self", "POST", false, 0, PS_VAULT_REVOKE_SELF, NULL, NULL);
	match("/v1/auth/token/revoke-self", "GET", false, 405, 0, NULL, NULL);
	match("/v1/secret/undelete/project/ws1/K", "POST", false, 404, 0, NULL, NULL);
	match("/v1/secret/destroy/project/ws1/K", "PUT", false, 404, 0, NULL, NULL);
	match("/v1/auth/jwt/login", "POST", false, 0, PS_VAULT_JWT_LOGIN, NULL, NULL);
	match("/v1/auth/jwt/login", "PUT", false, 0, PS_VAULT_JWT_LOGIN, NULL, NULL);
	match("/v1/auth/jwt/login", "GET", false, 405, 0, NULL, NULL);
	match("/v1/auth/userpass/login/x", "POST", false, 404, 0, NULL, NULL);
	match("/v1/other/data/project/ws1/K", "GET", false, 404, 0, NULL, NULL);

	/* ?list= */
	ok(ps_vault_parse_bool("true") && ps_vault_parse_bool("1") &&
	   ps_vault_parse_bool("t") && ps_vault_parse_bool("TRUE"), "list flags");
	ok(!ps_vault_parse_bool(NULL) && !ps_vault_parse_bool("") &&
	   !ps_vault_parse_bool("false") && !ps_vault_parse_bool("0") &&
	   !ps_vault_parse_bool("yes"), "not list flags");

	/* ?version */
	ok(ps_vault_parse_version("3", &v) && v == 3, "version=3");
	ok(ps_vault_parse_version("0", &v) && v == 0, "version=0 is the current one");
	ok(!ps_vault_parse_version("-1", &v) &&
	   !ps_vault_parse_version("x", &v) && !ps_vault_parse_version("", &v) &&
	   !ps_vault_parse_version("1234567890", &v), "bad versions refused");

	/* write bodies */
	ok(write_body("{\"data\":{\"key\":\"v\"}}", &w) == NULL && !w.has_cas, "plain write");
	ok(write_body("{\"data\":{\"key\":\"v\"},\"options\":{\"cas\":2}}", &w) == NULL &&
	   w.has_cas && w.cas == 2, "write with cas");
	ok(write_body("{\"data\":{\"key\":\"v\"},\"options\":{}}", &w) == NULL && !w.has_cas, "empty options");
	ok(write_body("{\"data\":{\"key\":\"v\",\"other\":\"x\"}}", &w) != NULL, "another field under data");
	ok(write_body("{\"data\":{\"value\":\"v\"}}", &w) != NULL, "no key");
	ok(write_body("{\"data\":{\"key\":1}}", &w) != NULL, "key not a string");
	ok(write_body("{\"data\":{\"key\":\"\"}}", &w) != NULL, "empty key");
	ok(write_body("{\"data\":[]}", &w) != NULL, "data not an object");
	ok(write_body("{\"data\":{\"key\":\"v\"},\"x\":1}", &w) != NULL, "unknown top-level field");
	ok(write_body("{\"data\":{\"key\":\"v\"},\"options\":{\"cas\":-1}}", &w) != NULL, "negative cas");
	ok(write_body("{\"data\":{\"key\":\"v\"},\"options\":{\"cas\":\"1\"}}", &w) != NULL, "cas as a string");
	ok(write_body("{\"data\":{\"key\":\"v\"},\"options\":{\"ttl\":1}}", &w) != NULL, "unknown option");
	ok(write_body("{\"data\":{\"key\":\"v\",\"key\":\"w\"}}", &w) != NULL, "duplicate key");
	ok(write_body("{\"data\":", &w) != NULL && write_body("[1]", &w) != NULL &&
	   write_body("", &w) != NULL, "not a JSON object");
	memset(big, 'x', 10000);
	big[10000] = '\0';
	snprintf(body, sizeof(body), "{\"data\":{\"key\":\"%s\"}}", big);
	ok(write_body(body, &w) == NULL, "10,000 characters");
	memset(big, 'x', 10001);
	big[10001] = '\0';
	snprintf(body, sizeof(body), "{\"data\":{\"key\":\"%s\"}}", big);
	{
		const char *msg = write_body(body, &w);

		ok(msg != NULL && strstr(msg, "xxx") == NULL, "10,001 characters refused, input not quoted");
	}

	/* login bodies */
	{
		const char *jwt;
		void	   *root;

		ok(ps_vault_parse_login("{\"jwt\":\"a.b.c\",\"role\":\"r\"}", 26, &jwt, &root) == NULL &&
		   strcmp(jwt, "a.b.c") == 0, "login body");
		json_decref(root);
		ok(ps_vault_parse_login("{\"role\":\"r\"}", 12, &jwt, &root) != NULL, "login without jwt");
		json_decref(root);
		ok(ps_vault_parse_login("{\"jwt\":\"a\",\"role\":1}", 20, &jwt, &root) != NULL, "role not a string");
		json_decref(root);
	}

	/* exp of a (verified) JWT */
	ok(ps_vault_jwt_exp(fake_jwt("{\"exp\":1900000000}")) == 1900000000LL, "exp read");
	ok(ps_vault_jwt_exp(fake_jwt("{\"sub\":\"x\"}")) == 0, "no exp");
	ok(ps_vault_jwt_exp("not-a-jwt") == 0 && ps_vault_jwt_exp("a.!!!.c") == 0 &&
	   ps_vault_jwt_exp(NULL) == 0, "garbage gives 0");

	printf("1..%d\n", tests);
	return failures ? 1 : 0;
}
