/*
 * settings.h: the core settings (provsecret.mode, provsecret.database,
 * provsecret.env_allowlist, provsecret.keep_versions).  Their variables are
 * declared in provsecret.h, which every part includes; the other parts
 * define their own settings (audit, token, outbound, rest).
 */
#ifndef PROVSECRET_SETTINGS_H
#define PROVSECRET_SETTINGS_H

#include "postgres.h"

/* Define the core GUCs; called once from _PG_init, before the others. */
extern void ps_core_define_gucs(void);

#endif
