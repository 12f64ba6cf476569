/*
 * resolver_kinds.c: the external backend kinds behind one interface.  Each
 * kind is an operations table in its own file (resolver_kind_ops.h); here
 * are the kind names, the options every kind has, and the helpers the kinds
 * share: character rules, percent-encoding, RFC 6901 pointers.  Pure C: no
 * postgres.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "external/resolver_kind_ops.h"
#include "external/resolver_kinds.h"

static const PsResolverKindOps *const kinds[] = {
	&ps_kind_vault_kv2,
	&ps_kind_infisical,
	&ps_kind_http_json,
};

/* The operations of kind; NULL for a value that is no kind. */
static const PsResolverKindOps *
kind_ops(PsResolverKind kind)
{
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (kinds[i]->kind == kind)
			return kinds[i];
	return NULL;
}

bool
ps_resolver_kind_parse(const char *name, PsResolverKind *kind)
{
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strcmp(name, kinds[i]->name) == 0)
		{
			*kind = kinds[i]->kind;
			return true;
		}
	return false;
}

const char *
ps_resolver_kind_name(PsResolverKind kind)
{
	const PsResolverKindOps *ops = kind_ops(kind);

	return ops ? ops->name : "?";
}

/*
 * [A-Za-z0-9], whatever the locale: a backend runs with its database's
 * LC_CTYPE, where isalnum() may accept bytes of UTF-8 text.
 */
bool
ps_kind_is_ascii_alnum(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		(c >= '0' && c <= '9');
}

/* [A-Za-z0-9_.-]+ segments joined by '/', no "." or ".." segment. */
bool
ps_kind_is_segment_path(const char *s, size_t max)
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
		else if (ps_kind_is_ascii_alnum((unsigned char) c) || c == '_' || c == '.' || c == '-')
			seg++;
		else
			return false;
	}
	return true;
}

bool
ps_kind_is_token(const char *s, size_t max, const char *extra)
{
	size_t		len = strlen(s);

	if (len == 0 || len > max)
		return false;
	for (const char *p = s; *p; p++)
		if (!ps_kind_is_ascii_alnum((unsigned char) *p) && strchr(extra, *p) == NULL)
			return false;
	return true;
}

/* RFC 6901: "" or "/..." of printable ASCII, "~" only as ~0 or ~1. */
bool
ps_kind_is_pointer(const char *s, size_t max)
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

/* The options of every kind. */
static const PsOptionRule common_options[] = {
	PS_OPTION_INT_RULE("timeout_ms", timeout_ms, PS_RESOLVER_TIMEOUT_MIN,
					   PS_RESOLVER_TIMEOUT_MAX, true),
	PS_OPTION_INT_RULE("cache_ttl_s", cache_ttl_s, 0, PS_RESOLVER_TTL_MAX, true),
	PS_OPTION_INT_RULE("breaker_failures", breaker_failures, 0, 1000, true),
	PS_OPTION_INT_RULE("breaker_cooldown_s", breaker_cooldown_s, 1, 3600, true),
	PS_OPTION_STRING_RULE("ca_file", ca_file, check_ca_file,
						  "an absolute path of printable ASCII without . or .. segments",
						  false),
};

static const PsOptionRule *
find_option(const PsOptionRule *rules, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(key, rules[i].key) == 0)
			return &rules[i];
	return NULL;
}

/* Set the field of rule from v; false with err set when v breaks the rule. */
static bool
set_option(const PsOptionRule *rule, json_t *v, PsResolverOptions *out,
		   char *err, size_t errlen)
{
	char	   *field = (char *) out + rule->offset;

	switch (rule->type)
	{
		case PS_OPTION_INT:
			if (!json_is_integer(v) || json_integer_value(v) < rule->min ||
				json_integer_value(v) > rule->max)
			{
				snprintf(err, errlen, "option %s must be an integer from %d to %d",
						 rule->key, rule->min, rule->max);
				return false;
			}
			*(int *) field = (int) json_integer_value(v);
			return true;
		case PS_OPTION_BOOL:
			if (!json_is_boolean(v))
			{
				snprintf(err, errlen, "option %s must be true or false", rule->key);
				return false;
			}
			*(bool *) field = json_is_true(v);
			return true;
		case PS_OPTION_STRING:
			if (!json_is_string(v) || !rule->check(json_string_value(v), rule->size - 1))
			{
				snprintf(err, errlen, "option %s must be %s", rule->key, rule->rule);
				return false;
			}
			snprintf(field, rule->size, "%s", json_string_value(v));
			return true;
	}
	return false;
}

/* The field of rule into o, unless it is unset and shown only when set. */
static bool
show_option(const PsOptionRule *rule, const PsResolverOptions *opts, json_t *o)
{
	const char *field = (const char *) opts + rule->offset;
	json_t	   *v = NULL;

	switch (rule->type)
	{
		case PS_OPTION_INT:
			if (!rule->always_shown && *(const int *) field == 0)
				return true;
			v = json_integer(*(const int *) field);
			break;
		case PS_OPTION_BOOL:
			if (!rule->always_shown && !*(const bool *) field)
				return true;
			v = json_boolean(*(const bool *) field);
			break;
		case PS_OPTION_STRING:
			if (!rule->always_shown && field[0] == '\0')
				return true;
			v = json_string(field);
			break;
	}
	return json_object_set_new(o, rule->key, v) == 0;
}

bool
ps_resolver_options_parse(PsResolverKind kind, const char *json, size_t len,
						  PsResolverOptions *out, char *err, size_t errlen)
{
	const PsResolverKindOps *ops = kind_ops(kind);
	json_error_t jerr;
	json_t	   *root;
	const char *key;
	json_t	   *v;
	bool		ok = true;

	memset(out, 0, sizeof(*out));
	snprintf(out->mount, sizeof(out->mount), "secret");
	snprintf(out->environment, sizeof(out->environment), "prod");
	snprintf(out->pointer, sizeof(out->pointer), "/value");
	out->timeout_ms = PS_RESOLVER_TIMEOUT_DEFAULT;
	out->breaker_failures = PS_RESOLVER_BREAKER_FAILURES;
	out->breaker_cooldown_s = PS_RESOLVER_BREAKER_COOLDOWN;

	if (ops == NULL)
	{
		snprintf(err, errlen, "unknown resolver kind");
		return false;
	}
	root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(root))
	{
		snprintf(err, errlen, "options must be a JSON object");
		json_decref(root);
		return false;
	}
	json_object_foreach(root, key, v)
	{
		const PsOptionRule *rule =
			find_option(common_options,
						sizeof(common_options) / sizeof(common_options[0]), key);

		if (rule == NULL)
			rule = find_option(ops->options, ops->n_options, key);
		if (rule == NULL)
		{
			/* quote the key only when it looks like an option name */
			if (ps_kind_is_token(key, 32, "_"))
				snprintf(err, errlen, "unknown option %s for %s resolvers", key,
						 ops->name);
			else
				snprintf(err, errlen, "unknown option for %s resolvers", ops->name);
			ok = false;
		}
		else
			ok = set_option(rule, v, out, err, errlen);
		if (!ok)
			break;
	}
	if (ok && ops->options_check != NULL)
		ok = ops->options_check(out, err, errlen);
	json_decref(root);
	return ok;
}

char *
ps_resolver_options_json(PsResolverKind kind, const PsResolverOptions *opts)
{
	const PsResolverKindOps *ops = kind_ops(kind);
	/* not json_object(): the server's own SQL function of that name wins */
	json_t	   *o = json_pack("{}");
	bool		ok = o != NULL && ops != NULL;
	char	   *text;
	char	   *dumped;
	json_free_t jfree;

	/* options that are off by default are shown only when set */
	for (size_t i = 0; ok && i < sizeof(common_options) / sizeof(common_options[0]); i++)
		ok = show_option(&common_options[i], opts, o);
	for (size_t i = 0; ok && i < ops->n_options; i++)
		ok = show_option(&ops->options[i], opts, o);
	dumped = ok ? json_dumps(o, JSON_SORT_KEYS | JSON_COMPACT) : NULL;
	json_decref(o);
	if (dumped == NULL)
		return NULL;
	/* json_dumps allocates with jansson's allocator: hand back plain malloc */
	text = strdup(dumped);
	json_get_alloc_funcs(NULL, &jfree);
	jfree(dumped);
	return text;
}

void
ps_kind_buf_add(PsKindBuf *b, const char *s, size_t n)
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

void
ps_kind_buf_str(PsKindBuf *b, const char *s)
{
	ps_kind_buf_add(b, s, strlen(s));
}

/* Percent-encode all but RFC 3986 unreserved characters (and '/' if kept). */
void
ps_kind_buf_encoded(PsKindBuf *b, const char *s, size_t n, bool keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";

	for (size_t i = 0; i < n; i++)
	{
		unsigned char c = (unsigned char) s[i];

		if (ps_kind_is_ascii_alnum(c) || c == '-' || c == '.' || c == '_' || c == '~' ||
			(keep_slash && c == '/'))
			ps_kind_buf_add(b, (const char *) &c, 1);
		else
		{
			char		esc[3] = {'%', hex[c >> 4], hex[c & 15]};

			ps_kind_buf_add(b, esc, 3);
		}
	}
}

/* The base URL without its trailing slashes. */
static void
buf_base_url(PsKindBuf *b, const char *base_url)
{
	size_t		base_len = strlen(base_url);

	while (base_len > 0 && base_url[base_len - 1] == '/')
		base_len--;
	ps_kind_buf_add(b, base_url, base_len);
}

char *
ps_resolver_url(PsResolverKind kind, const PsResolverOptions *opts,
				const char *base_url, const char *path, const char *field,
				char *err, size_t errlen)
{
	const PsResolverKindOps *ops = kind_ops(kind);
	PsKindBuf	b = {NULL, 0, 0, true};

	if (ops == NULL)
	{
		snprintf(err, errlen, "unknown resolver kind");
		return NULL;
	}
	buf_base_url(&b, base_url);
	if (!ops->read_url(&b, opts, path, field, err, errlen))
	{
		free(b.data);
		return NULL;
	}
	if (!b.ok)
	{
		snprintf(err, errlen, "out of memory");
		free(b.data);
		return NULL;
	}
	return b.data;
}

json_t *
ps_kind_pointer_get(json_t *root, const char *pointer)
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
	const PsResolverKindOps *ops = kind_ops(kind);
	json_error_t jerr;
	json_t	   *root = NULL;
	json_t	   *v = NULL;
	PsExtractResult result = PS_EXTRACT_MALFORMED;

	*value = NULL;
	*value_len = 0;
	if (ops != NULL)
		root = json_loadb(body, len, JSON_REJECT_DUPLICATES |
						  (ops->response_any_json ? JSON_DECODE_ANY : 0),
						  &jerr);
	if (root != NULL && (ops->response_any_json || json_is_object(root)))
		result = ops->extract(root, opts, field, &v);

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

char *
ps_kind_dump_body(json_t *o, size_t *len)
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
	const PsResolverKindOps *ops = kind_ops(kind);
	PsKindBuf	b = {NULL, 0, 0, true};
	json_t	   *o = NULL;
	bool		ok;

	*url = NULL;
	*body = NULL;
	*body_len = 0;
	*method = NULL;
	if (ops == NULL || ops->write_request == NULL)
	{
		snprintf(err, errlen, "%s resolvers are read-only", ps_resolver_kind_name(kind));
		return false;
	}
	if (!ps_kind_is_segment_path(path, PS_WRITE_PATH_MAX))
	{
		snprintf(err, errlen, "the secret path cannot be written");
		return false;
	}
	buf_base_url(&b, base_url);
	ok = ops->write_request(&b, opts, path, op, value, value_len, method, &o);
	if (o != NULL)
	{
		*body = ps_kind_dump_body(o, body_len);
		ok = ok && *body != NULL;
	}
	if (!b.ok || !ok)
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
ps_resolver_writable(PsResolverKind kind)
{
	const PsResolverKindOps *ops = kind_ops(kind);

	return ops != NULL && ops->write_request != NULL;
}

bool
ps_resolver_write_retry(PsResolverKind kind, PsWriteOp op, long status,
						PsWriteOp *instead)
{
	const PsResolverKindOps *ops = kind_ops(kind);

	return ops != NULL && ops->write_retry != NULL &&
		ops->write_retry(op, status, instead);
}

bool
ps_resolver_delete_tells_missing(PsResolverKind kind)
{
	const PsResolverKindOps *ops = kind_ops(kind);

	return ops != NULL && ops->delete_tells_missing;
}

const char *
ps_resolver_token_header(PsResolverKind kind)
{
	const PsResolverKindOps *ops = kind_ops(kind);

	return ops != NULL && ops->token_header != NULL ? ops->token_header :
		"Authorization: Bearer ";
}

bool
ps_resolver_request_header(PsResolverKind kind, const PsResolverOptions *opts,
						   char *line, size_t len)
{
	const PsResolverKindOps *ops = kind_ops(kind);

	return ops != NULL && ops->request_header != NULL &&
		ops->request_header(opts, line, len);
}

bool
ps_resolver_logs_in(PsResolverKind kind, const PsResolverOptions *opts)
{
	const PsResolverKindOps *ops = kind_ops(kind);

	return ops != NULL && ops->logs_in != NULL && ops->logs_in(opts);
}

void
ps_resolver_value_location(PsResolverKind kind, const PsResolverOptions *opts,
						   const char *field, char *buf, size_t len)
{
	const PsResolverKindOps *ops = kind_ops(kind);

	if (ops != NULL)
		ops->value_location(opts, field, buf, len);
	else
		snprintf(buf, len, "?");
}

bool
ps_resolver_response_any_json(PsResolverKind kind)
{
	const PsResolverKindOps *ops = kind_ops(kind);

	return ops != NULL && ops->response_any_json;
}
