/*
 * fuzz_ui_parse.c: libFuzzer target over the settings pages' parsers of
 * hostile input (src/ui/ui_parse.c).
 *
 * Sources: src/ui/ui_parse.c src/rest/rest_parse.c
 * Libs: -ljansson
 *
 * The first input byte picks the entry point, the rest is its input:
 *   0  ps_ui_match: a path it does not claim matches nothing; a match of a
 *      tenant route has an owner, bounded, free of NUL, '/' and control
 *      characters; a route with a name has one, likewise
 *   1  ps_ui_next_valid: what it accepts starts with "/ui/", has no "//",
 *      backslash, space or control character, at most 512 bytes
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ui/ui_parse.h"

static void
check_segment(const char *s, int must_be_set)
{
	size_t		len = strnlen(s, PS_UI_SEGMENT_MAX + 1);

	if (len > PS_UI_SEGMENT_MAX || (must_be_set && len == 0))
		abort();
	for (size_t i = 0; i < len; i++)
		if ((unsigned char) s[i] < 0x20 || s[i] == 0x7f || s[i] == '/')
			abort();
}

static void
fuzz_match(const char *path)
{
	PsUiMatch	m;

	ps_ui_match(path, &m);
	if (!ps_ui_claims(path) && m.route != PS_UI_NONE)
		abort();
	switch (m.route)
	{
		case PS_UI_PAGE:
		case PS_UI_API_SECRETS:
		case PS_UI_API_AUDIT:
			if (m.kind == PS_UI_KIND_NONE)
				abort();
			check_segment(m.owner, 1);
			break;
		case PS_UI_API_SECRET:
		case PS_UI_API_REVEAL:
			if (m.kind == PS_UI_KIND_NONE)
				abort();
			check_segment(m.owner, 1);
			check_segment(m.name, 1);
			break;
		case PS_UI_ASSET:
			if (strcmp(m.asset, "app.css") != 0 && strcmp(m.asset, "app.js") != 0)
				abort();
			break;
		default:
			if (m.kind != PS_UI_KIND_NONE)
				abort();
	}
}

static void
fuzz_next(const char *next)
{
	if (!ps_ui_next_valid(next))
		return;
	if (strncmp(next, "/ui/", 4) != 0 || strlen(next) > 512 ||
		strstr(next, "//") != NULL || strchr(next, '\\') != NULL)
		abort();
	for (const char *c = next; *c; c++)
		if ((unsigned char) *c <= 0x20 || (unsigned char) *c >= 0x7f)
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *s;

	if (size < 1)
		return 0;
	size--;
	s = malloc(size + 1);
	memcpy(s, data + 1, size);
	s[size] = '\0';
	if (data[0] % 2 == 0)
		fuzz_match(s);
	else
		fuzz_next(s);
	free(s);
	return 0;
}
