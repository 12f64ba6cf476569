/*
 * resolver_kinds.c: options, URLs and response parsing of the external
 * backend kinds, with jansson.  Pure C: no postgres.h.
 */
#include "external/resolver_kinds.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

static const struct
{
	PsResolverKind kind;
	const char *name;
}			kind_names[] = {
	{PS_KIND_VAULT_KV2, "vault-kv2"},
	{PS_KIND_INFISICAL, "infisical"},
	{PS_KIND_HTTP_JSON, "http-json"},
};

bool
ps_resolver_kind_parse(const char *name, PsResolverKind *kind)
{
	for (size_t i = 0; i < sizeof(kind_names) / sizeof(kind_names[0]); i++)
		if (strcmp(name, kind_names[i].name) == 0)
		{
			*kind = kind_names[i].kind;
			return true;
		}
	return false;
}

const char *
ps_resolver_kind_name(PsResolverKind kind)
{
	for (size_t i = 0; i < sizeof(kind_names) / sizeof(kind_names[0]); i++)
		if (kind_names[i].kind == kind)
			return kind_names[i].name;
	return "?";
}

/*
 * [A-Za-z0-9], whatever the locale: a backend runs with its database's
 * LC_CTYPE, where isalnum() may accept bytes of UTF-8 text.
 */
static bool
is_ascii_alnum(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		(c >= '0' && c <= '9');
}

/* [A-Za-z0-9_.-]+ segments joined by '/', no "." or ".." segment. */
static bool
is_segment_path(const char *s, size_t max)
{
	size_t		len = strlen(s);
	size_t		seg = 0;

	if (len == 0 || len > max)
		return false;
	for (size_t i = 0; i <= len; i++)
	{
		char		c = s[i];

		if (c == '/' || c == '\0')
		{
			if (seg == 0 || (seg == 1 && s[i - 1] == '.') ||
				(seg == 2 && s[i - 1] == '.' && s[i - 2] == '.'))
				return false;
			seg = 0;
		}
		else if (is_ascii_alnum((unsigned char) c) || c == '_' || c == '.' || c == '-')
			seg++;
		else
			return false;
	}
	return true;
}

static bool
is_token(const char *s, size_t max, const char *extra)
{
	size_t		len = strlen(s);

	if (len == 0 || len > max)
		return false;
	for (const char *p = s; *p; p++)
		if (!is_ascii_alnum((unsigned char) *p) && strchr(extra, *p) == NULL)
			return false;
	return true;
}

/* RFC 6901: "" or "/..." of printable ASCII, "~" only as ~0 or ~1. */
static bool
is_pointer(const char *s, size_t max)
{
	size_t		len = strlen(s);

	if (len > max || (len > 0 && s[0] != '/'))
		return false;
	for (size_t i = 0; i < len; i++)
	{
		if (s[i] < 0x20 || s[i] > 0x7e)
			return false;
		if (s[i] == '~' && s[i + 1] != '0' && s[i + 1] != '1')
			return false;
	}
	return true;
}

static bool
get_int(json_t *v, const char *key, int min, int max, int *out,
		char *err, size_t errlen)
{
	if (!json_is_integer(v) || json_integer_value(v) < min ||
		json_integer_value(v) > max)
	{
		snprintf(err, errlen, "option %s must be an integer from %d to %d",
				 key, min, max);
		return false;
	}
	*out = (int) json_integer_value(v);
	return true;
}

static bool
get_string(json_t *v, const char *key, char *out, size_t outlen,
		   bool (*check) (const char *, size_t), const char *rule,
		   char *err, size_t errlen)
{
	if (!json_is_string(v) || !check(json_string_value(v), outlen - 1))
	{
		snprintf(err, errlen, "option %s must be %s", key, rule);
		return false;
	}
	snprintf(out, outlen, "%s", json_string_value(v));
	return true;
}

static bool
check_mount(const char *s, size_t max)
{
	return is_segment_path(s, max);
}

static bool
check_project_id(const char *s, size_t max)
{
	return is_token(s, max, "_-");
}

static bool
check_environment(const char *s, size_t max)
{
	return is_token(s, max, "_.-");
}

static bool
check_pointer(const char *s, size_t max)
{
	return is_pointer(s, max);
}

static bool
check_client_id(const char *s, size_t max)
{
	return is_token(s, max, "_.-");
}

/* An absolute path of printable ASCII, without . or .. segments. */
static bool
check_ca_file(const char *s, size_t max)
{
	size_t		len = strlen(s);

	if (len < 2 || len > max || s[0] != '/')
		return false;
	for (size_t i = 0; i < len; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			return false;
	return strstr(s, "/./") == NULL && strstr(s, "/../") == NULL &&
		strcmp(s + len - 2, "/.") != 0 && (len < 3 || strcmp(s + len - 3, "/..") != 0);
}

/* One option; false with err set when the key is unknown or its value bad. */
static bool
parse_option(PsResolverKind kind, const char *key, json_t *v,
			 PsResolverOptions *out, bool *has_project, char *err, size_t errlen)
{
	if (strcmp(key, "timeout_ms") == 0)
		return get_int(v, key, PS_RESOLVER_TIMEOUT_MIN, PS_RESOLVER_TIMEOUT_MAX,
					   &out->timeout_ms, err, errlen);
	if (strcmp(key, "cache_ttl_s") == 0)
		return get_int(v, key, 0, PS_RESOLVER_TTL_MAX, &out->cache_ttl_s, err, errlen);
	if (strcmp(key, "breaker_failures") == 0)
		return get_int(v, key, 0, 1000, &out->breaker_failures, err, errlen);
	if (strcmp(key, "breaker_cooldown_s") == 0)
		return get_int(v, key, 1, 3600, &out->breaker_cooldown_s, err, errlen);
	if (strcmp(key, "ca_file") == 0)
		return get_string(v, key, out->ca_file, sizeof(out->ca_file), check_ca_file,
						  "an absolute path of printable ASCII without . or .. segments",
						  err, errlen);
	if (kind == PS_KIND_VAULT_KV2 && strcmp(key, "version") == 0)
		return get_int(v, key, 1, PS_VAULT_VERSION_MAX, &out->vault_version, err, errlen);
	if (kind == PS_KIND_VAULT_KV2 && strcmp(key, "soft_delete") == 0)
	{
		if (!json_is_boolean(v))
		{
			snprintf(err, errlen, "option %s must be true or false", key);
			return false;
		}
		out->soft_delete = json_is_true(v);
		return true;
	}
	if (kind == PS_KIND_INFISICAL && strcmp(key, "client_id") == 0)
		return get_string(v, key, out->client_id, sizeof(out->client_id),
						  check_client_id, "1 to 128 of [A-Za-z0-9_.-]", err, errlen);
	if (kind == PS_KIND_VAULT_KV2 && strcmp(key, "mount") == 0)
		return get_string(v, key, out->mount, sizeof(out->mount), check_mount,
						  "segments of [A-Za-z0-9_.-] separated by /", err, errlen);
	if (kind == PS_KIND_VAULT_KV2 && strcmp(key, "namespace") == 0)
		return get_string(v, key, out->vault_namespace, sizeof(out->vault_namespace),
						  check_mount, "segments of [A-Za-z0-9_.-] separated by /",
						  err, errlen);
	if (kind == PS_KIND_INFISICAL && strcmp(key, "project_id") == 0)
	{
		*has_project = true;
		return get_string(v, key, out->project_id, sizeof(out->project_id),
						  check_project_id, "1 to 128 of [A-Za-z0-9_-]", err, errlen);
	}
	if (kind == PS_KIND_INFISICAL && strcmp(key, "environment") == 0)
		return get_string(v, key, out->environment, sizeof(out->environment),
						  check_environment, "1 to 64 of [A-Za-z0-9_.-]", err, errlen);
	if (kind == PS_KIND_HTTP_JSON && strcmp(key, "pointer") == 0)
		return get_string(v, key, out->pointer, sizeof(out->pointer), check_pointer,
						  "a JSON pointer (RFC 6901) of printable ASCII", err, errlen);

	/* quote the key only when it looks like an option name */
	if (is_token(key, 32, "_"))
		snprintf(err, errlen, "unknown option %s for %s resolvers", key,
				 ps_resolver_kind_name(kind));
	else
		snprintf(err, errlen, "unknown option for %s resolvers",
				 ps_resolver_kind_name(kind));
	return false;
}

bool
ps_resolver_options_parse(PsResolverKind kind, const char *json, size_t len,
						  PsResolverOptions *out, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t	   *root;
	const char *key;
	json_t	   *v;
	bool		ok = true;
	bool		has_project = false;

	memset(out, 0, sizeof(*out));
	snprintf(out->mount, sizeof(out->mount), "secret");
	snprintf(out->environment, sizeof(out->environment), "prod");
	snprintf(out->pointer, sizeof(out->pointer), "/value");
	out->timeout_ms = PS_RESOLVER_TIMEOUT_DEFAULT;
	out->breaker_failures = PS_RESOLVER_BREAKER_FAILURES;
	out->breaker_cooldown_s = PS_RESOLVER_BREAKER_COOLDOWN;

	root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(root))
	{
		snprintf(err, errlen, "options must be a JSON object");
		json_decref(root);
		return false;
	}
	json_object_foreach(root, key, v)
	{
		if (!parse_option(kind, key, v, out, &has_project, err, errlen))
		{
			ok = false;
			break;
		}
	}
	if (ok && kind == PS_KIND_INFISICAL && !has_project)
	{
		snprintf(err, errlen, "infisical resolvers need the option project_id");
		ok = false;
	}
	json_decref(root);
	return ok;
}

char *
ps_resolver_options_json(PsResolverKind kind, const PsResolverOptions *opts)
{
	json_t	   *o = json_pack("{s:i, s:i, s:i, s:i}",
							  "timeout_ms", opts->timeout_ms,
							  "cache_ttl_s", opts->cache_ttl_s,
							  "breaker_failures", opts->breaker_failures,
							  "breaker_cooldown_s", opts->breaker_cooldown_s);
	char	   *text;
	char	   *dumped;
	json_free_t jfree;

	if (o == NULL)
		return NULL;
	/* options that are off by default are shown only when set */
	if (opts->ca_file[0])
		json_object_set_new(o, "ca_file", json_string(opts->ca_file));
	switch (kind)
	{
		case PS_KIND_VAULT_KV2:
			json_object_set_new(o, "mount", json_string(opts->mount));
			if (opts->vault_namespace[0])
				json_object_set_new(o, "namespace", json_string(opts->vault_namespace));
			if (opts->vault_version)
				json_object_set_new(o, "version", json_integer(opts->vault_version));
			if (opts->soft_delete)
				json_object_set_new(o, "soft_delete", json_true());
			break;
		case PS_KIND_INFISICAL:
			json_object_set_new(o, "project_id", json_string(opts->project_id));
			json_object_set_new(o, "environment", json_string(opts->environment));
			if (opts->client_id[0])
				json_object_set_new(o, "client_id", json_string(opts->client_id));
			break;
		case PS_KIND_HTTP_JSON:
			json_object_set_new(o, "pointer", json_string(opts->pointer));
			break;
	}
	dumped = json_dumps(o, JSON_SORT_KEYS | JSON_COMPACT);
	json_decref(o);
	if (dumped == NULL)
		return NULL;
	/* json_dumps allocates with jansson's allocator: hand back plain malloc */
	text = strdup(dumped);
	json_get_alloc_funcs(NULL, &jfree);
	jfree(dumped);
	return text;
}

/* A growable string; on allocation failure, ok turns false. */
typedef struct Buf
{
	char	   *data;
	size_t		len;
	size_t		cap;
	bool		ok;
} Buf;

static void
buf_add(Buf *b, const char *s, size_t n)
{
	if (!b->ok)
		return;
	if (b->len + n + 1 > b->cap)
	{
		size_t		cap = (b->len + n + 1) * 2;
		char	   *grown = realloc(b->data, cap);

		if (grown == NULL)
		{
			b->ok = false;
			return;
		}
		b->data = grown;
		b->cap = cap;
	}
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

static void
buf_str(Buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

/* Percent-encode all but RFC 3986 unreserved characters (and '/' if kept). */
static void
buf_encoded(Buf *b, const char *s, size_t n, bool keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";

	for (size_t i = 0; i < n; i++)
	{
		unsigned char c = (unsigned char) s[i];

		if (is_ascii_alnum(c) || c == '-' || c == '.' || c == '_' || c == '~' ||
			(keep_slash && c == '/'))
			buf_add(b, (const char *) &c, 1);
		else
		{
			char		esc[3] = {'%', hex[c >> 4], hex[c & 15]};

			buf_add(b, esc, 3);
		}
	}
}

char *
ps_resolver_url(PsResolverKind kind, const PsResolverOptions *opts,
				const char *base_url, const char *path, const char *field,
				char *err, size_t errlen)
{
	Buf			b = {NULL, 0, 0, true};
	size_t		base_len = strlen(base_url);
	const char *slash;

	while (base_len > 0 && base_url[base_len - 1] == '/')
		base_len--;
	buf_add(&b, base_url, base_len);
	switch (kind)
	{
		case PS_KIND_VAULT_KV2:
			buf_str(&b, "/v1/");
			buf_encoded(&b, opts->mount, strlen(opts->mount), true);
			buf_str(&b, "/data/");
			buf_encoded(&b, path, strlen(path), true);
			if (opts->vault_version > 0)
			{
				char		version[24];

				snprintf(version, sizeof(version), "?version=%d", opts->vault_version);
				buf_str(&b, version);
			}
			break;
		case PS_KIND_INFISICAL:
			if (field[0] != '\0')
			{
				snprintf(err, errlen, "infisical references take no #field");
				free(b.data);
				return NULL;
			}
			slash = strrchr(path, '/');
			if (slash != NULL && slash[1] == '\0')
			{
				snprintf(err, errlen, "an infisical path must end with a secret name");
				free(b.data);
				return NULL;
			}
			buf_str(&b, "/api/v3/secrets/raw/");
			if (slash == NULL)
				buf_encoded(&b, path, strlen(path), false);
			else
				buf_encoded(&b, slash + 1, strlen(slash + 1), false);
			buf_str(&b, "?workspaceId=");
			buf_encoded(&b, opts->project_id, strlen(opts->project_id), false);
			buf_str(&b, "&environment=");
			buf_encoded(&b, opts->environment, strlen(opts->environment), false);
			buf_str(&b, "&secretPath=%2F");
			if (slash != NULL)
				buf_encoded(&b, path, (size_t) (slash - path), false);
			break;
		case PS_KIND_HTTP_JSON:
			buf_str(&b, "/");
			buf_encoded(&b, path, strlen(path), true);
			break;
	}
	if (!b.ok)
	{
		snprintf(err, errlen, "out of memory");
		free(b.data);
		return NULL;
	}
	return b.data;
}

/* RFC 6901 evaluation; NULL when the pointer names nothing. */
static json_t *
pointer_get(json_t *root, const char *pointer)
{
	json_t	   *cur = root;
	const char *p = pointer;

	while (*p == '/' && cur != NULL)
	{
		char		token[257];
		size_t		n = 0;

		p++;
		while (*p && *p != '/' && n < sizeof(token) - 1)
		{
			if (p[0] == '~' && p[1] == '1')
			{
				token[n++] = '/';
				p += 2;
			}
			else if (p[0] == '~' && p[1] == '0')
			{
				token[n++] = '~';
				p += 2;
			}
			else
				token[n++] = *p++;
		}
		token[n] = '\0';
		if (json_is_object(cur))
			cur = json_object_get(cur, token);
		else if (json_is_array(cur))
		{
			char	   *end;
			unsigned long idx;

			if (n == 0 || (n > 1 && token[0] == '0') ||
				token[0] < '0' || token[0] > '9')
				return NULL;
			idx = strtoul(token, &end, 10);
			if (*end != '\0')
				return NULL;
			cur = json_array_get(cur, idx);
		}
		else
			return NULL;
	}
	return *p == '\0' ? cur : NULL;
}

PsExtractResult
ps_resolver_extract(PsResolverKind kind, const PsResolverOptions *opts,
					const char *field, const char *body, size_t len,
					char **value, size_t *value_len)
{
	json_error_t jerr;
	json_t	   *root = json_loadb(body, len, JSON_REJECT_DUPLICATES |
								  (kind == PS_KIND_HTTP_JSON ? JSON_DECODE_ANY : 0),
								  &jerr);
	json_t	   *v = NULL;
	PsExtractResult result = PS_EXTRACT_OK;

	*value = NULL;
	*value_len = 0;
	if (!json_is_object(root) && !(kind == PS_KIND_HTTP_JSON && root != NULL))
		result = PS_EXTRACT_MALFORMED;
	else if (kind == PS_KIND_VAULT_KV2)
	{
		json_t	   *data = json_object_get(root, "data");
		json_t	   *inner = json_is_object(data) ? json_object_get(data, "data") : NULL;

		if (!json_is_object(data) || (inner != NULL && !json_is_object(inner) &&
									  !json_is_null(inner)))
			result = PS_EXTRACT_MALFORMED;
		else if (json_is_object(inner))
			v = json_object_get(inner, field[0] ? field : "value");
	}
	else if (kind == PS_KIND_INFISICAL)
	{
		json_t	   *secret = json_object_get(root, "secret");

		if (!json_is_object(secret))
			result = PS_EXTRACT_MALFORMED;
		else
			v = json_object_get(secret, "secretValue");
	}
	else
	{
		char		pointer[sizeof(opts->pointer) + 4];

		if (field[0])
			snprintf(pointer, sizeof(pointer), "/%s", field);
		else
			snprintf(pointer, sizeof(pointer), "%s", opts->pointer);
		v = pointer_get(root, pointer);
	}

	if (result == PS_EXTRACT_OK)
	{
		if (v == NULL || json_is_null(v))
			result = PS_EXTRACT_MISSING;
		else if (!json_is_string(v))
			result = PS_EXTRACT_NOT_STRING;
		else
		{
			*value_len = json_string_length(v);
			*value = malloc(*value_len + 1);
			if (*value == NULL)
				result = PS_EXTRACT_MALFORMED;
			else
			{
				memcpy(*value, json_string_value(v), *value_len);
				(*value)[*value_len] = '\0';
			}
		}
	}
	json_decref(root);
	return result;
}

void
ps_resolver_free_body(char *body, size_t len)
{
	json_free_t jfree;

	if (body == NULL)
		return;
	/* jansson's allocator may not wipe everywhere this runs (unit tests) */
	memset(body, 0, len);
	__asm__ __volatile__("":::"memory");
	json_get_alloc_funcs(NULL, &jfree);
	jfree(body);
}

/* The JSON text of o, then o freed (its strings, the value among them). */
static char *
dump_body(json_t *o, size_t *len)
{
	char	   *text = json_dumps(o, JSON_COMPACT);

	json_decref(o);
	*len = text ? strlen(text) : 0;
	return text;
}

bool
ps_resolver_write_request(PsResolverKind kind, const PsResolverOptions *opts,
						  const char *base_url, const char *path, PsWriteOp op,
						  const char *value, size_t value_len, char **url,
						  const char **method, char **body, size_t *body_len,
						  char *err, size_t errlen)
{
	Buf			b = {NULL, 0, 0, true};
	size_t		base_len = strlen(base_url);
	json_t	   *o = NULL;

	*url = NULL;
	*body = NULL;
	*body_len = 0;
	*method = NULL;
	if (kind == PS_KIND_HTTP_JSON)
	{
		snprintf(err, errlen, "http-json resolvers are read-only");
		return false;
	}
	if (!is_segment_path(path, PS_WRITE_PATH_MAX))
	{
		snprintf(err, errlen, "the secret path cannot be written");
		return false;
	}
	while (base_len > 0 && base_url[base_len - 1] == '/')
		base_len--;
	buf_add(&b, base_url, base_len);
	if (kind == PS_KIND_VAULT_KV2)
	{
		buf_str(&b, "/v1/");
		buf_encoded(&b, opts->mount, strlen(opts->mount), true);
		/* metadata/: every version and the key itself, not only the latest */
		buf_str(&b, op == PS_WRITE_DELETE && !opts->soft_delete ? "/metadata/" : "/data/");
		buf_encoded(&b, path, strlen(path), true);
		if (op == PS_WRITE_DELETE)
			*method = "DELETE";
		else
		{
			*method = "POST";
			o = json_pack("{s:{s:s%}}", "data", "value", value, value_len);
		}
	}
	else
	{
		const char *slash = strrchr(path, '/');
		const char *name = slash ? slash + 1 : path;
		char		dirs[PS_WRITE_PATH_MAX + 2];

		snprintf(dirs, sizeof(dirs), "/%.*s",
				 slash ? (int) (slash - path) : 0, path);
		buf_str(&b, "/api/v3/secrets/raw/");
		buf_encoded(&b, name, strlen(name), false);
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
	}
	if (o != NULL)
		*body = dump_body(o, body_len);
	if (!b.ok || ((*method)[0] != 'D' && *body == NULL) ||
		(kind == PS_KIND_INFISICAL && *body == NULL))
	{
		/* json_pack fails on a value that is not UTF-8, too */
		snprintf(err, errlen, "the value cannot be sent as JSON");
		ps_resolver_free_body(*body, *body_len);
		*body = NULL;
		free(b.data);
		return false;
	}
	*url = b.data;
	return true;
}

bool
ps_resolver_login_request(const PsResolverOptions *opts, const char *base_url,
						  const char *client_secret, size_t secret_len,
						  char **url, char **body, size_t *body_len,
						  char *err, size_t errlen)
{
	Buf			b = {NULL, 0, 0, true};
	size_t		base_len = strlen(base_url);
	json_t	   *o;

	*url = NULL;
	*body = NULL;
	*body_len = 0;
	while (base_len > 0 && base_url[base_len - 1] == '/')
		base_len--;
	buf_add(&b, base_url, base_len);
	buf_str(&b, "/api/v1/auth/universal-auth/login");
	o = json_pack("{s:s, s:s%}", "clientId", opts->client_id,
				  "clientSecret", client_secret, secret_len);
	if (o != NULL)
		*body = dump_body(o, body_len);
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
