/*
 * ui_answer.h: how every settings-page answer is sent: the security
 * headers (CSP without inline script, no framing, no referrer), cookies,
 * JSON documents.
 */
#ifndef PROVSECRET_UI_ANSWER_H
#define PROVSECRET_UI_ANSWER_H

#include <jansson.h>

#include "rest/http_request.h"

/* The headers every /ui/ answer carries. */
extern void ps_ui_security_headers(PsHttpRequest *req);

/* Answer a JSON document (takes it over). */
extern void ps_ui_answer_json(PsHttpRequest *req, int status, json_t *doc);

/* {"error":{"code","message"}} */
extern void ps_ui_answer_json_error(PsHttpRequest *req, int status,
									const char *message);

/*
 * Set-Cookie for name=value (value NULL: remove it), HttpOnly, Secure when
 * the listener has TLS; max_age 0 for a session cookie.
 */
extern void ps_ui_set_cookie(PsHttpRequest *req, const char *name,
							 const char *value, const char *path,
							 const char *same_site, int max_age);

#endif
