/*
 * audit.h: audit events.
 *
 * Events never carry a value or ciphertext.  Reveals and denials must be
 * recorded durably, independently of the caller's transaction, before the
 * value is returned (fail closed); other events describe changes made in the
 * caller's transaction.
 *
 * Every event is written by one process, the "provsecret audit" background
 * worker, so the keyed hash chain over provsecret.audit_event has a single
 * writer (docs/audit.md).
 */
#ifndef PROVSECRET_AUDIT_H
#define PROVSECRET_AUDIT_H

#include "postgres.h"

typedef struct PsAuditEvent
{
	const char *action;			/* "secret.revealed", "secret.sealed", ... */
	const char *reference;		/* may be NULL */
	const char *company;		/* may be NULL */
	const char *project;		/* may be NULL */
	int32		value_version;	/* 0 when not applicable */
	const char *outcome;		/* "ok", "denied", "not_found", "error" */
	int64		count;			/* 1, or the summary count */
	const char *detail;			/* what changed, e.g. for grants; no values */
} PsAuditEvent;

/*
 * Record an event.  The principal, channel, client address and request id
 * come from the call context (ps_audit_set_call_context,
 * core/principal.h).  With durable, the event is committed before this
 * returns whatever the caller's transaction does later; an event that cannot
 * be recorded raises an error.  Without durable, the event commits or rolls
 * back with the caller's transaction.  With provsecret.audit_level = summary,
 * a successful SQL "secret.revealed" is counted in shared memory instead and
 * written later as a "secret.resolved" event with a count.
 */
extern void ps_audit_record(const PsAuditEvent *event, bool durable);

/*
 * Channel ("sql" or "rest"), client address and request id for the events of
 * the current transaction; reset to the SQL defaults at transaction end.
 * Strings are copied.
 */
extern void ps_audit_set_call_context(const char *channel,
									  const char *client_addr,
									  const char *request_id);

/* _PG_init: GUCs (provsecret.audit_level, audit_timeout, ...). */
/*
 * For a process that answers no request before the transaction holding it
 * commits (the REST worker: one commit per batch, then the answers, and 503
 * for all when the commit fails).  Its successful reveals then ride in that
 * transaction, as changes do, instead of each waiting for the audit worker:
 * still recorded before the value leaves, at one commit per batch.
 */
extern void ps_audit_answers_after_commit(void);

extern void ps_audit_define_gucs(void);

/* _PG_init: register the "provsecret audit" background worker. */
extern void ps_audit_register_worker(void);

/* Called from the shmem_request_hook and shmem_startup_hook chains. */
extern void ps_audit_shmem_request(void);
extern void ps_audit_shmem_startup(void);

#endif
