/*
 * rest_settings.h: the provsecret.rest_* settings (GUC variables).
 */
#ifndef PROVSECRET_REST_SETTINGS_H
#define PROVSECRET_REST_SETTINGS_H

#include "postgres.h"

extern char *ps_rest_listen_addresses;
extern int	ps_rest_port;
extern int	ps_rest_workers;
extern int	ps_rest_max_connections;
extern int	ps_rest_idle_timeout;
extern int	ps_rest_max_body;
extern char *ps_rest_tls_cert_file;
extern char *ps_rest_tls_key_file;
extern bool ps_rest_allow_plain_http;
extern bool ps_vault_api;		/* provsecret.vault_api */
extern char *ps_vault_mount;	/* provsecret.vault_mount */

/*
 * Define the provsecret.rest_* GUCs and provsecret.metrics_resolver_names;
 * called once from _PG_init.
 */
extern void ps_rest_define_gucs(void);

#endif
