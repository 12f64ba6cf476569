/*
 * ui_assets.h: the settings pages' files (ui/index.html, ui/app.css,
 * ui/app.js), embedded into the library at build time (ui_assets.c), and
 * the one page shell every /ui/ page is rendered from.
 */
#ifndef PROVSECRET_UI_ASSETS_H
#define PROVSECRET_UI_ASSETS_H

#include "postgres.h"

#include "lib/stringinfo.h"

/* A static asset by file name ("app.css", "app.js"); false when unknown. */
extern bool ps_ui_asset(const char *name, const char **data, size_t *len,
						const char **content_type);

/* What the shell shows; NULL members are empty. */
typedef struct PsUiPage
{
	const char *title;			/* <title> and the heading */
	const char *page;			/* data-page: home, company, project, workspace, message */
	const char *owner;			/* the tenant */
	const char *user;			/* signed-in subject, or NULL */
	const char *csrf;			/* the session's CSRF token, or NULL */
	const char *content;		/* HTML of <main> (already escaped), or NULL */
	const char *refresh;		/* a path to go on to at once, or NULL */
} PsUiPage;

/* The shell with the page's values, escaped (palloc'd). */
extern char *ps_ui_render(const PsUiPage *page, size_t *len);

/* Append text, HTML-escaped. */
extern void ps_ui_html_escape(StringInfo buf, const char *text);

#endif
