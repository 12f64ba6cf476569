/*
 * rest_parse.c: pure parsers of hostile REST input.
 *
 * Everything here works on bytes only, so test/unit can drive it and a
 * fuzzer can hammer it without a server.
 */
#include <string.h>
#include <stdio.h>
#include <stdlib.h>
#include <jansson.h>

#include "rest/rest_parse.h"

#define MAX_SEGMENTS 6

PsRestMethod
ps_rest_method_from_string(const char *method)
{
	if (strcmp(method, "GET") == 0)
		return PS_METHOD_GET;
	if (strcmp(method, "PUT") == 0)
		return PS_METHOD_PUT;
	if (strcmp(method, "DELETE") == 0)
		return PS_METHOD_DELETE;
	if (strcmp(method, "POST") == 0)
		return PS_METHOD_POST;
	if (strcmp(method, "HEAD") == 0)
		return PS_METHOD_HEAD;
	return PS_METHOD_OTHER;
}

const char *
ps_rest_route_label(PsRestRoute route)
{
	static const char *const labels[PS_ROUTE_COUNT] = {
		[PS_ROUTE_NONE] = "unknown",
		[PS_ROUTE_HEALTHZ] = "/healthz",
		[PS_ROUTE_METRICS] = "/metrics",
		[PS_ROUTE_OPENAPI] = "/v1/openapi.json",
		[PS_ROUTE_WORKSPACE_SECRETS] = "/v1/workspaces/{ws}/secrets",
		[PS_ROUTE_WORKSPACE_SECRET] = "/v1/workspaces/{ws}/secrets/{key}",
		[PS_ROUTE_COMPANY_PROVIDERS] = "/v1/companies/{c}/provider-secrets",
		[PS_ROUTE_COMPANY_PROVIDER] = "/v1/companies/{c}/provider-secrets/{provider}",
		[PS_ROUTE_PROJECT_PROVIDERS] = "/v1/projects/{p}/provider-secrets",
		[PS_ROUTE_PROJECT_PROVIDER] = "/v1/projects/{p}/provider-secrets/{provider}",
		[PS_ROUTE_RESOLVE] = "/v1/resolve",
		[PS_ROUTE_READYZ] = "/readyz",
	};

	if (route < 0 || route >= PS_ROUTE_COUNT)
		return "unknown";
	return labels[route];
}

void
ps_rest_allow_header(int allowed, char *buf, size_t size)
{
	static const struct
	{
		int			bit;
		const char *name;
	}			names[] = {
		{PS_METHOD_GET, "GET"}, {PS_METHOD_HEAD, "HEAD"}, {PS_METHOD_PUT, "PUT"},
		{PS_METHOD_POST, "POST"}, {PS_METHOD_DELETE, "DELETE"},
	};
	size_t		used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
	{
		if (!(allowed & names[i].bit))
			continue;
		used += snprintf(buf + used, size > used ? size - used : 0, "%s%s",
						 used ? ", " : "", names[i].name);
	}
}

static int
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

long
ps_rest_percent_decode(const char *in, size_t len, char *out, size_t size)
{
	size_t		o = 0;

	for (size_t i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) in[i];

		if (c == '%')
		{
			int			hi,
						lo;

			if (i + 2 >= len)
				return -1;
			hi = hex_value(in[i + 1]);
			lo = hex_value(in[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			c = (unsigned char) (hi * 16 + lo);
			i += 2;
		}
		if (c == '\0')
			return -1;
		if (o + 1 >= size)
			return -1;
		out[o++] = (char) c;
	}
	out[o] = '\0';
	return (long) o;
}

/* Decode a parameter segment and refuse what can never be a name part. */
static bool
decode_param(const char *seg, size_t len, char *out)
{
	long		n = ps_rest_percent_decode(seg, len, out, PS_REST_SEGMENT_MAX + 1);

	if (n <= 0)
		return false;
	for (long i = 0; i < n; i++)
	{
		unsigned char c = (unsigned char) out[i];

		if (c == '/' || c < 0x20 || c == 0x7f)
			return false;
	}
	return true;
}

static bool
seg_is(const char *seg, size_t len, const char *lit)
{
	return strlen(lit) == len && memcmp(seg, lit, len) == 0;
}

PsRestMatchStatus
ps_rest_match(const char *path, PsRestMethod method, PsRestMatch *m)
{
	const char *seg[MAX_SEGMENTS];
	size_t		seglen[MAX_SEGMENTS];
	int			n = 0;
	const char *p = path;
	const char *owner_seg = NULL,
			   *name_seg = NULL;
	size_t		owner_len = 0,
				name_len = 0;

	memset(m, 0, sizeof(*m));
	m->route = PS_ROUTE_NONE;
	if (p == NULL || *p != '/')
		return PS_MATCH_NOT_FOUND;
	while (*p == '/')
	{
		const char *start = ++p;

		while (*p && *p != '/')
			p++;
		if (n == MAX_SEGMENTS || p == start)
			return PS_MATCH_NOT_FOUND;	/* too deep, or an empty segment */
		seg[n] = start;
		seglen[n] = (size_t) (p - start);
		n++;
	}
	if (*p != '\0')
		return PS_MATCH_NOT_FOUND;

	if (n == 1 && seg_is(seg[0], seglen[0], "healthz"))
		m->route = PS_ROUTE_HEALTHZ;
	else if (n == 1 && seg_is(seg[0], seglen[0], "readyz"))
		m->route = PS_ROUTE_READYZ;
	else if (n == 1 && seg_is(seg[0], seglen[0], "metrics"))
		m->route = PS_ROUTE_METRICS;
	else if (n >= 2 && seg_is(seg[0], seglen[0], "v1"))
	{
		if (n == 2 && seg_is(seg[1], seglen[1], "openapi.json"))
			m->route = PS_ROUTE_OPENAPI;
		else if (n == 2 && seg_is(seg[1], seglen[1], "resolve"))
			m->route = PS_ROUTE_RESOLVE;
		else if ((n == 4 || n == 5) && seg_is(seg[1], seglen[1], "workspaces") &&
				 seg_is(seg[3], seglen[3], "secrets"))
			m->route = n == 4 ? PS_ROUTE_WORKSPACE_SECRETS : PS_ROUTE_WORKSPACE_SECRET;
		else if ((n == 4 || n == 5) && seg_is(seg[1], seglen[1], "companies") &&
				 seg_is(seg[3], seglen[3], "provider-secrets"))
			m->route = n == 4 ? PS_ROUTE_COMPANY_PROVIDERS : PS_ROUTE_COMPANY_PROVIDER;
		else if ((n == 4 || n == 5) && seg_is(seg[1], seglen[1], "projects") &&
				 seg_is(seg[3], seglen[3], "provider-secrets"))
			m->route = n == 4 ? PS_ROUTE_PROJECT_PROVIDERS : PS_ROUTE_PROJECT_PROVIDER;
		if (n >= 4 && m->route != PS_ROUTE_NONE)
		{
			owner_seg = seg[2];
			owner_len = seglen[2];
			if (n == 5)
			{
				name_seg = seg[4];
				name_len = seglen[4];
			}
		}
	}

	switch (m->route)
	{
		case PS_ROUTE_NONE:
			return PS_MATCH_NOT_FOUND;
		case PS_ROUTE_HEALTHZ:
		case PS_ROUTE_READYZ:
		case PS_ROUTE_METRICS:
		case PS_ROUTE_OPENAPI:
			m->allowed = PS_METHOD_GET | PS_METHOD_HEAD;
			break;
		case PS_ROUTE_WORKSPACE_SECRETS:
		case PS_ROUTE_COMPANY_PROVIDERS:
		case PS_ROUTE_PROJECT_PROVIDERS:
			m->allowed = PS_METHOD_GET;
			break;
		case PS_ROUTE_WORKSPACE_SECRET:
		case PS_ROUTE_COMPANY_PROVIDER:
		case PS_ROUTE_PROJECT_PROVIDER:
			m->allowed = PS_METHOD_GET | PS_METHOD_PUT | PS_METHOD_DELETE;
			break;
		case PS_ROUTE_RESOLVE:
			m->allowed = PS_METHOD_POST;
			break;
		case PS_ROUTE_COUNT:
			return PS_MATCH_NOT_FOUND;
	}
	if (!(m->allowed & method))
		return PS_MATCH_METHOD_NOT_ALLOWED;
	if (owner_seg && !decode_param(owner_seg, owner_len, m->owner))
		return PS_MATCH_BAD_SEGMENT;
	if (name_seg && !decode_param(name_seg, name_len, m->name))
		return PS_MATCH_BAD_SEGMENT;
	return PS_MATCH_OK;
}

bool
ps_rest_request_id_valid(const char *id)
{
	size_t		n = 0;

	if (id == NULL)
		return false;
	for (; id[n]; n++)
	{
		char		c = id[n];

		if (n >= PS_REST_REQUEST_ID_MAX)
			return false;
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			  (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return false;
	}
	return n > 0;
}

long
ps_rest_utf8_length(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *) s;
	long		count = 0;
	size_t		i = 0;

	while (i < len)
	{
		unsigned char c = p[i];
		int			extra;
		unsigned int cp;

		if (c < 0x80)
		{
			i++;
			count++;
			continue;
		}
		else if (c >= 0xc2 && c <= 0xdf)
			extra = 1, cp = c & 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			extra = 2, cp = c & 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			extra = 3, cp = c & 0x07;
		else
			return -1;
		if (i + extra >= len)
			return -1;
		for (int k = 1; k <= extra; k++)
		{
			if ((p[i + k] & 0xc0) != 0x80)
				return -1;
			cp = (cp << 6) | (p[i + k] & 0x3f);
		}
		/* overlong forms, surrogates, beyond U+10FFFF */
		if ((extra == 2 && cp < 0x800) || (extra == 3 && cp < 0x10000) ||
			(cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
			return -1;
		i += extra + 1;
		count++;
	}
	return count;
}

static const char *
optional_string(json_t *root, const char *field, const char **out)
{
	json_t	   *v = json_object_get(root, field);

	*out = NULL;
	if (v == NULL || json_is_null(v))
		return NULL;
	if (!json_is_string(v))
		return "field has the wrong type: expected a string";
	*out = json_string_value(v);
	return NULL;
}

const char *
ps_rest_parse_body(const char *data, size_t len, PsRestBodyField kind,
				   PsRestBody *out)
{
	json_error_t error;
	json_t	   *root;
	json_t	   *v;
	const char *field;
	const char *msg;

	memset(out, 0, sizeof(*out));
	if (len == 0)
		return "request body is empty: expected a JSON object";
	/* jansson rejects invalid UTF-8 and \u0000 (no JSON_ALLOW_NUL) */
	if (ps_rest_utf8_length(data, len) < 0)
		return "request body is not valid UTF-8";
	root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &error);
	if (root == NULL)
		return "request body is not valid JSON";
	out->root = root;
	if (!json_is_object(root))
		return "request body must be a JSON object";

	field = kind == PS_BODY_VALUE ? "value" :
		kind == PS_BODY_CREDENTIAL_VALUE ? "credentialValue" : "reference";
	v = json_object_get(root, field);
	if (v == NULL || json_is_null(v))
		return kind == PS_BODY_VALUE ? "field \"value\" is required" :
			kind == PS_BODY_CREDENTIAL_VALUE ? "field \"credentialValue\" is required" :
			"field \"reference\" is required";
	if (!json_is_string(v))
		return kind == PS_BODY_VALUE ? "field \"value\" must be a string" :
			kind == PS_BODY_CREDENTIAL_VALUE ? "field \"credentialValue\" must be a string" :
			"field \"reference\" must be a string";
	if (kind == PS_BODY_REFERENCE)
	{
		out->reference = json_string_value(v);
		return NULL;
	}
	out->value = json_string_value(v);
	out->value_len = json_string_length(v);
	if (ps_rest_utf8_length(out->value, out->value_len) > PS_REST_VALUE_MAX_CHARS)
		return "value is longer than 10,000 characters";
	msg = optional_string(root, "description", &out->description);
	if (msg)
		return "field \"description\" must be a string";
	return NULL;
}

/* Size header in front of each block, kept max-aligned. */
typedef union SecureHeader
{
	size_t		size;
	long double align;
} SecureHeader;

void *
ps_rest_secure_malloc(size_t size)
{
	SecureHeader *h;

	if (size > (size_t) -1 - sizeof(SecureHeader))
		return NULL;
	h = malloc(sizeof(SecureHeader) + size);
	if (h == NULL)
		return NULL;
	h->size = size;
	return h + 1;
}

void
ps_rest_secure_free(void *ptr)
{
	SecureHeader *h;

	if (ptr == NULL)
		return;
	h = (SecureHeader *) ptr - 1;
	explicit_bzero(ptr, h->size);
	free(h);
}

void
ps_rest_json_use_secure_alloc(void)
{
	json_set_alloc_funcs(ps_rest_secure_malloc, ps_rest_secure_free);
}

/* a version as we write it: 1 to 2^31-1, no sign, no leading zero */
static bool
tag_is_version(const char *p, size_t len, long *version)
{
	long		v = 0;

	if (len == 0 || len > 10 || p[0] == '0')
		return false;
	for (size_t i = 0; i < len; i++)
	{
		if (p[i] < '0' || p[i] > '9')
			return false;
		v = v * 10 + (p[i] - '0');
	}
	if (v > 2147483647L)
		return false;
	*version = v;
	return true;
}

const char *
ps_rest_parse_if_match(const char *header, PsIfMatch *kind, long *version)
{
	const char *p = header;
	int			versions = 0;
	bool		any = false;

	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '*')
	{
		p++;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p != '\0')
			return "malformed If-Match header";
		*kind = PS_IF_MATCH_STAR;
		return NULL;
	}
	for (;;)
	{
		bool		weak = false;
		const char *tag;
		long		v;

		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == ',')			/* empty list elements are allowed */
		{
			p++;
			continue;
		}
		if (*p == '\0')
			break;
		if (p[0] == 'W' && p[1] == '/')
		{
			weak = true;
			p += 2;
		}
		if (*p != '"')
			return "malformed If-Match header";
		tag = ++p;
		/* etagc: %x21 / %x23-7E / obs-text */
		while (*p != '"')
		{
			unsigned char c = (unsigned char) *p;

			if (c == '\0' || c < 0x21 || c == 0x7f)
				return "malformed If-Match header";
			p++;
		}
		if (!weak && tag_is_version(tag, p - tag, &v))
		{
			if (versions > 0 && v != *version)
				return "If-Match may name one version only";
			*version = v;
			versions = 1;
		}
		any = true;
		p++;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p != ',' && *p != '\0')
			return "malformed If-Match header";
	}
	if (!any)
		return "malformed If-Match header";
	*kind = versions > 0 ? PS_IF_MATCH_VERSION : PS_IF_MATCH_NOTHING;
	return NULL;
}
