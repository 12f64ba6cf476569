/*
 * ui_parse.h: pure parsers of the settings pages' hostile input: the /ui/
 * paths, the "next" page a sign-in returns to.  No backend state and no
 * postgres.h, so they can be unit-tested outside a server.
 */
#ifndef PROVSECRET_UI_PARSE_H
#define PROVSECRET_UI_PARSE_H

#include <stdbool.h>
#include <stddef.h>

#define PS_UI_SEGMENT_MAX 256

typedef enum PsUiRoute
{
	PS_UI_NONE = 0,				/* 404 */
	PS_UI_BAD_SEGMENT,			/* 400 */
	PS_UI_ASSET,				/* /ui/assets/{file} */
	PS_UI_HOME,					/* /ui/ */
	PS_UI_LOGIN,				/* /ui/login */
	PS_UI_CALLBACK,				/* /ui/callback */
	PS_UI_PAGE,					/* a tenant's page (kind, owner) */
	PS_UI_API_LOGOUT,			/* POST /ui/api/logout */
	PS_UI_API_TENANTS,			/* GET /ui/api/tenants */
	PS_UI_API_SECRETS,			/* GET /ui/api/{kind}/{owner}/secrets */
	PS_UI_API_SECRET,			/* PUT, DELETE .../secrets/{name} */
	PS_UI_API_REVEAL,			/* POST /ui/api/workspaces/{ws}/secrets/{key}/reveal */
	PS_UI_API_AUDIT				/* GET /ui/api/{kind}/{owner}/audit */
} PsUiRoute;

/* Whose page: a company's providers, a project's, a workspace's secrets. */
typedef enum PsUiKind
{
	PS_UI_KIND_NONE = 0,
	PS_UI_KIND_COMPANY,			/* /ui/organizations/{c}/ai-provider */
	PS_UI_KIND_PROJECT,			/* /ui/projects/{p}/settings/ai-providers */
	PS_UI_KIND_WORKSPACE		/* /ui/workspaces/{ws}/secrets */
} PsUiKind;

typedef struct PsUiMatch
{
	PsUiRoute	route;
	PsUiKind	kind;
	char		owner[PS_UI_SEGMENT_MAX + 1];	/* company, project or ws */
	char		name[PS_UI_SEGMENT_MAX + 1];	/* provider or key */
	char		asset[32];		/* file name under /ui/assets/ */
} PsUiMatch;

/* Does the listener hand this raw path to the settings pages? */
extern bool ps_ui_claims(const char *path);

/* Match a raw (percent-encoded) path; segments are decoded once. */
extern void ps_ui_match(const char *path, PsUiMatch *match);

/*
 * A page a sign-in may return to: a path of ours under /ui/ (no scheme, no
 * host, no "//", no backslash, no control character, printable ASCII, at
 * most 512 bytes).  Anything else returns to /ui/.
 */
extern bool ps_ui_next_valid(const char *next);

#endif
