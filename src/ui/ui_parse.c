/*
 * ui_parse.c: the /ui/ paths (see ui_parse.h).  Pure: no backend state.
 */
#include <string.h>

#include "rest/rest_parse.h"
#include "ui/ui_parse.h"

#define MAX_SEGMENTS 8

bool
ps_ui_claims(const char *path)
{
	return strcmp(path, "/ui") == 0 || strncmp(path, "/ui/", 4) == 0;
}

/* Split after "/ui/" into decoded segments; false on a bad one. */
static bool
split(const char *path, char seg[][PS_UI_SEGMENT_MAX + 1], int *n)
{
	const char *p = path + 3;

	*n = 0;
	while (*p == '/')
	{
		const char *start = ++p;
		size_t		len;

		while (*p && *p != '/')
			p++;
		len = p - start;
		if (len == 0)
		{
			if (*p == '\0')
				break;			/* a trailing slash */
			return false;
		}
		if (*n == MAX_SEGMENTS ||
			ps_rest_percent_decode(start, len, seg[*n], PS_UI_SEGMENT_MAX + 1) < 0 ||
			strchr(seg[*n], '/') != NULL)
			return false;
		for (const char *c = seg[*n]; *c; c++)
			if ((unsigned char) *c < 0x20 || *c == 0x7f)
				return false;
		(*n)++;
	}
	return *p == '\0';
}

static PsUiKind
api_kind(const char *s)
{
	if (strcmp(s, "companies") == 0)
		return PS_UI_KIND_COMPANY;
	if (strcmp(s, "projects") == 0)
		return PS_UI_KIND_PROJECT;
	if (strcmp(s, "workspaces") == 0)
		return PS_UI_KIND_WORKSPACE;
	return PS_UI_KIND_NONE;
}

static void
match_api(char seg[][PS_UI_SEGMENT_MAX + 1], int n, PsUiMatch *m)
{
	if (n == 2 && strcmp(seg[1], "logout") == 0)
		m->route = PS_UI_API_LOGOUT;
	else if (n == 2 && strcmp(seg[1], "tenants") == 0)
		m->route = PS_UI_API_TENANTS;
	if (m->route != PS_UI_NONE || n < 4 || (m->kind = api_kind(seg[1])) == PS_UI_KIND_NONE)
		return;
	m->kind = PS_UI_KIND_NONE;	/* set again below for a route that matches */
	strcpy(m->owner, seg[2]);
	if (n == 4 && strcmp(seg[3], "secrets") == 0)
		m->route = PS_UI_API_SECRETS;
	else if (n == 4 && strcmp(seg[3], "audit") == 0)
		m->route = PS_UI_API_AUDIT;
	else if ((n == 5 || n == 6) && strcmp(seg[3], "secrets") == 0)
	{
		strcpy(m->name, seg[4]);
		if (n == 5)
			m->route = PS_UI_API_SECRET;
		else if (strcmp(seg[5], "reveal") == 0 && api_kind(seg[1]) == PS_UI_KIND_WORKSPACE)
			m->route = PS_UI_API_REVEAL;
	}
	if (m->route != PS_UI_NONE)
		m->kind = api_kind(seg[1]);
}

void
ps_ui_match(const char *path, PsUiMatch *m)
{
	char		seg[MAX_SEGMENTS][PS_UI_SEGMENT_MAX + 1];
	int			n;

	memset(m, 0, sizeof(*m));
	if (!ps_ui_claims(path))
		return;
	if (!split(path, seg, &n))
	{
		m->route = PS_UI_BAD_SEGMENT;
		return;
	}
	if (n == 0)
		m->route = PS_UI_HOME;
	else if (n == 1 && strcmp(seg[0], "login") == 0)
		m->route = PS_UI_LOGIN;
	else if (n == 1 && strcmp(seg[0], "callback") == 0)
		m->route = PS_UI_CALLBACK;
	else if (n == 2 && strcmp(seg[0], "assets") == 0 &&
			 (strcmp(seg[1], "app.css") == 0 || strcmp(seg[1], "app.js") == 0))
	{
		m->route = PS_UI_ASSET;
		strcpy(m->asset, seg[1]);
	}
	else if (n == 3 && strcmp(seg[0], "organizations") == 0 &&
			 strcmp(seg[2], "ai-provider") == 0)
		m->kind = PS_UI_KIND_COMPANY;
	else if (n == 4 && strcmp(seg[0], "projects") == 0 &&
			 strcmp(seg[2], "settings") == 0 && strcmp(seg[3], "ai-providers") == 0)
		m->kind = PS_UI_KIND_PROJECT;
	else if (n == 3 && strcmp(seg[0], "workspaces") == 0 &&
			 strcmp(seg[2], "secrets") == 0)
		m->kind = PS_UI_KIND_WORKSPACE;
	else if (n >= 2 && strcmp(seg[0], "api") == 0)
		match_api(seg, n, m);
	if (m->route == PS_UI_NONE && m->kind != PS_UI_KIND_NONE)
	{
		m->route = PS_UI_PAGE;
		strcpy(m->owner, seg[1]);
	}
}

bool
ps_ui_next_valid(const char *next)
{
	size_t		len;

	if (next == NULL || strncmp(next, "/ui/", 4) != 0)
		return false;
	len = strlen(next);
	if (len > 512 || strstr(next, "//") != NULL || strchr(next, '\\') != NULL)
		return false;
	for (const char *c = next; *c; c++)
		if ((unsigned char) *c <= 0x20 || (unsigned char) *c >= 0x7f)
			return false;
	return true;
}
