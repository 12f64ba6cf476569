/*
 * kind_vault_kv2.c: the vault-kv2 resolver kind (HashiCorp Vault's KV
 * version 2 engine): its options, read URL, response and writes.  Pure C:
 * no postgres.h.
 */
#include <stdio.h>
#include <string.h>

#include "external/resolver_kind_ops.h"

static bool
check_mount(const char *s, size_t max)
{
	return ps_kind_is_segment_path(s, max);
}

static const PsOptionRule vault_options[] = {
	PS_OPTION_INT_RULE("version", vault_version, 1, PS_VAULT_VERSION_MAX, false),
	PS_OPTION_BOOL_RULE("soft_delete", soft_delete),
	PS_OPTION_STRING_RULE("mount", mount, check_mount,
						  "segments of [A-Za-z0-9_.-] separated by /", true),
	PS_OPTION_STRING_RULE("namespace", vault_namespace, check_mount,
						  "segments of [A-Za-z0-9_.-] separated by /", false),
};

/* {base}/v1/{mount}/data/{path}, ?version= when one is pinned */
static bool
vault_read_url(PsKindBuf *b, const PsResolverOptions *opts, const char *path,
			   const char *field, char *err, size_t errlen)
{
	(void) field;
	(void) err;
	(void) errlen;
	ps_kind_buf_str(b, "/v1/");
	ps_kind_buf_encoded(b, opts->mount, strlen(opts->mount), true);
	ps_kind_buf_str(b, "/data/");
	ps_kind_buf_encoded(b, path, strlen(path), true);
	if (opts->vault_version > 0)
	{
		char		version[24];

		snprintf(version, sizeof(version), "?version=%d", opts->vault_version);
		ps_kind_buf_str(b, version);
	}
	return true;
}

/* data.data.{field, or "value"}; data.data null (deleted) names nothing */
static PsExtractResult
vault_extract(json_t *root, const PsResolverOptions *opts, const char *field,
			  json_t **value)
{
	json_t	   *data = json_object_get(root, "data");
	json_t	   *inner = json_is_object(data) ? json_object_get(data, "data") : NULL;

	(void) opts;
	*value = NULL;
	if (!json_is_object(data) ||
		(inner != NULL && !json_is_object(inner) && !json_is_null(inner)))
		return PS_EXTRACT_MALFORMED;
	if (json_is_object(inner))
		*value = json_object_get(inner, field[0] ? field : "value");
	return PS_EXTRACT_OK;
}

static bool
vault_write_request(PsKindBuf *b, const PsResolverOptions *opts,
					const char *path, PsWriteOp op, const char *value,
					size_t value_len, const char **method, json_t **body)
{
	ps_kind_buf_str(b, "/v1/");
	ps_kind_buf_encoded(b, opts->mount, strlen(opts->mount), true);
	/* metadata/: every version and the key itself, not only the latest */
	ps_kind_buf_str(b, op == PS_WRITE_DELETE && !opts->soft_delete ? "/metadata/" : "/data/");
	ps_kind_buf_encoded(b, path, strlen(path), true);
	if (op == PS_WRITE_DELETE)
	{
		*method = "DELETE";
		return true;
	}
	*method = "POST";
	*body = json_pack("{s:{s:s%}}", "data", "value", value, value_len);
	return *body != NULL;
}

/* the namespace of Vault Enterprise, when the resolver names one */
static bool
vault_request_header(const PsResolverOptions *opts, char *line, size_t len)
{
	if (opts->vault_namespace[0] == '\0')
		return false;
	snprintf(line, len, "X-Vault-Namespace: %s", opts->vault_namespace);
	return true;
}

static void
vault_value_location(const PsResolverOptions *opts, const char *field,
					 char *buf, size_t len)
{
	(void) opts;
	snprintf(buf, len, "data.data.%s", field[0] ? field : "value");
}

const PsResolverKindOps ps_kind_vault_kv2 = {
	.kind = PS_KIND_VAULT_KV2,
	.name = "vault-kv2",
	.options = vault_options,
	.n_options = sizeof(vault_options) / sizeof(vault_options[0]),
	.read_url = vault_read_url,
	.extract = vault_extract,
	.write_request = vault_write_request,
	/* Vault answers 204 whether or not the secret existed */
	.delete_tells_missing = false,
	.token_header = "X-Vault-Token: ",
	.request_header = vault_request_header,
	.value_location = vault_value_location,
};
