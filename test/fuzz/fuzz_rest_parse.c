/*
 * fuzz_rest_parse.c: libFuzzer target over the REST parsers of hostile
 * input (src/rest/rest_parse.c).
 *
 * Sources: src/rest/rest_parse.c
 * Libs: -ljansson
 *
 * The first input byte picks the entry point, the rest is its input:
 *   0  ps_rest_match, every method: a match names a known route whose
 *      allowed methods include the method; its decoded segments are
 *      bounded, NUL-, slash- and control-free, and re-encoded they match
 *      again to the same parts
 *   1  ps_rest_parse_body, all three body kinds: what is accepted is valid
 *      UTF-8 without NUL, at most PS_REST_VALUE_MAX_CHARS characters; every
 *      rejection is a constant sentence of printable ASCII
 *   2  ps_rest_percent_decode against a decoder written here, and
 *      ps_rest_request_id_valid, ps_rest_utf8_length and
 *      ps_rest_method_from_string against their rules
 * jansson allocates through the wiping allocator, as in the REST worker.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "rest/rest_parse.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void) argc;
	(void) argv;
	ps_rest_json_use_secure_alloc();
	return 0;
}

/* A segment with every byte but unreserved ones percent-encoded. */
static void
encode_segment(const char *s, char *out)
{
	for (; *s; s++)
	{
		unsigned char c = (unsigned char) *s;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			(c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.')
			*out++ = (char) c;
		else
			out += sprintf(out, "%%%02X", c);
	}
	*out = '\0';
}

static void
check_segment(const char *seg)
{
	size_t		n = strnlen(seg, PS_REST_SEGMENT_MAX + 1);

	if (n > PS_REST_SEGMENT_MAX)
		abort();
	for (size_t i = 0; i < n; i++)
		if (seg[i] == '/' || (unsigned char) seg[i] < 0x20 || seg[i] == 0x7f)
			abort();
}

static void
fuzz_match(const char *path)
{
	for (int method = PS_METHOD_GET; method <= PS_METHOD_OTHER; method <<= 1)
	{
		PsRestMatch m;
		PsRestMatch again;
		PsRestMatchStatus st = ps_rest_match(path, method, &m);
		char		allow[40];

		if (st != PS_MATCH_OK)
		{
			if (st == PS_MATCH_METHOD_NOT_ALLOWED &&
				(m.route == PS_ROUTE_NONE || m.allowed == 0 || (m.allowed & method)))
				abort();
			continue;
		}
		if (m.route <= PS_ROUTE_NONE || m.route >= PS_ROUTE_COUNT ||
			!(m.allowed & method) || ps_rest_route_label(m.route) == NULL)
			abort();
		ps_rest_allow_header(m.allowed, allow, sizeof(allow));
		if (allow[0] == '\0' || strnlen(allow, sizeof(allow)) == sizeof(allow))
			abort();
		check_segment(m.owner);
		check_segment(m.name);
		if (m.owner[0] != '\0')
		{
			/* the same parts, spelt with every escape they allow */
			char		owner[3 * PS_REST_SEGMENT_MAX + 1];
			char		name[3 * PS_REST_SEGMENT_MAX + 1];
			char		rebuilt[2 * sizeof(owner) + 64];
			const char *collection =
				m.route <= PS_ROUTE_WORKSPACE_SECRET ? "workspaces/%s/secrets" :
				m.route <= PS_ROUTE_COMPANY_PROVIDER ? "companies/%s/provider-secrets" :
				"projects/%s/provider-secrets";
			char		format[64];

			encode_segment(m.owner, owner);
			encode_segment(m.name, name);
			snprintf(format, sizeof(format), "/v1/%s%s%%s", collection,
					 m.name[0] ? "/" : "");
			snprintf(rebuilt, sizeof(rebuilt), format, owner, name);
			if (ps_rest_match(rebuilt, method, &again) != PS_MATCH_OK ||
				again.route != m.route || strcmp(again.owner, m.owner) != 0 ||
				strcmp(again.name, m.name) != 0)
				abort();
		}
	}
}

static void
fuzz_body(const char *data, size_t len)
{
	for (int kind = PS_BODY_VALUE; kind <= PS_BODY_REFERENCE; kind++)
	{
		PsRestBody	b;
		const char *msg = ps_rest_parse_body(data, len, kind, &b);

		if (msg != NULL)
		{
			if (msg[0] == '\0' || (msg >= data && msg < data + len))
				abort();
			for (const char *c = msg; *c; c++)
				if ((unsigned char) *c < 0x20 || (unsigned char) *c > 0x7e)
					abort();
		}
		else if (kind == PS_BODY_REFERENCE)
		{
			if (b.reference == NULL ||
				ps_rest_utf8_length(b.reference, strlen(b.reference)) < 0)
				abort();
		}
		else
		{
			long		chars = ps_rest_utf8_length(b.value, b.value_len);

			if (b.value == NULL || strlen(b.value) != b.value_len ||
				chars < 0 || chars > PS_REST_VALUE_MAX_CHARS ||
				(b.description &&
				 ps_rest_utf8_length(b.description, strlen(b.description)) < 0))
				abort();
		}
		json_decref(b.root);
	}
}

static int
hex(unsigned char c)
{
	return c >= '0' && c <= '9' ? c - '0' :
		c >= 'a' && c <= 'f' ? c - 'a' + 10 :
		c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static void
fuzz_scalars(const char *s, const char *raw, size_t len)
{
	char		out[PS_REST_SEGMENT_MAX + 1];
	char		expect[PS_REST_SEGMENT_MAX + 1];
	long		n = ps_rest_percent_decode(raw, len, out, sizeof(out));
	long		e = 0;
	size_t		idlen = strlen(s);
	bool		idok = idlen > 0 && idlen <= PS_REST_REQUEST_ID_MAX;

	for (size_t i = 0; i < len && e >= 0; i++)
	{
		int			c = (unsigned char) raw[i];

		if (c == '%')
		{
			if (i + 2 >= len || hex(raw[i + 1]) < 0 || hex(raw[i + 2]) < 0)
				e = -1;
			else
			{
				c = hex(raw[i + 1]) * 16 + hex(raw[i + 2]);
				i += 2;
			}
		}
		if (e >= 0 && (c == 0 || e + 1 >= (long) sizeof(expect)))
			e = -1;
		if (e >= 0)
			expect[e++] = (char) c;
	}
	if (n != e || (n >= 0 && (memcmp(out, expect, n) != 0 || out[n] != '\0')))
		abort();

	for (size_t i = 0; i < idlen && idok; i++)
		idok = strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-",
					  s[i]) != NULL;
	if (ps_rest_request_id_valid(s) != idok)
		abort();

	{
		PsRestMethod method = ps_rest_method_from_string(s);

		if (method != PS_METHOD_GET && method != PS_METHOD_PUT &&
			method != PS_METHOD_DELETE && method != PS_METHOD_POST &&
			method != PS_METHOD_HEAD && method != PS_METHOD_OTHER)
			abort();
	}
	n = ps_rest_utf8_length(raw, len);
	if (n > (long) len || (n >= 0 && memchr(raw, 0xff, len)))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *s;
	char	   *raw;

	if (size < 1)
		return 0;
	size--;
	/* s is NUL-terminated; raw is exactly size bytes, for ASan */
	s = malloc(size + 1);
	memcpy(s, data + 1, size);
	s[size] = '\0';
	raw = malloc(size ? size : 1);
	memcpy(raw, data + 1, size);
	switch (data[0] % 3)
	{
		case 0:
			fuzz_match(s);
			break;
		case 1:
			fuzz_body(raw, size);
			break;
		default:
			fuzz_scalars(s, raw, size);
			break;
	}
	free(raw);
	free(s);
	return 0;
}
