/*
 * ui_api.h: the JSON endpoints under /ui/api/ the pages' script calls.
 * They act with the session's principals (installed by ui_routes.c)
 * through the same secret API, permission checks and audit as REST.
 */
#ifndef PROVSECRET_UI_API_H
#define PROVSECRET_UI_API_H

#include "rest/http_request.h"
#include "ui/ui_request.h"

/* Answer an /ui/api/ request other than sign-out; may throw. */
extern void ps_ui_api_execute(PsHttpRequest *req, PsUiRequest *ui);

#endif
