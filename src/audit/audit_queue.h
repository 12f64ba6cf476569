/*
 * audit_queue.h: the bounded shared-memory queue between backends and the
 * audit worker.
 *
 * A backend copies its event into a free slot (fixed-size fields, no
 * pointers), sets the worker's latch and sleeps on a condition variable until
 * the worker reports the slot committed or failed.  The worker takes every
 * queued slot at once and commits them together (group commit); the
 * backend then flushes WAL up to that commit before it goes on.
 */
#ifndef PROVSECRET_AUDIT_QUEUE_H
#define PROVSECRET_AUDIT_QUEUE_H

#include "postgres.h"

#include "access/xlogdefs.h"
#include "datatype/timestamp.h"

/* Field bounds: longer strings are cut (references are bounded by grammar). */
#define PS_AUDIT_ACTION_LEN		48
#define PS_AUDIT_REFERENCE_LEN	704
#define PS_AUDIT_NAME_LEN		132
#define PS_AUDIT_PRINCIPAL_LEN	320
#define PS_AUDIT_CHANNEL_LEN	8
#define PS_AUDIT_ADDR_LEN		64
#define PS_AUDIT_REQUEST_ID_LEN	132
#define PS_AUDIT_OUTCOME_LEN	24
#define PS_AUDIT_DETAIL_LEN		512

/* An event as flat bytes; an empty string stands for SQL NULL. */
typedef struct PsAuditRecord
{
	TimestampTz at;
	int32		value_version;	/* 0 = NULL */
	int64		count;
	char		action[PS_AUDIT_ACTION_LEN];
	char		reference[PS_AUDIT_REFERENCE_LEN];
	char		company[PS_AUDIT_NAME_LEN];
	char		project[PS_AUDIT_NAME_LEN];
	char		principal[PS_AUDIT_PRINCIPAL_LEN];
	char		channel[PS_AUDIT_CHANNEL_LEN];
	char		client_addr[PS_AUDIT_ADDR_LEN];
	char		request_id[PS_AUDIT_REQUEST_ID_LEN];
	char		outcome[PS_AUDIT_OUTCOME_LEN];
	char		detail[PS_AUDIT_DETAIL_LEN];
} PsAuditRecord;

/* Why the worker could not write a batch (reported to the waiting backend). */
typedef enum PsAuditFailure
{
	PS_AUDIT_FAIL_NONE = 0,
	PS_AUDIT_FAIL_WRITE,		/* the insert or commit raised an error */
	PS_AUDIT_FAIL_NO_EXTENSION, /* extension not installed in the database */
	PS_AUDIT_FAIL_STANDBY		/* server is in recovery */
} PsAuditFailure;

/* What provsecret.audit_worker_status shows. */
typedef struct PsAuditQueueStatus
{
	int			worker_pid;
	int			queue_depth;	/* queued, not yet taken */
	int			in_flight;		/* taken, commit pending */
	int			capacity;
	int64		events_written;
	int64		batches;
	int64		failed_batches;
	TimestampTz last_flush;		/* 0 = never */
	int64		last_seq;		/* newest committed chain_seq, 0 = none */
} PsAuditQueueStatus;

extern int	ps_audit_queue_size;	/* provsecret.audit_queue_size */
extern int	ps_audit_timeout_ms;	/* provsecret.audit_timeout */

/* shmem_request_hook: the queue's LWLock tranche. */
extern void ps_audit_queue_request_lock(void);
extern Size ps_audit_queue_shmem_size(void);
extern void ps_audit_queue_shmem_init(void);

/* Copy a C string into a bounded field (cut, NUL-terminated). */
extern void ps_audit_copy_field(char *dst, Size dstlen, const char *src);

/* Backend: enqueue and wait until committed; ERROR (fail closed) otherwise. */
extern void ps_audit_queue_submit(const PsAuditRecord *record);

/*
 * Have the synchronous standbys, if any are configured, confirmed WAL up to
 * lsn (for this backend's synchronous_commit, at least remote_flush)?
 * PostgreSQL's wait for them also ends on a cancel or postmaster death,
 * the commit being local only; callers that answer after a commit ask here.
 */
extern bool ps_audit_sync_confirmed(XLogRecPtr lsn);

/* Backend: wake the worker (pending transactional events committed). */
extern void ps_audit_queue_wake_worker(bool pending_events);

/* Worker: attach as the queue's consumer / detach at exit. */
extern void ps_audit_queue_attach_worker(void);
extern void ps_audit_queue_detach_worker(int code, Datum arg);

/*
 * Worker: take every queued slot, in submission order.  Returns the number
 * taken; *records and *slots are palloc'd in CurrentMemoryContext.
 */
extern int	ps_audit_queue_take(PsAuditRecord **records, int **slots);

/*
 * Worker: report taken slots committed (failure = NONE) or failed, with the
 * chain head (chain_seq and id of its newest row, of this extension) and how
 * many rows the batch wrote.
 */
extern void ps_audit_queue_finish(const int *slots, int nslots,
								  PsAuditFailure failure, XLogRecPtr commit_lsn,
								  Oid extension, int64 last_seq,
								  int64 last_event_id, int64 written);

/* Worker: consume the "pending events committed" hint. */
extern bool ps_audit_queue_take_pending_hint(void);

/*
 * Chain head the worker committed in this database for this extension
 * instance: its chain_seq (returned; 0 = unknown) and id.
 */
extern int64 ps_audit_queue_head(Oid extension, int64 *event_id);

extern void ps_audit_queue_status(PsAuditQueueStatus *status);

#endif
