/*
 * fuzz_resolver.c: libFuzzer target over the external backend protocols
 * (src/external/resolver_kinds.c): what a resolver's owner configures and what a
 * backend answers.
 *
 * Sources: src/external/resolver_kinds.c src/external/kind_vault_kv2.c src/external/kind_infisical.c src/external/kind_http_json.c src/core/reference.c src/rest/rest_parse.c
 * Libs: -ljansson
 *
 * The first input byte picks the entry point, the second a kind or a field,
 * the rest is the input:
 *   0  options (JSON): accepted options are bounded C strings whose
 *      canonical JSON parses back to the same canonical JSON
 *   1  a response body for vault-kv2, infisical or http-json: an extracted
 *      value is NUL-free valid UTF-8 of the length reported, and is the
 *      string the document holds there
 *   2  http-json with a pointer: "<pointer>\n<body>"; the value agrees with
 *      an RFC 6901 evaluation written here
 *   3  the universal-auth login response: a token is non-empty, NUL-free,
 *      and expiresIn is -1 or 1 s to 10 years
 *   4  "<path>\n<value>" for writes and URLs: the path as an external:
 *      reference would carry it; URLs are printable ASCII without spaces
 *      that percent-decode back to the path; a written body carries the
 *      value, and read back as a response it extracts to the same value
 * The character classes follow LC_CTYPE from the environment, as a backend
 * follows its database's: LC_ALL=fr_FR.ISO-8859-1 test/fuzz/run.sh resolver
 * checks the rules stay ASCII there (the locale must be installed).
 */
#define _GNU_SOURCE
#include <locale.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/reference.h"
#include "external/resolver_kinds.h"
#include "rest/rest_parse.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void) argc;
	(void) argv;
	setlocale(LC_CTYPE, "");
	return 0;
}

static PsResolverKind
kind_of(uint8_t b)
{
	return (PsResolverKind) (PS_KIND_VAULT_KV2 + b % 3);
}

static PsResolverOptions
options_for(PsResolverKind kind, const char *json)
{
	PsResolverOptions o;
	char		err[256];

	if (!ps_resolver_options_parse(kind, json, strlen(json), &o, err, sizeof(err)))
		abort();
	return o;
}

/* An option value: a C string within its array, printable ASCII. */
static void
check_bounded(const char *s, size_t size)
{
	if (strnlen(s, size) == size)
		abort();
	for (; *s; s++)
		if ((unsigned char) *s < 0x20 || (unsigned char) *s > 0x7e)
			abort();
}

static void
fuzz_options(PsResolverKind kind, const char *json, size_t len)
{
	PsResolverOptions o;
	PsResolverOptions again;
	char		err[256] = "";

	if (!ps_resolver_options_parse(kind, json, len, &o, err, sizeof(err)))
	{
		/* it quotes a key or value only when that passed its rule */
		check_bounded(err, sizeof(err));
		if (err[0] == '\0')
			abort();
		return;
	}
	check_bounded(o.mount, sizeof(o.mount));
	check_bounded(o.vault_namespace, sizeof(o.vault_namespace));
	check_bounded(o.project_id, sizeof(o.project_id));
	check_bounded(o.environment, sizeof(o.environment));
	check_bounded(o.client_id, sizeof(o.client_id));
	check_bounded(o.pointer, sizeof(o.pointer));
	check_bounded(o.ca_file, sizeof(o.ca_file));
	if (o.timeout_ms < PS_RESOLVER_TIMEOUT_MIN || o.timeout_ms > PS_RESOLVER_TIMEOUT_MAX ||
		o.cache_ttl_s < 0 || o.cache_ttl_s > PS_RESOLVER_TTL_MAX ||
		o.vault_version < 0 || o.vault_version > PS_VAULT_VERSION_MAX)
		abort();
	{
		char	   *text = ps_resolver_options_json(kind, &o);
		char	   *text_again;

		if (text == NULL ||
			!ps_resolver_options_parse(kind, text, strlen(text), &again, err, sizeof(err)))
			abort();
		text_again = ps_resolver_options_json(kind, &again);
		if (text_again == NULL || strcmp(text, text_again) != 0)
			abort();
		free(text);
		free(text_again);
	}
}

/* A value that left the parser: NUL-free UTF-8 of the length reported. */
static void
check_value(PsExtractResult r, char *value, size_t len, json_t *expect)
{
	if (r < PS_EXTRACT_OK || r > PS_EXTRACT_NOT_STRING)
		abort();
	if (r != PS_EXTRACT_OK)
	{
		if (value != NULL || len != 0)
			abort();
		return;
	}
	if (value == NULL || strlen(value) != len || ps_rest_utf8_length(value, len) < 0)
		abort();
	if (expect != NULL &&
		(!json_is_string(expect) || json_string_length(expect) != len ||
		 memcmp(json_string_value(expect), value, len) != 0))
		abort();
	free(value);
}

/* RFC 6901, independently of the extension's evaluator. */
static json_t *
pointer_eval(json_t *cur, const char *p)
{
	if (*p != '\0' && *p != '/')
		return NULL;
	while (cur != NULL && *p == '/')
	{
		const char *end = strchrnul(p + 1, '/');
		char	   *token = strndup(p + 1, (size_t) (end - p - 1));
		char	   *w = token;

		for (const char *r = token; *r; r++)
		{
			if (r[0] == '~' && (r[1] == '0' || r[1] == '1'))
				*w++ = *++r == '0' ? '~' : '/';
			else if (r[0] == '~')
			{
				free(token);
				return NULL;
			}
			else
				*w++ = *r;
		}
		*w = '\0';
		if (json_is_object(cur))
			cur = json_object_get(cur, token);
		else if (json_is_array(cur))
		{
			size_t		n = strlen(token);
			size_t		idx = 0;

			if (n == 0 || n > 18 || (n > 1 && token[0] == '0') ||
				strspn(token, "0123456789") != n)
				cur = NULL;
			else
			{
				for (size_t i = 0; i < n; i++)
					idx = idx * 10 + (size_t) (token[i] - '0');
				cur = json_array_get(cur, idx);
			}
		}
		else
			cur = NULL;
		free(token);
		p = end;
	}
	return cur;
}

static void
fuzz_extract(PsResolverKind kind, uint8_t which, const char *body, size_t len)
{
	static const char *const fields[] = {"", "value", "token", "a.b", "0"};
	const char *field = fields[which % 5];
	PsResolverOptions o = options_for(kind, kind == PS_KIND_INFISICAL ?
									  "{\"project_id\":\"p\"}" : "{}");
	char	   *value;
	size_t		len_out;
	PsExtractResult r;
	json_t	   *root = json_loadb(body, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL);
	json_t	   *expect = NULL;

	if (kind == PS_KIND_INFISICAL)
		field = "";
	r = ps_resolver_extract(kind, &o, field, body, len, &value, &len_out);
	if (kind == PS_KIND_VAULT_KV2)
		expect = json_object_get(json_object_get(json_object_get(root, "data"), "data"),
								 field[0] ? field : "value");
	else if (kind == PS_KIND_INFISICAL)
		expect = json_object_get(json_object_get(root, "secret"), "secretValue");
	else
	{
		char		pointer[200];

		snprintf(pointer, sizeof(pointer), "/%s", field[0] ? field : "value");
		expect = pointer_eval(root, pointer);
	}
	if (r == PS_EXTRACT_OK && expect == NULL)
		abort();
	check_value(r, value, len_out, expect);
	json_decref(root);
}

static void
fuzz_pointer(const char *input, size_t len)
{
	const char *nl = memchr(input, '\n', len);
	char	   *pointer;
	json_t	   *opts;
	char	   *opts_text;
	PsResolverOptions o;
	char		err[256];
	char	   *value;
	size_t		value_len;
	PsExtractResult r;
	json_t	   *root;
	json_t	   *expect;

	if (nl == NULL)
		return;
	pointer = strndup(input, (size_t) (nl - input));
	opts = json_pack("{s:s}", "pointer", pointer);
	opts_text = opts ? json_dumps(opts, 0) : NULL;
	json_decref(opts);
	if (opts_text == NULL ||
		!ps_resolver_options_parse(PS_KIND_HTTP_JSON, opts_text, strlen(opts_text),
								   &o, err, sizeof(err)))
	{
		free(opts_text);
		free(pointer);
		return;
	}
	if (strcmp(o.pointer, pointer) != 0)
		abort();
	r = ps_resolver_extract(PS_KIND_HTTP_JSON, &o, "", nl + 1, len - (size_t) (nl + 1 - input),
							&value, &value_len);
	root = json_loadb(nl + 1, len - (size_t) (nl + 1 - input),
					  JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL);
	expect = pointer_eval(root, pointer);
	if (root != NULL &&
		(r == PS_EXTRACT_MISSING) != (expect == NULL || json_is_null(expect)))
		abort();
	check_value(r, value, value_len, expect);
	json_decref(root);
	free(opts_text);
	free(pointer);
}

static void
fuzz_login(const char *body, size_t len)
{
	char	   *token;
	size_t		token_len;
	long		expires;
	PsExtractResult r = ps_resolver_login_parse(body, len, &token, &token_len, &expires);

	if (r == PS_EXTRACT_OK)
	{
		if (token_len == 0 ||
			(expires != -1 && (expires < 1 || expires > 10L * 365 * 86400)))
			abort();
	}
	else if (expires != -1)
		abort();
	check_value(r, token, token_len, NULL);
}

/* Percent-decode s into a malloc'd string; NULL on a bad escape. */
static char *
percent_decode(const char *s, size_t len)
{
	char	   *out = malloc(len + 1);
	size_t		n = 0;

	for (size_t i = 0; i < len; i++)
	{
		unsigned int c;

		if (s[i] != '%')
			out[n++] = s[i];
		else if (i + 2 < len && sscanf(s + i + 1, "%2x", &c) == 1)
		{
			out[n++] = (char) c;
			i += 2;
		}
		else
		{
			free(out);
			return NULL;
		}
	}
	out[n] = '\0';
	return out;
}

static void
check_url(const char *url)
{
	for (const char *p = url; *p; p++)
		if ((unsigned char) *p <= 0x20 || (unsigned char) *p >= 0x7f || *p == '#')
			abort();
}

static void
fuzz_write(const char *input, size_t len)
{
	static const char base[] = "https://backend.example:8200/";
	const char *nl = memchr(input, '\n', len);
	char		ref_text[PS_REFERENCE_MAX + 32];
	PsReference ref;
	const char *value;
	size_t		value_len;
	char		err[256];

	if (nl == NULL || (size_t) (nl - input) > PS_REFERENCE_MAX)
		return;
	snprintf(ref_text, sizeof(ref_text), "external:r/%.*s", (int) (nl - input), input);
	if (ps_reference_parse(ref_text, strlen(ref_text), &ref) != NULL)
		return;
	value = nl + 1;
	value_len = len - (size_t) (nl + 1 - input);
	/* values come from SQL text or a REST body: never with a NUL */
	if (memchr(value, '\0', value_len) != NULL)
		return;

	for (int k = 0; k < 3; k++)
	{
		PsResolverKind kind = (PsResolverKind) (PS_KIND_VAULT_KV2 + k);
		PsResolverOptions o = options_for(kind, kind == PS_KIND_INFISICAL ?
										  "{\"project_id\":\"p\"}" : "{}");
		char	   *url = ps_resolver_url(kind, &o, base, ref.path, ref.field,
										  err, sizeof(err));

		if (url != NULL)
		{
			const char *prefix = kind == PS_KIND_VAULT_KV2 ?
				"https://backend.example:8200/v1/secret/data/" :
				"https://backend.example:8200/";

			check_url(url);
			if (strncmp(url, prefix, strlen(prefix)) != 0)
				abort();
			if (kind != PS_KIND_INFISICAL)
			{
				char	   *decoded = percent_decode(url + strlen(prefix),
													 strlen(url) - strlen(prefix));

				if (decoded == NULL || strcmp(decoded, ref.path) != 0)
					abort();
				free(decoded);
			}
			free(url);
		}

		for (int op = PS_WRITE_CREATE; op <= PS_WRITE_DELETE; op++)
		{
			const char *method;
			char	   *body;
			size_t		body_len;
			json_t	   *sent;
			json_t	   *response;
			char	   *response_text;
			char	   *back;
			size_t		back_len;

			if (!ps_resolver_write_request(kind, &o, base, ref.path, op, value,
										   value_len, &url, &method, &body,
										   &body_len, err, sizeof(err)))
			{
				if (url != NULL || body != NULL || err[0] == '\0')
					abort();
				continue;
			}
			check_url(url);
			free(url);
			if (method == NULL || kind == PS_KIND_HTTP_JSON)
				abort();
			if (op == PS_WRITE_DELETE || body == NULL)
			{
				if (op != PS_WRITE_DELETE)
					abort();
				ps_resolver_free_body(body, body_len);
				continue;
			}
			/* what was written, answered back by the backend, reads as the value */
			sent = json_loadb(body, body_len, 0, NULL);
			if (sent == NULL || strlen(body) != body_len)
				abort();
			response = kind == PS_KIND_VAULT_KV2 ?
				json_pack("{s:{s:O}}", "data", "data", json_object_get(sent, "data")) :
				json_pack("{s:O}", "secret", sent);
			response_text = json_dumps(response, JSON_COMPACT);
			if (ps_resolver_extract(kind, &o, "", response_text, strlen(response_text),
									&back, &back_len) != PS_EXTRACT_OK ||
				back_len != value_len || memcmp(back, value, value_len) != 0)
				abort();
			free(back);
			free(response_text);
			json_decref(response);
			json_decref(sent);
			ps_resolver_free_body(body, body_len);
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *input;

	if (size < 2)
		return 0;
	size -= 2;
	/* exactly size bytes, so ASan sees any read past the end */
	input = malloc(size ? size : 1);
	memcpy(input, data + 2, size);
	switch (data[0] % 5)
	{
		case 0:
			fuzz_options(kind_of(data[1]), input, size);
			break;
		case 1:
			fuzz_extract(kind_of(data[1]), data[1] / 3, input, size);
			break;
		case 2:
			fuzz_pointer(input, size);
			break;
		case 3:
			fuzz_login(input, size);
			break;
		default:
			fuzz_write(input, size);
			break;
	}
	free(input);
	return 0;
}
