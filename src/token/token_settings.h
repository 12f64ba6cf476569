/*
 * token_settings.h: the provsecret.jwt_* settings (GUC variables).
 */
#ifndef PROVSECRET_TOKEN_SETTINGS_H
#define PROVSECRET_TOKEN_SETTINGS_H

#include "postgres.h"

extern char *ps_jwt_issuer;
extern char *ps_jwt_audience;
extern char *ps_jwt_jwks_url;
extern char *ps_jwt_jwks_file;
extern char *ps_jwt_algorithms;
extern int	ps_jwt_leeway;

/* Define the provsecret.jwt_* GUCs; called once from _PG_init. */
extern void ps_token_define_gucs(void);

/* Changes whenever a setting the verifier reads changes. */
extern uint32 ps_token_settings_generation(void);

/* Changes whenever the JWKS source settings are (re)loaded. */
extern uint32 ps_token_jwks_source_generation(void);

#endif
