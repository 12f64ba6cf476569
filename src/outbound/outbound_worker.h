/*
 * outbound_worker.h: the "provsecret outbound" background worker, which
 * makes every outbound HTTP call of the server (external resolvers, JWKS)
 * on one libcurl multi handle, many at once, for the processes that hand
 * them over (outbound_ipc.h).
 */
#ifndef PROVSECRET_OUTBOUND_WORKER_H
#define PROVSECRET_OUTBOUND_WORKER_H

#include "postgres.h"

/* True inside the outbound worker: calls there run in-process. */
extern bool ps_outbound_in_worker;

/* From _PG_init: settings and the worker. */
extern void ps_outbound_register(void);

extern PGDLLEXPORT void ps_outbound_worker_main(Datum main_arg);

#endif
