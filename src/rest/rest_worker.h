/*
 * rest_worker.h: the REST listener background workers ("provsecret rest").
 *
 * _PG_init calls ps_rest_define_gucs() (rest_settings.h) and then
 * ps_rest_register_workers().
 */
#ifndef PROVSECRET_REST_WORKER_H
#define PROVSECRET_REST_WORKER_H

#include "postgres.h"

extern void ps_rest_register_workers(void);

extern PGDLLEXPORT void ps_rest_worker_main(Datum main_arg);

#endif
