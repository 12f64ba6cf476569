/*
 * fuzz_rest_parse.c: libFuzzer target over the REST parsers of hostile
 * input (src/rest/rest_parse.c).
 *
 * The first input byte picks the entry point, the rest is its input:
 *   0  ps_rest_match (as a path, every method)
 *   1  ps_rest_parse_body (all three body kinds)
 *   2  ps_rest_request_id_valid and ps_rest_utf8_length
 * Build and run: test/fuzz/run_rest.sh [seconds]
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "rest/rest_parse.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *s;
	PsRestMatch m;
	PsRestBody	b;

	if (size < 1)
		return 0;
	s = malloc(size);
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	switch (data[0] % 3)
	{
		case 0:
			for (int method = PS_METHOD_GET; method <= PS_METHOD_OTHER; method <<= 1)
			{
				if (ps_rest_match(s, method, &m) == PS_MATCH_OK)
				{
					/* decoded segments are NUL-free, slash-free C strings */
					if (strchr(m.owner, '/') || strchr(m.name, '/'))
						abort();
				}
			}
			break;
		case 1:
			for (int kind = PS_BODY_VALUE; kind <= PS_BODY_REFERENCE; kind++)
			{
				const char *msg = ps_rest_parse_body(s, size - 1, kind, &b);

				if (msg == NULL && kind != PS_BODY_REFERENCE &&
					ps_rest_utf8_length(b.value, b.value_len) > PS_REST_VALUE_MAX_CHARS)
					abort();
				json_decref(b.root);
			}
			break;
		default:
			(void) ps_rest_request_id_valid(s);
			(void) ps_rest_utf8_length((const char *) data + 1, size - 1);
			break;
	}
	free(s);
	return 0;
}
