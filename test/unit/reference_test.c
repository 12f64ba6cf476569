/*
 * reference_test.c: the reference grammar of DESIGN §3, outside a server.
 * Prints TAP.
 *
 * unit-sources: src/core/reference.c
 */
#include <stdio.h>
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

static int
accepts(const char *s)
{
	PsReference ref;

	return ps_reference_parse(s, strlen(s), &ref) == NULL;
}

static int
rejects(const char *s)
{
	return !accepts(s);
}

static void
repeat(char *buf, const char *prefix, char c, int n, const char *suffix)
{
	size_t		len = strlen(prefix);

	memcpy(buf, prefix, len);
	memset(buf + len, c, n);
	strcpy(buf + len + n, suffix);
}

int
main(void)
{
	PsReference ref;
	char		buf[2048];
	char		out[PS_REFERENCE_MAX + 1];

	ok(accepts("managed:company/acme/openai"), "company secret");
	ok(accepts("managed:project/ws1/LITELLM_API_KEY"), "project secret");
	ok(accepts("managed:project/a.b-c_d/x.y-z_1"), "dots, dashes, underscores");
	ok(rejects("managed:project/.ws/x"), "name must start alphanumeric");
	ok(rejects("managed:team/ws/x"), "unknown scope");
	ok(rejects("managed:project/ws"), "missing name");
	ok(rejects("managed:project/ws/"), "empty name");
	ok(rejects("managed:project//x"), "empty project");
	ok(rejects("managed:project/ws/a/b"), "slash inside a name");
	ok(rejects("managed:project/ws/a b"), "space inside a name");
	ok(rejects("managed:project/w\xc3\xa9/x"), "non-ASCII project");
	ok(rejects("Managed:project/ws/x"), "prefix is case-sensitive");
	ok(rejects(""), "empty");
	ok(rejects("sk-live-1234"), "a value is not a reference");
	ok(ps_reference_parse("managed:project/ws/x\0y", 22, &ref) != NULL, "NUL byte");

	repeat(buf, "managed:project/ws/", 'a', 128, "");
	ok(accepts(buf), "name of 128 characters");
	repeat(buf, "managed:project/ws/", 'a', 129, "");
	ok(rejects(buf), "name of 129 characters");
	repeat(buf, "managed:project/", 'p', 128, "/x");
	ok(accepts(buf), "project of 128 characters");
	repeat(buf, "managed:company/", 'c', 129, "/x");
	ok(rejects(buf), "company of 129 characters");

	ok(accepts("env:OPENAI_API_KEY"), "env name");
	ok(accepts("env:_X1"), "env name starting with underscore");
	ok(rejects("env:openai"), "env lowercase");
	ok(rejects("env:1ABC"), "env starting with digit");
	ok(rejects("env:"), "env empty");
	repeat(buf, "env:", 'A', 128, "");
	ok(accepts(buf), "env name of 128");
	repeat(buf, "env:", 'A', 129, "");
	ok(rejects(buf), "env name of 129");

	ok(accepts("external:vault/kv/openai"), "external");
	ok(accepts("external:vault/kv/openai#api_key"), "external with field");
	ok(rejects("external:vault"), "external without path");
	ok(rejects("external:vault/"), "external empty path");
	ok(rejects("external:vault/a/../b"), "dot-dot segment");
	ok(rejects("external:vault/.."), "dot-dot alone");
	ok(accepts("external:vault/a/..b/c"), "dots inside a segment are fine");
	ok(rejects("external:vault/a\tb"), "control character in path");
	ok(accepts("external:vault/a b"), "space in path (printable ASCII)");
	ok(rejects("external:vault/a\x7f"), "DEL in path");
	ok(rejects("external:vault/a#"), "empty field");
	repeat(buf, "external:vault/", 'p', 512, "");
	ok(accepts(buf), "path of 512");
	repeat(buf, "external:vault/", 'p', 513, "");
	ok(rejects(buf), "path of 513");

	ps_reference_parse("managed:project/ws1/KEY", 23, &ref);
	ok(ref.kind == PS_REF_MANAGED && ref.scope == PS_SCOPE_PROJECT &&
	   strcmp(ref.owner, "ws1") == 0 && strcmp(ref.name, "KEY") == 0,
	   "managed parts");
	ps_reference_format(&ref, out, sizeof(out));
	ok(strcmp(out, "managed:project/ws1/KEY") == 0, "format round trip");
	{
		char		small[12];

		memset(small, 'x', sizeof(small));
		ps_reference_format(&ref, small, sizeof(small));
		ok(strcmp(small, "managed:pro") == 0, "format truncates to the buffer");
		ps_reference_format(&ref, small, 1);
		ok(small[0] == '\0', "format into one byte is empty");
	}
	ps_reference_parse("external:v/a/b#f", 16, &ref);
	ok(strcmp(ref.owner, "v") == 0 && strcmp(ref.path, "a/b") == 0 &&
	   strcmp(ref.field, "f") == 0, "external parts");

	{
		PsTarget	target;

		ok(ps_target_parse("company/acme", 12, &target) == NULL &&
		   target.scope == PS_SCOPE_COMPANY, "company target");
		ok(ps_target_parse("project/ws1", 11, &target) == NULL &&
		   target.scope == PS_SCOPE_PROJECT, "project target");
		ok(ps_target_parse("project/", 8, &target) != NULL, "empty target name");
		ok(ps_target_parse("org/x", 5, &target) != NULL, "unknown target scope");
	}

	printf("1..%d\n", tests);
	return failures == 0 ? 0 : 1;
}
