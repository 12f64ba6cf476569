/*
 * ui_settings.h: the settings pages' settings (provsecret.ui,
 * provsecret.ui_client_id) and their fixed limits.
 */
#ifndef PROVSECRET_UI_SETTINGS_H
#define PROVSECRET_UI_SETTINGS_H

#include "postgres.h"

extern bool ps_ui_enabled;		/* provsecret.ui */
extern char *ps_ui_client_id;	/* provsecret.ui_client_id */

/* Sessions per REST worker; the least recently used goes when full. */
#define PS_UI_MAX_SESSIONS 1024
/* A session unused this long ends (seconds). */
#define PS_UI_SESSION_IDLE 1800
/* A session ends this long after sign-in, used or not (seconds). */
#define PS_UI_SESSION_LIFETIME (8 * 3600)
/* Sign-ins under way (sent to the issuer, not back yet), and for how long. */
#define PS_UI_MAX_LOGINS 256
#define PS_UI_LOGIN_LIFETIME 600

/* Define the GUCs; called once from _PG_init. */
extern void ps_ui_define_gucs(void);

#endif
