/*
 * resolver_kind_ops_test.c: what each resolver kind tells its callers
 * (external.c, external_auth.c, binding.c, resolver.c) through its
 * operations table: token and request headers, universal-auth, where a
 * value sits, writes and their retries.  Prints TAP.
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
opts_of(PsResolverKind kind, const char *json)
{
	PsResolverOptions o;
	char		err[200];

	if (!ps_resolver_options_parse(kind, json, strlen(json), &o, err, sizeof(err)))
	{
		printf("# options %s: %s\n", json, err);
		exit(1);
	}
	return o;
}

static int
location_is(PsResolverKind kind, const char *json, const char *field,
			const char *want)
{
	PsResolverOptions o = opts_of(kind, json);
	char		where[PS_RESOLVER_LOCATION_MAX];

	ps_resolver_value_location(kind, &o, field, where, sizeof(where));
	if (strcmp(where, want) != 0)
		printf("# got %s\n", where);
	return strcmp(where, want) == 0;
}

static int
retries(PsResolverKind kind, PsWriteOp op, long status, PsWriteOp want)
{
	PsWriteOp	instead = (PsWriteOp) -1;

	return ps_resolver_write_retry(kind, op, status, &instead) && instead == want;
}

int
main(void)
{
	PsResolverOptions o;
	char		line[300];
	char		field[129];
	char		where[PS_RESOLVER_LOCATION_MAX];

	ok(strcmp(ps_resolver_token_header(PS_KIND_VAULT_KV2), "X-Vault-Token: ") == 0,
	   "vault-kv2 sends its token as X-Vault-Token");
	ok(strcmp(ps_resolver_token_header(PS_KIND_INFISICAL), "Authorization: Bearer ") == 0 &&
	   strcmp(ps_resolver_token_header(PS_KIND_HTTP_JSON), "Authorization: Bearer ") == 0,
	   "infisical and http-json send a bearer token");

	o = opts_of(PS_KIND_VAULT_KV2, "{\"namespace\":\"admin/eng\"}");
	ok(ps_resolver_request_header(PS_KIND_VAULT_KV2, &o, line, sizeof(line)) &&
	   strcmp(line, "X-Vault-Namespace: admin/eng") == 0,
	   "vault-kv2 with a namespace sends X-Vault-Namespace");
	o = opts_of(PS_KIND_VAULT_KV2, "{}");
	ok(!ps_resolver_request_header(PS_KIND_VAULT_KV2, &o, line, sizeof(line)),
	   "... and no header without one");
	o = opts_of(PS_KIND_HTTP_JSON, "{}");
	ok(!ps_resolver_request_header(PS_KIND_HTTP_JSON, &o, line, sizeof(line)),
	   "http-json sends no other header");

	o = opts_of(PS_KIND_INFISICAL, "{\"project_id\":\"p\",\"client_id\":\"cid\"}");
	ok(ps_resolver_logs_in(PS_KIND_INFISICAL, &o), "infisical with client_id logs in (universal-auth)");
	o = opts_of(PS_KIND_INFISICAL, "{\"project_id\":\"p\"}");
	ok(!ps_resolver_logs_in(PS_KIND_INFISICAL, &o), "infisical without client_id sends its token");
	o = opts_of(PS_KIND_VAULT_KV2, "{}");
	ok(!ps_resolver_logs_in(PS_KIND_VAULT_KV2, &o), "vault-kv2 never logs in");

	ok(location_is(PS_KIND_VAULT_KV2, "{}", "", "data.data.value") &&
	   location_is(PS_KIND_VAULT_KV2, "{}", "password", "data.data.password"),
	   "vault-kv2: the value is at data.data.<field or value>");
	ok(location_is(PS_KIND_INFISICAL, "{\"project_id\":\"p\"}", "", "secret.secretValue"),
	   "infisical: the value is at secret.secretValue");
	ok(location_is(PS_KIND_HTTP_JSON, "{\"pointer\":\"/a/b\"}", "", "/a/b") &&
	   location_is(PS_KIND_HTTP_JSON, "{}", "token", "/token"),
	   "http-json: the value is at the pointer, or /<field>");
	/* a #field has at most PS_NAME_MAX (128) bytes, a pointer 256 */
	memset(field, 'f', 128);
	field[128] = '\0';
	o = opts_of(PS_KIND_VAULT_KV2, "{}");
	ps_resolver_value_location(PS_KIND_VAULT_KV2, &o, field, where, sizeof(where));
	ok(strlen(where) == strlen("data.data.") + 128,
	   "a location with the longest field is whole");
	snprintf(line, sizeof(line), "{\"pointer\":\"/%0255d\"}", 0);
	o = opts_of(PS_KIND_HTTP_JSON, line);
	ps_resolver_value_location(PS_KIND_HTTP_JSON, &o, "", where, sizeof(where));
	ok(strlen(where) == 256, "a location with the longest pointer is whole");

	ok(!ps_resolver_response_any_json(PS_KIND_VAULT_KV2) &&
	   !ps_resolver_response_any_json(PS_KIND_INFISICAL) &&
	   ps_resolver_response_any_json(PS_KIND_HTTP_JSON),
	   "only http-json takes any JSON document as a response");

	ok(ps_resolver_writable(PS_KIND_VAULT_KV2) && ps_resolver_writable(PS_KIND_INFISICAL) &&
	   !ps_resolver_writable(PS_KIND_HTTP_JSON), "http-json is read-only");
	ok(retries(PS_KIND_INFISICAL, PS_WRITE_CREATE, 400, PS_WRITE_UPDATE) &&
	   retries(PS_KIND_INFISICAL, PS_WRITE_CREATE, 409, PS_WRITE_UPDATE) &&
	   retries(PS_KIND_INFISICAL, PS_WRITE_UPDATE, 404, PS_WRITE_CREATE),
	   "infisical: a create of a secret that is there updates, an update of one that is not creates");
	ok(!retries(PS_KIND_INFISICAL, PS_WRITE_CREATE, 404, PS_WRITE_UPDATE) &&
	   !retries(PS_KIND_INFISICAL, PS_WRITE_UPDATE, 409, PS_WRITE_CREATE) &&
	   !retries(PS_KIND_INFISICAL, PS_WRITE_CREATE, 200, PS_WRITE_UPDATE) &&
	   !retries(PS_KIND_INFISICAL, PS_WRITE_DELETE, 404, PS_WRITE_CREATE),
	   "... and nothing else is retried");
	ok(!retries(PS_KIND_VAULT_KV2, PS_WRITE_CREATE, 400, PS_WRITE_UPDATE) &&
	   !retries(PS_KIND_VAULT_KV2, PS_WRITE_UPDATE, 404, PS_WRITE_CREATE),
	   "vault-kv2 writes are never retried (POST creates and updates)");
	ok(ps_resolver_delete_tells_missing(PS_KIND_INFISICAL) &&
	   !ps_resolver_delete_tells_missing(PS_KIND_VAULT_KV2),
	   "infisical's delete answers 404 for a missing secret, Vault's 204 either way");

	printf("1..%d\n", tests);
	return failures != 0;
}
