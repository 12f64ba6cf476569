/*
 * ui_routes.h: the settings pages as a dialect of the REST listener
 * (docs/ui.md): /ui/ pages, sign-in and sign-out, and the JSON endpoints
 * under /ui/api/ the pages' script calls (ui_api.c).
 */
#ifndef PROVSECRET_UI_ROUTES_H
#define PROVSECRET_UI_ROUTES_H

#include "rest/http_request.h"

/*
 * Register the pages with the REST listener (a dialect of
 * rest/http_request.h, so rest/ never includes ui/); once, from _PG_init.
 */
extern void ps_ui_register(void);

#endif
