/*
 * ui_request.h: what the settings pages keep of one request (the
 * request's dialect_state), shared by the routes and the JSON endpoints.
 * Header only.
 */
#ifndef PROVSECRET_UI_REQUEST_H
#define PROVSECRET_UI_REQUEST_H

#include "rest/rest_parse.h"
#include "ui/ui_parse.h"
#include "ui/ui_session.h"

typedef struct PsUiRequest
{
	PsUiMatch	match;
	char	   *path;			/* as requested, still percent-encoded */
	PsRestMethod method;
	char	   *session_cookie;
	char	   *login_cookie;
	char	   *origin;
	char	   *host;
	char	   *csrf;			/* X-CSRF-Token */
	char	   *code;			/* ?code= of the callback */
	char	   *state;			/* ?state= */
	char	   *error;			/* ?error= */
	char	   *next;			/* ?next= of /ui/login */
	PsUiSession *session;		/* found in execute */
	bool		json;			/* an /ui/api/ request: errors in JSON */
} PsUiRequest;

#endif
