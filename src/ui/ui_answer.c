/*
 * ui_answer.c: headers, cookies and JSON of settings-page answers
 * (ui_answer.h).
 */
#include "postgres.h"

#include "utils/json.h"

#include "rest/rest_settings.h"
#include "ui/ui_answer.h"

#define CSP "default-src 'self'; script-src 'self'; style-src 'self'; " \
	"img-src 'self' data:; connect-src 'self'; object-src 'none'; " \
	"base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

void
ps_ui_security_headers(PsHttpRequest *req)
{
	/* Cache-Control: no-store and nosniff are http.c's, on every answer */
	ps_http_add_header(req, "Content-Security-Policy", CSP);
	ps_http_add_header(req, "Referrer-Policy", "no-referrer");
	ps_http_add_header(req, "X-Frame-Options", "DENY");
	ps_http_add_header(req, "Cross-Origin-Opener-Policy", "same-origin");
}

void
ps_ui_answer_json(PsHttpRequest *req, int status, json_t *doc)
{
	char	   *text = json_dumps(doc, JSON_COMPACT);

	json_decref(doc);
	if (text == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY),
						errmsg("could not serialize the response")));
	/* json_dumps used the wiping allocator: the request owns it now */
	ps_http_set_malloced_body(req, status, "application/json", text, strlen(text));
}

void
ps_ui_answer_json_error(PsHttpRequest *req, int status, const char *message)
{
	StringInfoData buf;
	const char *code = status == 401 ? "session_expired" :
		status == 403 ? "forbidden" : status == 400 ? "bad_request" :
		status == 404 ? "not_found" : status == 405 ? "method_not_allowed" :
		status == 502 ? "backend_unreachable" : status == 503 ? "unavailable" :
		"internal_error";

	initStringInfo(&buf);
	appendStringInfo(&buf, "{\"error\":{\"code\":\"%s\",\"message\":", code);
	escape_json(&buf, message);
	appendStringInfoString(&buf, "}}");
	ps_http_set_body(req, status, "application/json", buf.data, buf.len);
	pfree(buf.data);
}

void
ps_ui_set_cookie(PsHttpRequest *req, const char *name, const char *value,
				 const char *path, const char *same_site, int max_age)
{
	StringInfoData buf;
	bool		tls = ps_rest_tls_cert_file != NULL && ps_rest_tls_cert_file[0] != '\0';

	initStringInfo(&buf);
	appendStringInfo(&buf, "%s=%s; Path=%s; HttpOnly; SameSite=%s", name,
					 value ? value : "", path, same_site);
	if (value == NULL)
		appendStringInfoString(&buf, "; Max-Age=0");
	else if (max_age > 0)
		appendStringInfo(&buf, "; Max-Age=%d", max_age);
	if (tls)
		appendStringInfoString(&buf, "; Secure");
	ps_http_add_header(req, "Set-Cookie", buf.data);
	explicit_bzero(buf.data, buf.len);
	pfree(buf.data);
}
