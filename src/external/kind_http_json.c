/*
 * kind_http_json.c: the http-json resolver kind (any HTTPS endpoint that
 * answers JSON, the value found by an RFC 6901 pointer): its options, read
 * URL and response.  Read-only.  Pure C: no postgres.h.
 */
#include <stdio.h>
#include <string.h>

#include "external/resolver_kind_ops.h"

static bool
check_pointer(const char *s, size_t max)
{
	return ps_kind_is_pointer(s, max);
}

static const PsOptionRule http_json_options[] = {
	PS_OPTION_STRING_RULE("pointer", pointer, check_pointer,
						  "a JSON pointer (RFC 6901) of printable ASCII", true),
};

/* {base}/{path} */
static bool
http_json_read_url(PsKindBuf *b, const PsResolverOptions *opts,
				   const char *path, const char *field, char *err,
				   size_t errlen)
{
	(void) opts;
	(void) field;
	(void) err;
	(void) errlen;
	ps_kind_buf_str(b, "/");
	ps_kind_buf_encoded(b, path, strlen(path), true);
	return true;
}

/* the option pointer, or /{field} when the reference names one */
static void
http_json_value_location(const PsResolverOptions *opts, const char *field,
						 char *buf, size_t len)
{
	if (field[0])
		snprintf(buf, len, "/%s", field);
	else
		snprintf(buf, len, "%s", opts->pointer);
}

static PsExtractResult
http_json_extract(json_t *root, const PsResolverOptions *opts,
				  const char *field, json_t **value)
{
	char		pointer[sizeof(opts->pointer) + 4];

	http_json_value_location(opts, field, pointer, sizeof(pointer));
	*value = ps_kind_pointer_get(root, pointer);
	return PS_EXTRACT_OK;
}

const PsResolverKindOps ps_kind_http_json = {
	.kind = PS_KIND_HTTP_JSON,
	.name = "http-json",
	.options = http_json_options,
	.n_options = sizeof(http_json_options) / sizeof(http_json_options[0]),
	.read_url = http_json_read_url,
	.response_any_json = true,
	.extract = http_json_extract,
	.token_header = "Authorization: Bearer ",
	.value_location = http_json_value_location,
};
