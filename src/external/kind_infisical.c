/*
 * kind_infisical.c: the infisical resolver kind (Infisical's v3 raw secrets
 * API): its options, read URL, response and writes, and the universal-auth
 * login that turns a machine identity's client secret into an access
 * token.  Pure C: no postgres.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "external/resolver_kind_ops.h"
#include "external/resolver_kinds.h"

static bool
check_project_id(const char *s, size_t max)
{
	return ps_kind_is_token(s, max, "_-");
}

static bool
check_environment(const char *s, size_t max)
{
	return ps_kind_is_token(s, max, "_.-");
}

static bool
check_client_id(const char *s, size_t max)
{
	return ps_kind_is_token(s, max, "_.-");
}

static const PsOptionRule infisical_options[] = {
	PS_OPTION_STRING_RULE("client_id", client_id, check_client_id,
						  "1 to 128 of [A-Za-z0-9_.-]", false),
	PS_OPTION_STRING_RULE("project_id", project_id, check_project_id,
						  "1 to 128 of [A-Za-z0-9_-]", true),
	PS_OPTION_STRING_RULE("environment", environment, check_environment,
						  "1 to 64 of [A-Za-z0-9_.-]", true),
};

/* project_id has no default, and an accepted one is never empty */
static bool
infisical_options_check(const PsResolverOptions *opts, char *err, size_t errlen)
{
	if (opts->project_id[0] == '\0')
	{
		snprintf(err, errlen, "infisical resolvers need the option project_id");
		return false;
	}
	return true;
}

/*
 * {base}/api/v3/secrets/raw/{name}?workspaceId=…&environment=…&secretPath=
 * /{dirs}: the last segment of path is the secret's name.
 */
static bool
infisical_read_url(PsKindBuf *b, const PsResolverOptions *opts,
				   const char *path, const char *field, char *err,
				   size_t errlen)
{
	const char *slash;

	if (field[0] != '\0')
	{
		snprintf(err, errlen, "infisical references take no #field");
		return false;
	}
	slash = strrchr(path, '/');
	if (slash != NULL && slash[1] == '\0')
	{
		snprintf(err, errlen, "an infisical path must end with a secret name");
		return false;
	}
	ps_kind_buf_str(b, "/api/v3/secrets/raw/");
	if (slash == NULL)
		ps_kind_buf_encoded(b, path, strlen(path), false);
	else
		ps_kind_buf_encoded(b, slash + 1, strlen(slash + 1), false);
	ps_kind_buf_str(b, "?workspaceId=");
	ps_kind_buf_encoded(b, opts->project_id, strlen(opts->project_id), false);
	ps_kind_buf_str(b, "&environment=");
	ps_kind_buf_encoded(b, opts->environment, strlen(opts->environment), false);
	ps_kind_buf_str(b, "&secretPath=%2F");
	if (slash != NULL)
		ps_kind_buf_encoded(b, path, (size_t) (slash - path), false);
	return true;
}

/* secret.secretValue */
static PsExtractResult
infisical_extract(json_t *root, const PsResolverOptions *opts,
				  const char *field, json_t **value)
{
	json_t	   *secret = json_object_get(root, "secret");

	(void) opts;
	(void) field;
	*value = NULL;
	if (!json_is_object(secret))
		return PS_EXTRACT_MALFORMED;
	*value = json_object_get(secret, "secretValue");
	return PS_EXTRACT_OK;
}

/* POST (create) / PATCH (update) / DELETE, always with a body */
static bool
infisical_write_request(PsKindBuf *b, const PsResolverOptions *opts,
						const char *path, PsWriteOp op, const char *value,
						size_t value_len, const char **method, json_t **body)
{
	const char *slash = strrchr(path, '/');
	const char *name = slash ? slash + 1 : path;
	char		dirs[PS_WRITE_PATH_MAX + 2];
	json_t	   *o;

	snprintf(dirs, sizeof(dirs), "/%.*s",
			 slash ? (int) (slash - path) : 0, path);
	ps_kind_buf_str(b, "/api/v3/secrets/raw/");
	ps_kind_buf_encoded(b, name, strlen(name), false);
	*method = op == PS_WRITE_CREATE ? "POST" :
		op == PS_WRITE_UPDATE ? "PATCH" : "DELETE";
	o = json_pack("{s:s, s:s, s:s, s:s}",
				  "workspaceId", opts->project_id,
				  "environment", opts->environment,
				  "secretPath", dirs,
				  "type", "shared");
	if (o != NULL && op != PS_WRITE_DELETE &&
		json_object_set_new(o, "secretValue",
							json_stringn(value, value_len)) != 0)
	{
		json_decref(o);
		o = NULL;
	}
	*body = o;
	return o != NULL;
}

/*
 * Creating a secret that is there answers 400 or 409; updating one that is
 * not, 404: the other verb then.
 */
static bool
infisical_write_retry(PsWriteOp op, long status, PsWriteOp *instead)
{
	if (op == PS_WRITE_CREATE && (status == 400 || status == 409))
		*instead = PS_WRITE_UPDATE;
	else if (op == PS_WRITE_UPDATE && status == 404)
		*instead = PS_WRITE_CREATE;
	else
		return false;
	return true;
}

/* universal-auth when the resolver names a machine identity's client_id */
static bool
infisical_logs_in(const PsResolverOptions *opts)
{
	return opts->client_id[0] != '\0';
}

static void
infisical_value_location(const PsResolverOptions *opts, const char *field,
						 char *buf, size_t len)
{
	(void) opts;
	(void) field;
	snprintf(buf, len, "secret.secretValue");
}

const PsResolverKindOps ps_kind_infisical = {
	.kind = PS_KIND_INFISICAL,
	.name = "infisical",
	.options = infisical_options,
	.n_options = sizeof(infisical_options) / sizeof(infisical_options[0]),
	.options_check = infisical_options_check,
	.read_url = infisical_read_url,
	.extract = infisical_extract,
	.write_request = infisical_write_request,
	.write_retry = infisical_write_retry,
	.delete_tells_missing = true,
	.token_header = "Authorization: Bearer ",
	.logs_in = infisical_logs_in,
	.value_location = infisical_value_location,
};

bool
ps_resolver_login_request(const PsResolverOptions *opts, const char *base_url,
						  const char *client_secret, size_t secret_len,
						  char **url, char **body, size_t *body_len,
						  char *err, size_t errlen)
{
	PsKindBuf	b = {NULL, 0, 0, true};
	size_t		base_len = strlen(base_url);
	json_t	   *o;

	*url = NULL;
	*body = NULL;
	*body_len = 0;
	while (base_len > 0 && base_url[base_len - 1] == '/')
		base_len--;
	ps_kind_buf_add(&b, base_url, base_len);
	ps_kind_buf_str(&b, "/api/v1/auth/universal-auth/login");
	o = json_pack("{s:s, s:s%}", "clientId", opts->client_id,
				  "clientSecret", client_secret, secret_len);
	if (o != NULL)
		*body = ps_kind_dump_body(o, body_len);
	if (!b.ok || *body == NULL)
	{
		snprintf(err, errlen, "the client secret cannot be sent as JSON");
		ps_resolver_free_body(*body, *body_len);
		*body = NULL;
		free(b.data);
		return false;
	}
	*url = b.data;
	return true;
}

PsExtractResult
ps_resolver_login_parse(const char *body, size_t len, char **token,
						size_t *token_len, long *expires_in)
{
	json_error_t jerr;
	json_t	   *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	json_t	   *t;
	json_t	   *e;
	PsExtractResult result = PS_EXTRACT_OK;

	*token = NULL;
	*token_len = 0;
	*expires_in = -1;
	if (!json_is_object(root))
		result = PS_EXTRACT_MALFORMED;
	else if ((t = json_object_get(root, "accessToken")) == NULL || json_is_null(t))
		result = PS_EXTRACT_MISSING;
	else if (!json_is_string(t) || json_string_length(t) == 0)
		result = PS_EXTRACT_NOT_STRING;
	else
	{
		e = json_object_get(root, "expiresIn");
		if (json_is_integer(e) && json_integer_value(e) > 0 &&
			json_integer_value(e) <= 10L * 365 * 86400)
			*expires_in = (long) json_integer_value(e);
		*token_len = json_string_length(t);
		*token = malloc(*token_len + 1);
		if (*token == NULL)
			result = PS_EXTRACT_MALFORMED;
		else
		{
			memcpy(*token, json_string_value(t), *token_len);
			(*token)[*token_len] = '\0';
		}
	}
	json_decref(root);
	return result;
}
