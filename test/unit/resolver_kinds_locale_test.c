/*
 * resolver_kinds_locale_test.c: the character rules of resolver options
 * and the percent-encoding of URLs are ASCII whatever the locale.  A
 * backend runs with its database's LC_CTYPE; in a single-byte locale such
 * as fr_FR.ISO-8859-1, isalnum() is true for bytes of UTF-8 text like "ê"
 * (0xC3 0xAA), which then passed as option characters and reached URLs
 * unencoded.  The test builds that locale with localedef in a temporary
 * directory (LOCPATH) and skips when it cannot.  Prints TAP.
 *
 * Sources: src/external/resolver_kinds.c src/external/kind_vault_kv2.c src/external/kind_infisical.c src/external/kind_http_json.c
 * Libs: -ljansson
 */
#include <ctype.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "external/resolver_kinds.h"

static int	tests = 0;

static void
ok(int cond, const char *what)
{
	tests++;
	printf("%sok %d - %s\n", cond ? "" : "not ", tests, what);
}

/* A Latin-1 LC_CTYPE in which isalnum(0xEA) holds, or false. */
static int
latin1_locale(void)
{
	char		dir[] = "/tmp/provsecret-locale.XXXXXX";
	char		cmd[512];
	int			loaded;

	if (mkdtemp(dir) == NULL)
		return 0;
	snprintf(cmd, sizeof(cmd),
			 "localedef -i fr_FR -f ISO-8859-1 %s/fr_FR.ISO-8859-1 >/dev/null 2>&1",
			 dir);
	if (system(cmd) != 0)
		return 0;
	setenv("LOCPATH", dir, 1);
	loaded = setlocale(LC_CTYPE, "fr_FR.ISO-8859-1") != NULL;
	/* the loaded locale stays mapped; the files can go */
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		return 0;
	return loaded && isalnum(0xEA) && isalnum(0xC3);
}

static int
accepted(PsResolverKind kind, const char *json)
{
	PsResolverOptions o;
	char		err[200];

	return ps_resolver_options_parse(kind, json, strlen(json), &o, err, sizeof(err));
}

static int
is_ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char) *s > 0x7e)
			return 0;
	return 1;
}

int
main(void)
{
	PsResolverOptions o;
	char		err[200];
	char	   *url;

	if (!latin1_locale())
	{
		printf("1..0 # SKIP cannot build a Latin-1 locale with localedef\n");
		return 0;
	}
	/* "\u00ea" is "ê": UTF-8 0xC3 0xAA once jansson has decoded it */
	ok(!accepted(PS_KIND_VAULT_KV2, "{\"mount\":\"kv\\u00ea\"}"),
	   "Latin-1 locale: a mount with a non-ASCII letter is refused");
	ok(!accepted(PS_KIND_VAULT_KV2, "{\"namespace\":\"ns\\u00ea\"}"),
	   "Latin-1 locale: a namespace with a non-ASCII letter is refused");
	ok(!accepted(PS_KIND_INFISICAL, "{\"project_id\":\"p\\u00ea\"}"),
	   "Latin-1 locale: a project_id with a non-ASCII letter is refused");
	ok(!accepted(PS_KIND_INFISICAL, "{\"project_id\":\"p\",\"environment\":\"\\u00ea\"}"),
	   "Latin-1 locale: an environment with a non-ASCII letter is refused");
	ok(!accepted(PS_KIND_INFISICAL, "{\"project_id\":\"p\",\"client_id\":\"c\\u00ea\"}"),
	   "Latin-1 locale: a client_id with a non-ASCII letter is refused");
	ok(accepted(PS_KIND_VAULT_KV2, "{\"mount\":\"kv/team_1.a-b\"}"),
	   "Latin-1 locale: an ASCII mount is still accepted");

	if (!ps_resolver_options_parse(PS_KIND_HTTP_JSON, "{}", 2, &o, err, sizeof(err)))
		abort();
	url = ps_resolver_url(PS_KIND_HTTP_JSON, &o, "http://127.0.0.1:1", "a\xc3\xaa/b",
						  "", err, sizeof(err));
	ok(url != NULL && strcmp(url, "http://127.0.0.1:1/a%C3%AA/b") == 0 && is_ascii(url),
	   "Latin-1 locale: a non-ASCII byte of a path is percent-encoded in the URL");
	if (url && strcmp(url, "http://127.0.0.1:1/a%C3%AA/b") != 0)
		printf("# got a URL with %s\n", is_ascii(url) ? "other ASCII" : "raw non-ASCII bytes");
	free(url);

	printf("1..%d\n", tests);
	return 0;
}
