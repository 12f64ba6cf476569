/*
 * reference_bytes_test.c: the reference parser over hostile bytes (DESIGN
 * §3): every byte value in every part, malformed UTF-8, embedded NULs,
 * lengths passed without a terminator, and random input that must never
 * crash or read past its length.  Sources: src/core/reference.c.  Prints TAP.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/reference.h"

static int	tests = 0;
static int	failures = 0;

static void
ok(int cond, const char *what)
{
	tests++;
	if (!cond)
		failures++;
	printf("%sok %d - %s\n", cond ? "" : "not ", tests, what);
}

/* Parse exactly len bytes from a heap copy with no terminator after them. */
static int
accepts_bytes(const char *s, size_t len)
{
	PsReference ref;
	char	   *copy = malloc(len ? len : 1);
	int			accepted;

	memcpy(copy, s, len);
	accepted = ps_reference_parse(copy, len, &ref) == NULL;
	free(copy);
	return accepted;
}

static int
is_name_byte(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		(c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}

/* Every byte value at one position of a template "prefix X suffix". */
static void
every_byte(const char *prefix, const char *suffix, int (*allowed) (int),
		   const char *what)
{
	char		buf[512];
	char		msg[256];
	int			wrong = -1;
	size_t		plen = strlen(prefix);
	size_t		slen = strlen(suffix);

	for (int c = 0; c < 256; c++)
	{
		memcpy(buf, prefix, plen);
		buf[plen] = (char) c;
		memcpy(buf + plen + 1, suffix, slen);
		if (accepts_bytes(buf, plen + 1 + slen) != allowed(c))
		{
			wrong = c;
			break;
		}
	}
	if (wrong >= 0)
		snprintf(msg, sizeof(msg), "%s (byte 0x%02x decided wrongly)", what, wrong);
	else
		snprintf(msg, sizeof(msg), "%s", what);
	ok(wrong < 0, msg);
}

/* After a resolver name, '/' starts the path ("external:v//a" has path "/a"). */
static int
is_resolver_byte(int c)
{
	return is_name_byte(c) || c == '/';
}

static int
is_env_byte(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* Bytes a path segment may not hold whatever else the grammar allows. */
static int
path_byte_ok_or_unknown(int c)
{
	return c >= 0x20 && c < 0x7f;
}

int
main(void)
{
	static const char *const bad_utf8[] = {
		"\xff", "\xfe", "\xc3", "\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80",
		"\xf4\x90\x80\x80", "\x80", "\xc3\xa9"
	};
	static const char *const templates[][2] = {
		{"managed:project/", "/KEY"},
		{"managed:project/ws", "/KEY"},
		{"managed:company/acme/", ""},
		{"managed:company/acme/K", ""},
		{"env:", ""},
		{"env:KEY", ""},
		{"external:", "/a/b"},
		{"external:vault/", ""},
		{"external:vault/a/", "/b"},
		{"external:vault/a#", ""},
	};
	char		buf[2048];

	every_byte("managed:project/ws", "/KEY", is_name_byte, "project name bytes: exactly [A-Za-z0-9_.-]");
	every_byte("managed:company/acme/K", "", is_name_byte, "secret name bytes: exactly [A-Za-z0-9_.-]");
	every_byte("env:K", "", is_env_byte, "env name bytes: exactly [A-Z0-9_]");
	every_byte("external:v", "/a", is_resolver_byte, "resolver name bytes: exactly [A-Za-z0-9_.-]");

	/* A path byte outside printable ASCII is always refused. */
	{
		int			wrong = -1;

		for (int c = 0; c < 256 && wrong < 0; c++)
		{
			size_t		n = (size_t) snprintf(buf, sizeof(buf), "external:vault/a%cb", c ? c : 'x');

			if (c == 0)
				buf[16] = '\0';
			if (!path_byte_ok_or_unknown(c) && accepts_bytes(buf, n))
				wrong = c;
		}
		ok(wrong < 0, "no control, DEL, NUL or non-ASCII byte in a path");
	}

	/* Malformed (and well-formed non-ASCII) UTF-8 in every part. */
	for (size_t t = 0; t < sizeof(templates) / sizeof(templates[0]); t++)
	{
		int			accepted = 0;
		char		msg[160];

		for (size_t u = 0; u < sizeof(bad_utf8) / sizeof(bad_utf8[0]); u++)
		{
			size_t		n = (size_t) snprintf(buf, sizeof(buf), "%s%s%s",
											  templates[t][0], bad_utf8[u], templates[t][1]);

			accepted += accepts_bytes(buf, n);
		}
		snprintf(msg, sizeof(msg), "non-ASCII bytes refused after \"%s\"", templates[t][0]);
		ok(accepted == 0, msg);
	}

	/* The length decides, not a terminator. */
	ok(!accepts_bytes("managed:project/ws/KEY\0tail", 27), "an embedded NUL is refused");
	ok(accepts_bytes("managed:project/ws/KEYZZZ", 22), "only len bytes are read (prefix is a valid reference)");
	ok(!accepts_bytes("managed:project/ws/KEY", 19), "a reference cut before its name is refused");
	ok(!accepts_bytes("managed:", 0), "length 0 is refused");

	/*
	 * Random and mutated input: no crash, no read past len (the harness
	 * builds this with ASan/UBSan when the compiler has them), and every
	 * accepted input formats back to exactly itself.
	 */
	srand(12345);
	{
		int			accepted = 0;
		int			mismatched = 0;
		char		msg[160];

		for (int i = 0; i < 200000; i++)
		{
			size_t		n;
			PsReference ref;
			char		out[PS_REFERENCE_MAX + 1];
			char	   *copy;

			if (i % 2 == 0)
			{
				n = (size_t) (rand() % 700);
				for (size_t k = 0; k < n; k++)
					buf[k] = (char) (rand() % 256);
			}
			else
			{
				n = (size_t) snprintf(buf, sizeof(buf), "%s", templates[rand() % 10][0]);
				for (int k = rand() % 40; k > 0; k--)
					buf[n++] = "Aa0_.-/#:\x01\xff "[rand() % 13];
			}
			copy = malloc(n ? n : 1);
			memcpy(copy, buf, n);
			if (ps_reference_parse(copy, n, &ref) == NULL)
			{
				accepted++;
				ps_reference_format(&ref, out, sizeof(out));
				if (strlen(out) != n || memcmp(out, buf, n) != 0)
					mismatched++;
			}
			free(copy);
		}
		snprintf(msg, sizeof(msg),
				 "200,000 random inputs: the %d accepted ones format back to themselves",
				 accepted);
		ok(accepted > 1000 && mismatched == 0, msg);
	}

	printf("1..%d\n", tests);
	return failures == 0 ? 0 : 1;
}
