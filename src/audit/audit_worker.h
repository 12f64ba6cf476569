/*
 * audit_worker.h: the "provsecret audit" background worker, the only writer
 * of provsecret.audit_event.
 */
#ifndef PROVSECRET_AUDIT_WORKER_H
#define PROVSECRET_AUDIT_WORKER_H

#include "postgres.h"

extern int	ps_audit_summary_interval_ms;	/* provsecret.audit_summary_interval */

extern PGDLLEXPORT void ps_audit_worker_main(Datum main_arg);

#endif
