/*
 * ui_assets.c: the embedded files of the settings pages (ui_assets.h).
 *
 * .incbin keeps each file byte for byte with no generator step; the
 * Makefile makes this object depend on the files under ui/.
 */
#include "postgres.h"

#include "ui/ui_assets.h"

#define EMBED(sym, file) \
	__asm__(".section .rodata\n" \
			".global " #sym "\n" \
			".type " #sym ", @object\n" \
			#sym ":\n" \
			".incbin \"" file "\"\n" \
			".global " #sym "_end\n" \
			#sym "_end:\n" \
			".byte 0\n" \
			".previous\n")

EMBED(ps_ui_index_html, "ui/index.html");
EMBED(ps_ui_app_css, "ui/app.css");
EMBED(ps_ui_app_js, "ui/app.js");

extern const char ps_ui_index_html[];
extern const char ps_ui_index_html_end[];
extern const char ps_ui_app_css[];
extern const char ps_ui_app_css_end[];
extern const char ps_ui_app_js[];
extern const char ps_ui_app_js_end[];

bool
ps_ui_asset(const char *name, const char **data, size_t *len,
			const char **content_type)
{
	if (strcmp(name, "app.css") == 0)
	{
		*data = ps_ui_app_css;
		*len = ps_ui_app_css_end - ps_ui_app_css;
		*content_type = "text/css; charset=utf-8";
		return true;
	}
	if (strcmp(name, "app.js") == 0)
	{
		*data = ps_ui_app_js;
		*len = ps_ui_app_js_end - ps_ui_app_js;
		*content_type = "text/javascript; charset=utf-8";
		return true;
	}
	return false;
}

void
ps_ui_html_escape(StringInfo buf, const char *text)
{
	for (const char *p = text ? text : ""; *p; p++)
	{
		switch (*p)
		{
			case '&':
				appendStringInfoString(buf, "&amp;");
				break;
			case '<':
				appendStringInfoString(buf, "&lt;");
				break;
			case '>':
				appendStringInfoString(buf, "&gt;");
				break;
			case '"':
				appendStringInfoString(buf, "&quot;");
				break;
			case '\'':
				appendStringInfoString(buf, "&#39;");
				break;
			default:
				appendStringInfoChar(buf, *p);
		}
	}
}

/* The value of placeholder {{name}} of the shell. */
static void
fill(StringInfo buf, const PsUiPage *page, const char *name, size_t len)
{
#define IS(s) (len == strlen(s) && strncmp(name, s, len) == 0)
	if (IS("TITLE"))
		ps_ui_html_escape(buf, page->title);
	else if (IS("PAGE"))
		ps_ui_html_escape(buf, page->page);
	else if (IS("OWNER"))
		ps_ui_html_escape(buf, page->owner);
	else if (IS("USER"))
		ps_ui_html_escape(buf, page->user);
	else if (IS("CSRF"))
		ps_ui_html_escape(buf, page->csrf);
	else if (IS("CONTENT"))
		appendStringInfoString(buf, page->content ? page->content : "");
	else if (IS("REFRESH") && page->refresh)
	{
		appendStringInfoString(buf, "<meta http-equiv=\"refresh\" content=\"0;url=");
		ps_ui_html_escape(buf, page->refresh);
		appendStringInfoString(buf, "\">");
	}
#undef IS
}

char *
ps_ui_render(const PsUiPage *page, size_t *len)
{
	StringInfoData buf;
	const char *p = ps_ui_index_html;
	const char *end = ps_ui_index_html_end;

	initStringInfo(&buf);
	while (p < end)
	{
		const char *open = strstr(p, "{{");
		const char *close = open ? strstr(open, "}}") : NULL;

		if (open == NULL || close == NULL || open >= end)
		{
			appendBinaryStringInfo(&buf, p, end - p);
			break;
		}
		appendBinaryStringInfo(&buf, p, open - p);
		fill(&buf, page, open + 2, close - open - 2);
		p = close + 2;
	}
	*len = buf.len;
	return buf.data;
}
