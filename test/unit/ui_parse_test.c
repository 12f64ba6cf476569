/*
 * ui_parse_test.c: the settings pages' parsers of hostile input (the /ui/
 * paths, the page a sign-in returns to), outside a server.  Prints TAP.
 *
 * unit-sources: src/ui/ui_parse.c src/rest/rest_parse.c
 * unit-libs: -ljansson -lsodium
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ui/ui_parse.h"

static int	tests = 0;
static int	failures = 0;

static void
ok(int cond, const char *fmt,...)
{
	va_list		ap;

	tests++;
	if (!cond)
		failures++;
	printf("%sok %d - ", cond ? "" : "not ", tests);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

static void
match(const char *path, PsUiRoute route, PsUiKind kind, const char *owner,
	  const char *name)
{
	PsUiMatch	m;

	ps_ui_match(path, &m);
	ok(m.route == route && m.kind == kind &&
	   (owner == NULL || strcmp(m.owner, owner) == 0) &&
	   (name == NULL || strcmp(m.name, name) == 0),
	   "%s -> route %d kind %d (got %d, %d, \"%s\", \"%s\")", path, route, kind,
	   m.route, m.kind, m.owner, m.name);
}

int
main(void)
{
	/* what the listener hands over */
	ok(ps_ui_claims("/ui") && ps_ui_claims("/ui/") && ps_ui_claims("/ui/x"), "claims /ui/");
	ok(!ps_ui_claims("/uix") && !ps_ui_claims("/v1/ui/") && !ps_ui_claims("/"), "leaves other paths");

	/* pages */
	match("/ui", PS_UI_HOME, PS_UI_KIND_NONE, NULL, NULL);
	match("/ui/", PS_UI_HOME, PS_UI_KIND_NONE, NULL, NULL);
	match("/ui/login", PS_UI_LOGIN, PS_UI_KIND_NONE, NULL, NULL);
	match("/ui/callback", PS_UI_CALLBACK, PS_UI_KIND_NONE, NULL, NULL);
	match("/ui/assets/app.js", PS_UI_ASSET, PS_UI_KIND_NONE, NULL, NULL);
	match("/ui/assets/other.js", PS_UI_NONE, PS_UI_KIND_NONE, NULL, NULL);
	match("/ui/organizations/acme/ai-provider", PS_UI_PAGE, PS_UI_KIND_COMPANY, "acme", NULL);
	match("/ui/projects/p1/settings/ai-providers", PS_UI_PAGE, PS_UI_KIND_PROJECT, "p1", NULL);
	match("/ui/workspaces/ws1/secrets", PS_UI_PAGE, PS_UI_KIND_WORKSPACE, "ws1", NULL);
	match("/ui/workspaces/ws1/secrets/", PS_UI_PAGE, PS_UI_KIND_WORKSPACE, "ws1", NULL);
	match("/ui/workspaces/ws%31/secrets", PS_UI_PAGE, PS_UI_KIND_WORKSPACE, "ws1", NULL);
	match("/ui/organizations/acme", PS_UI_NONE, PS_UI_KIND_NONE, NULL, NULL);
	match("/ui/projects/p1/settings", PS_UI_NONE, PS_UI_KIND_NONE, NULL, NULL);

	/* endpoints */
	match("/ui/api/tenants", PS_UI_API_TENANTS, PS_UI_KIND_NONE, NULL, NULL);
	match("/ui/api/logout", PS_UI_API_LOGOUT, PS_UI_KIND_NONE, NULL, NULL);
	match("/ui/api/companies/acme/secrets", PS_UI_API_SECRETS, PS_UI_KIND_COMPANY, "acme", NULL);
	match("/ui/api/projects/p1/secrets/openai", PS_UI_API_SECRET, PS_UI_KIND_PROJECT, "p1", "openai");
	match("/ui/api/workspaces/ws1/secrets/KEY/reveal", PS_UI_API_REVEAL, PS_UI_KIND_WORKSPACE, "ws1", "KEY");
	match("/ui/api/companies/acme/secrets/openai/reveal", PS_UI_NONE, PS_UI_KIND_NONE, NULL, NULL);
	match("/ui/api/workspaces/ws1/audit", PS_UI_API_AUDIT, PS_UI_KIND_WORKSPACE, "ws1", NULL);
	match("/ui/api/others/x/secrets", PS_UI_NONE, PS_UI_KIND_NONE, NULL, NULL);
	match("/ui/api/companies/acme/nothing", PS_UI_NONE, PS_UI_KIND_NONE, NULL, NULL);

	/* hostile segments */
	match("/ui/workspaces/a%2Fb/secrets", PS_UI_BAD_SEGMENT, PS_UI_KIND_NONE, NULL, NULL);
	match("/ui/workspaces/a%00b/secrets", PS_UI_BAD_SEGMENT, PS_UI_KIND_NONE, NULL, NULL);
	match("/ui/workspaces/a%0Ab/secrets", PS_UI_BAD_SEGMENT, PS_UI_KIND_NONE, NULL, NULL);
	match("/ui/workspaces/a%zz/secrets", PS_UI_BAD_SEGMENT, PS_UI_KIND_NONE, NULL, NULL);
	match("/ui//workspaces", PS_UI_BAD_SEGMENT, PS_UI_KIND_NONE, NULL, NULL);
	match("/ui/a/b/c/d/e/f/g/h/i", PS_UI_BAD_SEGMENT, PS_UI_KIND_NONE, NULL, NULL);
	{
		char		path[1024] = "/ui/workspaces/";

		memset(path + strlen(path), 'a', 300);
		strcat(path, "/secrets");
		match(path, PS_UI_BAD_SEGMENT, PS_UI_KIND_NONE, NULL, NULL);
	}

	/* where a sign-in may return */
	ok(ps_ui_next_valid("/ui/") && ps_ui_next_valid("/ui/workspaces/ws1/secrets"), "own pages");
	ok(!ps_ui_next_valid("https://evil.example/") && !ps_ui_next_valid("//evil.example/ui/") &&
	   !ps_ui_next_valid("/ui//evil.example") && !ps_ui_next_valid("/ui/\\evil") &&
	   !ps_ui_next_valid("/v1/x") && !ps_ui_next_valid("/ui/a b") &&
	   !ps_ui_next_valid("/ui/\r\nSet-Cookie:x") && !ps_ui_next_valid(NULL),
	   "other sites, other paths, spaces and line breaks are refused");

	printf("1..%d\n", tests);
	return failures ? 1 : 0;
}
