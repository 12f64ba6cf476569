/*
 * ui_routes.c: the settings pages' dialect of the REST listener.
 *
 * A request reads top to bottom: the path (ui_parse.c), then what needs no
 * database (files, routing errors, the Origin of a change) in prepare;
 * everything else runs in the worker's batch: sign-in (ui_oidc.c), the
 * session (ui_session.c), its CSRF token, its access token verified again
 * by the one token verifier and installed as the principals, then a page
 * or a JSON endpoint (ui_api.c) that calls the same secret API as REST.
 */
#include "postgres.h"

#include <curl/curl.h>
#include <microhttpd.h>

#include "utils/memutils.h"

#include "core/principal.h"
#include "core/reference.h"
#include "rest/rest_health.h"
#include "rest/rest_settings.h"
#include "rest/routes.h"
#include "token/token.h"
#include "ui/ui_answer.h"
#include "ui/ui_api.h"
#include "ui/ui_assets.h"
#include "ui/ui_oidc.h"
#include "ui/ui_request.h"
#include "ui/ui_routes.h"
#include "ui/ui_settings.h"

#define SESSION_COOKIE "ps_ui_session"
#define LOGIN_COOKIE "ps_ui_login"

static PsUiRequest *
ui_of(PsHttpRequest *req)
{
	return (PsUiRequest *) req->dialect_state;
}

static char *
lookup(PsHttpRequest *req, enum MHD_ValueKind kind, const char *name)
{
	const char *v = MHD_lookup_connection_value(req->connection, kind, name);

	return v ? MemoryContextStrdup(req->cxt, v) : NULL;
}

/* A query argument, percent-decoded once (the listener leaves it raw). */
static char *
argument(PsHttpRequest *req, const char *name)
{
	char	   *raw = lookup(req, MHD_GET_ARGUMENT_KIND, name);
	char	   *decoded;
	int			len;
	char	   *copy;

	if (raw == NULL)
		return NULL;
	decoded = curl_easy_unescape(NULL, raw, 0, &len);
	if (decoded == NULL || (int) strlen(decoded) != len)
	{
		curl_free(decoded);
		return NULL;
	}
	copy = MemoryContextStrdup(req->cxt, decoded);
	curl_free(decoded);
	return copy;
}

static void
ui_begin(PsHttpRequest *req, const char *url, const char *method)
{
	PsUiRequest *ui = MemoryContextAllocZero(req->cxt, sizeof(PsUiRequest));

	req->dialect_state = ui;
	ps_ui_match(url, &ui->match);
	ui->path = MemoryContextStrdup(req->cxt, url);
	ui->method = ps_rest_method_from_string(method);
	ui->json = ui->match.route >= PS_UI_API_LOGOUT;
	ui->session_cookie = lookup(req, MHD_COOKIE_KIND, SESSION_COOKIE);
	ui->login_cookie = lookup(req, MHD_COOKIE_KIND, LOGIN_COOKIE);
	ui->origin = lookup(req, MHD_HEADER_KIND, "Origin");
	ui->host = lookup(req, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
	ui->csrf = lookup(req, MHD_HEADER_KIND, "X-CSRF-Token");
	if (ui->match.route == PS_UI_CALLBACK)
	{
		ui->code = argument(req, "code");
		ui->state = argument(req, "state");
		ui->error = argument(req, "error");
	}
	else if (ui->match.route == PS_UI_LOGIN)
		ui->next = argument(req, "next");
}

static void
ui_finish(PsHttpRequest *req)
{
	PsUiRequest *ui = ui_of(req);

	if (ui == NULL)
		return;
	/* the cookies and the code are credentials */
	if (ui->session_cookie)
		explicit_bzero(ui->session_cookie, strlen(ui->session_cookie));
	if (ui->login_cookie)
		explicit_bzero(ui->login_cookie, strlen(ui->login_cookie));
	if (ui->code)
		explicit_bzero(ui->code, strlen(ui->code));
	if (ui->csrf)
		explicit_bzero(ui->csrf, strlen(ui->csrf));
}

static bool
listener_tls(void)
{
	return ps_rest_tls_cert_file != NULL && ps_rest_tls_cert_file[0] != '\0';
}

/* scheme://host of this listener as the browser addressed it, or NULL */
static char *
own_origin(PsHttpRequest *req)
{
	PsUiRequest *ui = ui_of(req);

	if (ui->host == NULL || ui->host[0] == '\0' || strlen(ui->host) > 255 ||
		strpbrk(ui->host, " \t\r\n/\\@?#") != NULL)
		return NULL;
	return psprintf("%s://%s", listener_tls() ? "https" : "http", ui->host);
}

/* A change must come from our own pages: the Origin is ours. */
static bool
same_origin(PsHttpRequest *req)
{
	char	   *origin = own_origin(req);

	return origin != NULL && ui_of(req)->origin != NULL &&
		strcmp(origin, ui_of(req)->origin) == 0;
}

static void
answer_page(PsHttpRequest *req, int status, const PsUiPage *page)
{
	size_t		len;
	char	   *html = ps_ui_render(page, &len);

	ps_http_set_body(req, status, "text/html; charset=utf-8", html, len);
	pfree(html);
}

static char *
sign_in_link(const char *next)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "<p class=\"actions\"><a class=\"button primary\" role=\"button\" href=\"/ui/login");
	if (next && ps_ui_next_valid(next))
	{
		char	   *escaped = curl_easy_escape(NULL, next, 0);

		appendStringInfoString(&buf, "?next=");
		ps_ui_html_escape(&buf, escaped);
		curl_free(escaped);
	}
	appendStringInfoString(&buf, "\">Sign in</a></p>");
	return buf.data;
}

/* A page with a heading, a sentence and, when asked, the Sign in button. */
static void
answer_message(PsHttpRequest *req, int status, const char *heading,
			   const char *text, bool sign_in, const char *next)
{
	StringInfoData buf;
	PsUiPage	page = {0};
	PsUiRequest *ui = ui_of(req);

	initStringInfo(&buf);
	appendStringInfo(&buf, "<section class=\"card message\" data-status=\"%d\"><h1>", status);
	ps_ui_html_escape(&buf, heading);
	appendStringInfoString(&buf, "</h1><p>");
	ps_ui_html_escape(&buf, text);
	appendStringInfoString(&buf, "</p>");
	if (sign_in)
		appendStringInfoString(&buf, sign_in_link(next));
	else
		appendStringInfoString(&buf, "<p class=\"actions\"><a class=\"button\" href=\"/ui/\">Back to your tenants</a></p>");
	appendStringInfoString(&buf, "</section>");
	page.title = heading;
	page.page = "message";
	if (ui->session)
	{
		page.user = ps_ui_session_subject(ui->session);
		page.csrf = ps_ui_session_csrf(ui->session);
	}
	page.content = buf.data;
	answer_page(req, status, &page);
}

/* Every error of a claimed request: a page, or JSON for the script. */
static void
ui_set_error(PsHttpRequest *req, int status, const char *message)
{
	PsUiRequest *ui = ui_of(req);
	const char *heading;
	const char *text = message;

	req->n_extra_headers = 0;	/* no cookie of a failed answer */
	ps_ui_security_headers(req);
	if (status == 401 && ui->match.route != PS_UI_CALLBACK)
	{
		/*
		 * The session's token was refused (expired): the session is over.
		 * The cookie stays until the next page, which says so and drops it.
		 */
		if (ui->session)
			ps_ui_session_end(ui->session);
		ui->session = NULL;
		text = "Your session has expired. Sign in again to continue.";
	}
	if (ui->json)
	{
		ps_ui_answer_json_error(req, status, text);
		return;
	}
	switch (status)
	{
		case 401:
			heading = ui->match.route == PS_UI_CALLBACK ? "Sign-in failed" : "Session expired";
			break;
		case 403:
			heading = "You do not have access to this page";
			text = "Your account may not see this tenant (the describe permission is needed). Ask one of its administrators for access, or go back to your tenants.";
			break;
		case 404:
			heading = "Page not found";
			break;
		case 502:
			heading = "A service could not be reached";
			break;
		case 503:
			heading = "Not available";
			break;
		default:
			heading = status >= 500 ? "Something went wrong" : "This request cannot be served";
	}
	answer_message(req, status, heading, text, status == 401, NULL);
}

static bool
method_allowed(PsUiRequest *ui)
{
	switch (ui->match.route)
	{
		case PS_UI_API_SECRET:
			return ui->method == PS_METHOD_PUT || ui->method == PS_METHOD_DELETE;
		case PS_UI_API_REVEAL:
		case PS_UI_API_LOGOUT:
			return ui->method == PS_METHOD_POST;
		default:
			return ui->method == PS_METHOD_GET || ui->method == PS_METHOD_HEAD;
	}
}

static bool
prepare(PsHttpRequest *req)
{
	PsUiRequest *ui = ui_of(req);
	const char *reason;

	if (!ps_ui_enabled)
	{
		ui->json = true;
		ps_ui_answer_json_error(req, 404, "the settings pages are off (provsecret.ui)");
		return false;
	}
	ps_ui_security_headers(req);
	if (ui->method != PS_METHOD_GET && ui->method != PS_METHOD_HEAD && !same_origin(req))
	{
		ps_http_set_error(req, 403, "cross-site request refused: the Origin is not this server");
		return false;
	}
	if (ui->match.route == PS_UI_NONE)
	{
		ps_http_set_error(req, 404, "There is no such page.");
		return false;
	}
	if (ui->match.route == PS_UI_BAD_SEGMENT)
	{
		ps_http_set_error(req, 400, "The address is malformed.");
		return false;
	}
	if (!method_allowed(ui))
	{
		ps_http_set_error(req, 405, "This method is not allowed here.");
		return false;
	}
	if (ui->match.route == PS_UI_ASSET)
	{
		const char *data;
		size_t		len;
		const char *type;

		if (!ps_ui_asset(ui->match.asset, &data, &len, &type))
			ps_http_set_error(req, 404, "There is no such file.");
		else
			ps_http_set_body(req, 200, type, data, len);
		return false;
	}
	if (!ps_rest_ready(&reason))
	{
		ps_http_set_error(req, 503, reason);
		return false;
	}
	if (ui->match.route == PS_UI_API_SECRET && ui->method == PS_METHOD_PUT)
	{
		const char *msg = ps_rest_parse_body(req->body ? req->body : "", req->body_len,
											 ui->match.kind == PS_UI_KIND_WORKSPACE ?
											 PS_BODY_VALUE : PS_BODY_CREDENTIAL_VALUE,
											 &req->parsed);

		if (msg)
		{
			ps_http_set_error(req, 400, msg);
			return false;
		}
	}
	return true;
}

/* What prepare allocates goes with the request. */
static bool
ui_prepare(PsHttpRequest *req)
{
	MemoryContext old = MemoryContextSwitchTo(req->cxt);
	bool		batch = prepare(req);

	MemoryContextSwitchTo(old);
	return batch;
}

static char *
redirect_uri(PsHttpRequest *req)
{
	char	   *origin = own_origin(req);

	if (origin == NULL)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("the request has no usable Host header")));
	return psprintf("%s/ui/callback", origin);
}

static void
start_sign_in(PsHttpRequest *req)
{
	PsUiRequest *ui = ui_of(req);
	char		binding[PS_UI_TOKEN_CHARS + 1];
	const PsUiLogin *login;
	char	   *url;

	login = ps_ui_login_start(ps_ui_next_valid(ui->next) ? ui->next : "/ui/", binding);
	url = ps_ui_oidc_authorize_url(login, redirect_uri(req));
	ps_ui_set_cookie(req, LOGIN_COOKIE, binding, "/ui/callback", "Lax", PS_UI_LOGIN_LIFETIME);
	explicit_bzero(binding, sizeof(binding));
	ps_http_add_header(req, MHD_HTTP_HEADER_LOCATION, url);
	ps_http_set_body(req, 303, "text/plain; charset=utf-8", "", 0);
}

static void
finish_sign_in(PsHttpRequest *req)
{
	PsUiRequest *ui = ui_of(req);
	PsUiLogin	login;
	char	   *access_token = NULL;
	char	   *id_token = NULL;
	char	   *subject;
	char	   *id_subject;
	char		cookie[PS_UI_TOKEN_CHARS + 1];
	PsUiPage	page = {0};

	if (ui->error != NULL)
	{
		answer_message(req, 401, "Sign-in was not completed",
					   "The identity provider did not sign you in. Try again.", true, NULL);
		return;
	}
	if (ui->code == NULL ||
		!ps_ui_login_take(ui->state, ui->login_cookie, &login))
	{
		answer_message(req, 400, "This sign-in is no longer valid",
					   "It was started in another browser, used already, or is more than ten minutes old. Sign in again.",
					   true, NULL);
		return;
	}
	PG_TRY();
	{
		ps_ui_oidc_exchange(ui->code, &login, redirect_uri(req), &access_token, &id_token);
		(void) ps_token_authenticate(access_token, &subject);
		id_subject = ps_token_verify_id_token(id_token, ps_ui_client_id, login.nonce);
		if (strcmp(subject, id_subject) != 0)
			ereport(ERROR, (errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
							errmsg("the ID token and the access token name different users")));
		ui->session = ps_ui_session_create(access_token, subject, cookie);
	}
	PG_FINALLY();
	{
		if (access_token)
			explicit_bzero(access_token, strlen(access_token));
		if (id_token)
			explicit_bzero(id_token, strlen(id_token));
		explicit_bzero(&login.verifier, sizeof(login.verifier));
	}
	PG_END_TRY();
	ps_ui_set_cookie(req, SESSION_COOKIE, cookie, "/ui", "Strict", 0);
	explicit_bzero(cookie, sizeof(cookie));
	ps_ui_set_cookie(req, LOGIN_COOKIE, NULL, "/ui/callback", "Lax", 0);

	/*
	 * A page that goes on by itself rather than a redirect: the browser
	 * arrived from the issuer's site, and a SameSite=Strict cookie is sent
	 * only on a navigation our own page starts.
	 */
	page.title = "Signed in";
	page.page = "message";
	page.refresh = login.next;
	page.content = "<section class=\"card message\"><h1>Signed in</h1><p>Taking you to your page&hellip; <a href=\"/ui/\">Continue</a></p></section>";
	answer_page(req, 200, &page);
}

static void
sign_out(PsHttpRequest *req)
{
	PsUiRequest *ui = ui_of(req);

	ps_ui_session_end(ui->session);
	ui->session = NULL;
	ps_ui_set_cookie(req, SESSION_COOKIE, NULL, "/ui", "Strict", 0);
	ps_ui_answer_json(req, 200, json_pack("{s:b}", "signedOut", 1));
}

static const char *
page_kind_name(PsUiKind kind)
{
	return kind == PS_UI_KIND_COMPANY ? "company" :
		kind == PS_UI_KIND_PROJECT ? "project" : "workspace";
}

static void
answer_tenant_page(PsHttpRequest *req)
{
	PsUiRequest *ui = ui_of(req);
	PsUiPage	page = {0};

	page.user = ps_ui_session_subject(ui->session);
	page.csrf = ps_ui_session_csrf(ui->session);
	if (ui->match.route == PS_UI_HOME)
	{
		page.title = "Your tenants";
		page.page = "home";
	}
	else
	{
		if (!ps_name_is_valid(ui->match.owner, strlen(ui->match.owner)))
			ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							errmsg("The tenant name in the address is not valid.")));
		ps_routes_require(ui->match.kind == PS_UI_KIND_COMPANY ? ui->match.owner : NULL,
						  ui->match.kind == PS_UI_KIND_COMPANY ? NULL : ui->match.owner,
						  PS_PERM_DESCRIBE);
		page.title = ui->match.kind == PS_UI_KIND_COMPANY ? "AI provider credentials" :
			ui->match.kind == PS_UI_KIND_PROJECT ? "AI provider profiles" : "Workspace secrets";
		page.page = page_kind_name(ui->match.kind);
		page.owner = ui->match.owner;
	}
	answer_page(req, 200, &page);
}

static void
ui_execute(PsHttpRequest *req)
{
	PsUiRequest *ui = ui_of(req);
	List	   *principals;
	char	   *subject;

	if (ui->match.route == PS_UI_LOGIN)
	{
		start_sign_in(req);
		return;
	}
	if (ui->match.route == PS_UI_CALLBACK)
	{
		finish_sign_in(req);
		return;
	}
	ui->session = ps_ui_session_find(ui->session_cookie);
	if (ui->session == NULL)
	{
		/* a cookie of a session that ended: say so, and drop the cookie */
		bool		ended = ui->session_cookie != NULL && ui->session_cookie[0] != '\0';

		if (ended)
			ps_ui_set_cookie(req, SESSION_COOKIE, NULL, "/ui", "Strict", 0);
		if (ui->json)
			ps_ui_answer_json_error(req, 401, "Your session has expired. Sign in again to continue.");
		else if (ended)
			answer_message(req, ui->match.route == PS_UI_HOME ? 200 : 401,
						   "Session expired",
						   "Your session has ended (it expired, or you signed out elsewhere). Sign in again to continue.",
						   true, ui->match.route == PS_UI_HOME ? NULL : ui->path);
		else
			answer_message(req, ui->match.route == PS_UI_HOME ? 200 : 401,
						   "Sign in to provsecret",
						   "Manage AI provider credentials and workspace secrets with your organization's account.",
						   true, ui->match.route == PS_UI_HOME ? NULL : ui->path);
		return;
	}
	if (ui->method != PS_METHOD_GET && ui->method != PS_METHOD_HEAD &&
		!ps_ui_session_csrf_ok(ui->session, ui->csrf))
		ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
						errmsg("cross-site request refused: the CSRF token is missing or wrong")));
	principals = ps_token_authenticate(ps_ui_session_token(ui->session), &subject);
	ps_authz_set_token_principals(principals, true);
	if (ui->match.route == PS_UI_API_LOGOUT)
		sign_out(req);
	else if (ui->json)
		ps_ui_api_execute(req, ui);
	else
		answer_tenant_page(req);
}

static const PsHttpDialect ui_dialect = {
	.channel = "rest",
	.claims = ps_ui_claims,
	.begin = ui_begin,
	.prepare = ui_prepare,
	.execute = ui_execute,
	.set_error = ui_set_error,
	.finish = ui_finish,
};

void
ps_ui_register(void)
{
	ps_http_register_dialect(&ui_dialect);
}
