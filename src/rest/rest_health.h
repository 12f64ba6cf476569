/*
 * rest_health.h: can this REST worker serve?  The worker calls
 * ps_rest_health_check() at start and whenever ps_rest_health_check_due_ms()
 * reaches 0; routes read the answer.
 */
#ifndef PROVSECRET_REST_HEALTH_H
#define PROVSECRET_REST_HEALTH_H

#include "postgres.h"

/* Look again (in a transaction of its own; never throws). */
extern void ps_rest_health_check(void);

/* Milliseconds until the next look is due (0 or less: now). */
extern long ps_rest_health_check_due_ms(void);

/*
 * Is the extension installed in provsecret.database (as of the last check,
 * at most a few seconds old)?  When not, *reason says why.
 */
extern bool ps_rest_ready(const char **reason);

/* Ready, and a root key is usable (what GET /healthz reports). */
extern bool ps_rest_healthy(const char **reason);

/*
 * GET /readyz: does this node serve REST now?  NULL when so, else a fixed
 * reason code ("starting", "database_unavailable", "extension_missing",
 * "no_root_key", "audit_worker_down", "standby"), with a fixed *message.  Without a
 * transaction it checks the last look, the root key and the audit worker;
 * in_transaction adds what needs the database: the extension is still
 * there (a catalog read) and the server is not in recovery.
 */
extern const char *ps_rest_not_ready(bool in_transaction, const char **message);

#endif
