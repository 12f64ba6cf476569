/*
 * rest_worker.h: the REST listener background workers ("provsecret rest").
 *
 * _PG_init calls ps_rest_define_gucs() and then ps_rest_register_workers().
 */
#ifndef PROVSECRET_REST_WORKER_H
#define PROVSECRET_REST_WORKER_H

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

extern void ps_rest_define_gucs(void);
extern void ps_rest_register_workers(void);

extern PGDLLEXPORT void ps_rest_worker_main(Datum main_arg);

/*
 * Is the extension installed in provsecret.database (as of the last check,
 * at most a few seconds old)?  When not, *reason says why.
 */
extern bool ps_rest_ready(const char **reason);

/* Ready, and a root key is usable (what GET /healthz reports). */
extern bool ps_rest_healthy(const char **reason);

#endif
