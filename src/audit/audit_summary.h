/*
 * audit_summary.h: reveal counters for provsecret.audit_level = summary.
 *
 * Successful SQL reveals are counted in a shared-memory table keyed by
 * (reference, principal, minute); the audit worker drains it into
 * "secret.resolved" events with a count, and drains it completely before it
 * exits, so a clean shutdown loses nothing.
 */
#ifndef PROVSECRET_AUDIT_SUMMARY_H
#define PROVSECRET_AUDIT_SUMMARY_H

#include "audit/audit_queue.h"

extern int	ps_audit_summary_entries_max;	/* provsecret.audit_summary_entries */

extern void ps_audit_summary_request_lock(void);
extern Size ps_audit_summary_shmem_size(void);
extern void ps_audit_summary_shmem_init(void);

/* One successful SQL reveal, as its counter sees it (strings not NULL). */
typedef struct PsSummaryReveal
{
	TimestampTz at;
	const char *reference;
	const char *principal;
	const char *company;
	const char *project;
	int32		value_version;
} PsSummaryReveal;

/*
 * Count one reveal.  False when the reveal could not be counted (table full
 * or closed for shutdown, or a name too long for a counter): the caller
 * then records it as an individual durable event instead.  *wake_worker:
 * the table is three quarters full, the worker should write it now.
 */
extern bool ps_audit_summary_count(const PsSummaryReveal *reveal, bool *wake_worker);

/* Worker: was an early write asked for (cleared)? */
extern bool ps_audit_summary_take_flush_request(void);

/*
 * Worker: remove every counter and return them as "secret.resolved" records
 * (palloc'd).  With close, later counts are refused until reopened.
 */
extern int	ps_audit_summary_drain(PsAuditRecord **records, bool close);

/* Worker: put drained counters back after a failed write. */
extern void ps_audit_summary_restore(const PsAuditRecord *records, int n);

extern void ps_audit_summary_open(void);
extern int	ps_audit_summary_entries(void);

#endif
