/*
 * ui_settings.c: provsecret.ui and provsecret.ui_client_id.
 */
#include "postgres.h"

#include "utils/guc.h"

#include "ui/ui_settings.h"

bool		ps_ui_enabled = true;
char	   *ps_ui_client_id = NULL;

void
ps_ui_define_gucs(void)
{
	DefineCustomBoolVariable("provsecret.ui",
							 "Serve the settings pages under /ui/ on the REST listener.",
							 NULL, &ps_ui_enabled, true,
							 PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("provsecret.ui_client_id",
							   "OpenID Connect client id (a public client with PKCE) the settings pages sign in with.",
							   "The issuer is provsecret.jwt_issuer; the redirect URI is <listener>/ui/callback.",
							   &ps_ui_client_id, "",
							   PGC_SIGHUP, 0, NULL, NULL, NULL);
}
