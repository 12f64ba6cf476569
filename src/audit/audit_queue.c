/*
 * audit_queue.c: bounded shared-memory queue of durable audit events.
 *
 * Slot life: FREE -> QUEUED (backend) -> WRITING (worker took it) -> DONE or
 * FAILED (worker) -> FREE (backend read the result).  A backend that gives up
 * (timeout, cancel, exit) withdraws its slot: a QUEUED slot is freed, a
 * WRITING one becomes ABANDONED and the worker frees it.  The backend that
 * gives up raises an error, so its value is never returned unaudited.
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "miscadmin.h"
#include "replication/syncrep.h"
#include "replication/walsender.h"
#include "replication/walsender_private.h"
#include "pgstat.h"
#include "storage/condition_variable.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/timestamp.h"

#include "audit/audit_queue.h"
#include "core/provsecret.h"

typedef enum PsAuditSlotState
{
	PS_SLOT_FREE = 0,
	PS_SLOT_QUEUED,
	PS_SLOT_WRITING,
	PS_SLOT_DONE,
	PS_SLOT_FAILED,
	PS_SLOT_ABANDONED
} PsAuditSlotState;

typedef struct PsAuditSlot
{
	PsAuditSlotState state;
	PsAuditFailure failure;
	XLogRecPtr	commit_lsn;		/* DONE: end of the worker's commit record */
	uint64		seq;			/* submission order; identifies the use */
	PsAuditRecord record;
} PsAuditSlot;

typedef struct PsAuditQueue
{
	LWLock	   *lock;
	ConditionVariable changed;	/* slot finished, slot freed, worker came */
	pid_t		worker_pid;		/* 0 when no worker is attached */
	Oid			worker_database;	/* where the chain is written */
	Oid			chain_extension;	/* pg_extension oid the head belongs to */
	Latch	   *worker_latch;
	bool		pending_hint;	/* transactional events committed */
	uint64		next_seq;
	int			queued;
	int			writing;
	int			capacity;
	int64		events_written;
	int64		batches;
	int64		failed_batches;
	TimestampTz last_flush;
	int64		last_seq;		/* chain head: chain_seq and id */
	int64		last_event_id;
	PsAuditSlot slots[FLEXIBLE_ARRAY_MEMBER];
} PsAuditQueue;

#define PS_AUDIT_TRANCHE "provsecret_audit_queue"

int			ps_audit_queue_size = 1024;
int			ps_audit_timeout_ms = 5000;

static PsAuditQueue *queue = NULL;

/* This backend's slot while it waits, for the exit callback. */
static int	my_slot = -1;
static uint64 my_seq = 0;
static bool exit_callback_registered = false;

Size
ps_audit_queue_shmem_size(void)
{
	return add_size(offsetof(PsAuditQueue, slots),
					mul_size(ps_audit_queue_size, sizeof(PsAuditSlot)));
}

/* Called from the shmem request hook too: reserve our lock. */
void
ps_audit_queue_shmem_init(void)
{
	bool		found;

	queue = ShmemInitStruct("provsecret audit queue",
							ps_audit_queue_shmem_size(), &found);
	if (!found)
	{
		memset(queue, 0, ps_audit_queue_shmem_size());
		queue->lock = &(GetNamedLWLockTranche(PS_AUDIT_TRANCHE))->lock;
		ConditionVariableInit(&queue->changed);
		queue->capacity = ps_audit_queue_size;
		queue->next_seq = 1;
	}
}

void
ps_audit_copy_field(char *dst, Size dstlen, const char *src)
{
	if (src == NULL)
		dst[0] = '\0';
	else
		strlcpy(dst, src, dstlen);
}

static PsAuditQueue *
attached_queue(void)
{
	if (queue == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("provsecret audit queue is not available"),
				 errhint("Add provsecret to shared_preload_libraries and restart the server.")));
	return queue;
}

/* Give up on our slot; the caller holds no lock. */
static void
withdraw_my_slot(void)
{
	PsAuditSlot *slot;

	if (my_slot < 0 || queue == NULL)
		return;
	LWLockAcquire(queue->lock, LW_EXCLUSIVE);
	slot = &queue->slots[my_slot];
	if (slot->seq == my_seq)
	{
		switch (slot->state)
		{
			case PS_SLOT_QUEUED:
				queue->queued--;
				slot->state = PS_SLOT_FREE;
				break;
			case PS_SLOT_WRITING:
				slot->state = PS_SLOT_ABANDONED;
				break;
			case PS_SLOT_DONE:
			case PS_SLOT_FAILED:
				slot->state = PS_SLOT_FREE;
				break;
			default:
				break;
		}
	}
	LWLockRelease(queue->lock);
	my_slot = -1;
	ConditionVariableBroadcast(&queue->changed);
}

static void
withdraw_at_exit(int code, Datum arg)
{
	withdraw_my_slot();
}

/* Put the record in a free slot; false when the queue is full. */
static bool
try_enqueue(const PsAuditRecord *record, Latch **worker_latch)
{
	int			i;

	for (i = 0; i < queue->capacity; i++)
	{
		PsAuditSlot *slot = &queue->slots[i];

		if (slot->state != PS_SLOT_FREE)
			continue;
		memcpy(&slot->record, record, sizeof(PsAuditRecord));
		slot->state = PS_SLOT_QUEUED;
		slot->failure = PS_AUDIT_FAIL_NONE;
		slot->seq = queue->next_seq++;
		queue->queued++;
		my_slot = i;
		my_seq = slot->seq;
		*worker_latch = queue->worker_latch;
		return true;
	}
	return false;
}

static void
report_failure(PsAuditFailure failure)
{
	switch (failure)
	{
		case PS_AUDIT_FAIL_NO_EXTENSION:
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("audit event could not be recorded: extension provsecret is not installed in the audit database"),
					 errhint("Run CREATE EXTENSION provsecret in the database named by provsecret.database.")));
			break;
		case PS_AUDIT_FAIL_STANDBY:
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("audit event could not be recorded: the server is in recovery")));
			break;
		default:
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("audit event could not be recorded: the audit worker failed to write it"),
					 errhint("See the server log of the provsecret audit worker.")));
	}
}

/*
 * Wait for our slot's result.  Returns the end of the worker's commit
 * record once it is committed; raises (after the caller's PG_CATCH
 * withdraws the slot) otherwise.
 */
static XLogRecPtr
wait_for_commit(TimestampTz deadline)
{
	for (;;)
	{
		PsAuditSlotState state;
		PsAuditFailure failure;
		XLogRecPtr	lsn;
		long		wait_ms;

		LWLockAcquire(queue->lock, LW_SHARED);
		state = queue->slots[my_slot].state;
		failure = queue->slots[my_slot].failure;
		lsn = queue->slots[my_slot].commit_lsn;
		LWLockRelease(queue->lock);

		if (state == PS_SLOT_DONE)
			return lsn;
		if (state == PS_SLOT_FAILED)
			report_failure(failure);

		wait_ms = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), deadline);
		if (wait_ms <= 0)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("audit event not recorded within provsecret.audit_timeout (%d ms)",
							ps_audit_timeout_ms),
					 errdetail(queue->worker_pid == 0
							   ? "The provsecret audit worker is not running."
							   : "The provsecret audit worker did not acknowledge the event."),
					 errhint("The value was not returned.  Check the provsecret audit worker in pg_stat_activity.")));
		ConditionVariableTimedSleep(&queue->changed, wait_ms,
									PG_WAIT_EXTENSION);
	}
}

/*
 * SyncRepWaitForLSN() keeps no record of why it returned, so look where it
 * looks (WalSndCtl, under SyncRepLock).  A synchronous_commit of local or
 * off counts as on (sync_rep_wait() waits so).
 */
bool
ps_audit_sync_confirmed(XLogRecPtr lsn)
{
	int			mode;
	bool		defined;
	bool		confirmed;

	if (max_wal_senders == 0 || WalSndCtl == NULL)
		return true;
	switch (synchronous_commit)
	{
		case SYNCHRONOUS_COMMIT_REMOTE_WRITE:
			mode = SYNC_REP_WAIT_WRITE;
			break;
		case SYNCHRONOUS_COMMIT_REMOTE_APPLY:
			mode = SYNC_REP_WAIT_APPLY;
			break;
		default:				/* on, and local or off raised to on */
			mode = SYNC_REP_WAIT_FLUSH;
			break;
	}
	LWLockAcquire(SyncRepLock, LW_SHARED);
#ifdef SYNC_STANDBY_DEFINED
	if (WalSndCtl->sync_standbys_status & SYNC_STANDBY_INIT)
		defined = (WalSndCtl->sync_standbys_status & SYNC_STANDBY_DEFINED) != 0;
	else
		defined = SyncRepStandbyNames != NULL && SyncRepStandbyNames[0] != '\0';
#else
	defined = WalSndCtl->sync_standbys_defined;
#endif
	confirmed = !defined || lsn <= WalSndCtl->lsn[mode];
	LWLockRelease(SyncRepLock);
	return confirmed;
}

/*
 * Wait for the synchronous standbys, if any are configured, as
 * synchronous_commit = on would even when the session set it to local or
 * off: a caller may not trade its event's survival of a failover for
 * speed.  remote_write and remote_apply are kept as set.
 */
static void
sync_rep_wait(XLogRecPtr lsn)
{
	int			nestlevel = -1;

	if (synchronous_commit <= SYNCHRONOUS_COMMIT_LOCAL_FLUSH)
	{
		nestlevel = NewGUCNestLevel();
		(void) set_config_option("synchronous_commit", "on", PGC_USERSET,
								 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	}
	SyncRepWaitForLSN(lsn, true);
	if (nestlevel >= 0)
		AtEOXact_GUC(true, nestlevel);
}

void
ps_audit_queue_submit(const PsAuditRecord *record)
{
	TimestampTz deadline;
	Latch	   *worker_latch = NULL;
	XLogRecPtr	commit_lsn = InvalidXLogRecPtr;

	attached_queue();
	if (!exit_callback_registered)
	{
		before_shmem_exit(withdraw_at_exit, (Datum) 0);
		exit_callback_registered = true;
	}
	deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
										   ps_audit_timeout_ms);

	PG_TRY();
	{
		/* A full queue (or a restarting worker) gets until the deadline. */
		for (;;)
		{
			bool		queued;
			long		wait_ms;

			LWLockAcquire(queue->lock, LW_EXCLUSIVE);
			queued = try_enqueue(record, &worker_latch);
			LWLockRelease(queue->lock);
			if (queued)
				break;
			wait_ms = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), deadline);
			if (wait_ms <= 0)
				ereport(ERROR,
						(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
						 errmsg("audit queue stayed full for provsecret.audit_timeout (%d ms)",
								ps_audit_timeout_ms),
						 errhint("The value was not returned.  Raise provsecret.audit_queue_size or check the provsecret audit worker.")));
			ConditionVariableTimedSleep(&queue->changed, wait_ms,
										PG_WAIT_EXTENSION);
		}
		if (worker_latch != NULL)
			SetLatch(worker_latch);
		commit_lsn = wait_for_commit(deadline);
		ConditionVariableCancelSleep();
	}
	PG_CATCH();
	{
		withdraw_my_slot();
		PG_RE_THROW();
	}
	PG_END_TRY();
	withdraw_my_slot();			/* DONE -> FREE */

	/*
	 * The worker commits without waiting for its WAL to reach disk, so it
	 * can write the next batch meanwhile; every waiter flushes up to its own
	 * commit record here (backends share the flush as they do at commit)
	 * and, with synchronous replication, waits for the standby.  Only then
	 * is the event durable and the value may be returned.
	 */
	XLogFlush(commit_lsn);
	sync_rep_wait(commit_lsn);
	/*
	 * It also returns, the event committed here only, when the postmaster
	 * dies (ProcDiePending set) or the wait is cancelled (a cancel or
	 * statement_timeout, with a WARNING): then the event is not known to be
	 * on the synchronous standby, and a failover could lose it, so the
	 * value must not be returned either.
	 */
	if (!ps_audit_sync_confirmed(commit_lsn))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("audit event not confirmed by the synchronous standby"),
				 errdetail("The wait for synchronous replication was cancelled; the event is recorded on this server only."),
				 errhint("The value was not returned.")));
}

void
ps_audit_queue_wake_worker(bool pending_events)
{
	Latch	   *latch;

	if (queue == NULL)
		return;
	LWLockAcquire(queue->lock, LW_EXCLUSIVE);
	if (pending_events)
		queue->pending_hint = true;
	latch = queue->worker_latch;
	LWLockRelease(queue->lock);
	if (latch != NULL)
		SetLatch(latch);
}

void
ps_audit_queue_attach_worker(void)
{
	int			i;

	attached_queue();
	LWLockAcquire(queue->lock, LW_EXCLUSIVE);
	queue->worker_pid = MyProcPid;
	queue->worker_database = MyDatabaseId;
	queue->worker_latch = MyLatch;
	queue->pending_hint = true;
	/* A previous worker died mid-batch without committing: write again. */
	for (i = 0; i < queue->capacity; i++)
	{
		PsAuditSlot *slot = &queue->slots[i];

		if (slot->state == PS_SLOT_WRITING)
		{
			slot->state = PS_SLOT_QUEUED;
			queue->queued++;
		}
		else if (slot->state == PS_SLOT_ABANDONED)
			slot->state = PS_SLOT_FREE;
	}
	queue->writing = 0;
	LWLockRelease(queue->lock);
	ConditionVariableBroadcast(&queue->changed);
}

void
ps_audit_queue_detach_worker(int code, Datum arg)
{
	if (queue == NULL)
		return;
	LWLockAcquire(queue->lock, LW_EXCLUSIVE);
	if (queue->worker_pid == MyProcPid)
	{
		queue->worker_pid = 0;
		queue->worker_latch = NULL;
	}
	LWLockRelease(queue->lock);
	ConditionVariableBroadcast(&queue->changed);
}

static int
compare_seq(const void *a, const void *b, void *arg)
{
	const PsAuditSlot *slots = (const PsAuditSlot *) arg;
	uint64		sa = slots[*(const int *) a].seq;
	uint64		sb = slots[*(const int *) b].seq;

	return (sa > sb) - (sa < sb);
}

int
ps_audit_queue_take(PsAuditRecord **records, int **slots)
{
	int			n = 0;
	int			i;
	int		   *ids;
	PsAuditRecord *recs;

	LWLockAcquire(queue->lock, LW_EXCLUSIVE);
	if (queue->queued == 0)
	{
		LWLockRelease(queue->lock);
		*records = NULL;
		*slots = NULL;
		return 0;
	}
	ids = palloc(sizeof(int) * queue->queued);
	for (i = 0; i < queue->capacity && n < queue->queued; i++)
		if (queue->slots[i].state == PS_SLOT_QUEUED)
			ids[n++] = i;
	qsort_arg(ids, n, sizeof(int), compare_seq, queue->slots);
	recs = palloc(sizeof(PsAuditRecord) * n);
	for (i = 0; i < n; i++)
	{
		memcpy(&recs[i], &queue->slots[ids[i]].record, sizeof(PsAuditRecord));
		queue->slots[ids[i]].state = PS_SLOT_WRITING;
	}
	queue->queued -= n;
	queue->writing += n;
	LWLockRelease(queue->lock);
	*records = recs;
	*slots = ids;
	return n;
}

void
ps_audit_queue_finish(const int *slots, int nslots, PsAuditFailure failure,
					  XLogRecPtr commit_lsn, Oid extension, int64 last_seq,
					  int64 last_event_id, int64 written)
{
	int			i;

	LWLockAcquire(queue->lock, LW_EXCLUSIVE);
	for (i = 0; i < nslots; i++)
	{
		PsAuditSlot *slot = &queue->slots[slots[i]];

		if (slot->state == PS_SLOT_ABANDONED)
			slot->state = PS_SLOT_FREE;
		else if (slot->state == PS_SLOT_WRITING)
		{
			slot->state = failure == PS_AUDIT_FAIL_NONE ? PS_SLOT_DONE : PS_SLOT_FAILED;
			slot->failure = failure;
			slot->commit_lsn = commit_lsn;
		}
	}
	queue->writing -= nslots;
	if (failure == PS_AUDIT_FAIL_NONE)
	{
		queue->batches++;
		queue->last_flush = GetCurrentTimestamp();
		queue->events_written += written;
		if (last_seq > 0)
		{
			queue->last_seq = last_seq;
			queue->last_event_id = last_event_id;
			queue->chain_extension = extension;
		}
	}
	else
		queue->failed_batches++;
	LWLockRelease(queue->lock);
	ConditionVariableBroadcast(&queue->changed);
}

bool
ps_audit_queue_take_pending_hint(void)
{
	bool		hint;

	LWLockAcquire(queue->lock, LW_EXCLUSIVE);
	hint = queue->pending_hint;
	queue->pending_hint = false;
	LWLockRelease(queue->lock);
	return hint;
}

int64
ps_audit_queue_head(Oid extension, int64 *event_id)
{
	int64		seq = 0;

	*event_id = 0;
	if (queue == NULL)
		return 0;
	LWLockAcquire(queue->lock, LW_SHARED);
	if (queue->worker_database == MyDatabaseId &&
		queue->chain_extension == extension)
	{
		seq = queue->last_seq;
		*event_id = queue->last_event_id;
	}
	LWLockRelease(queue->lock);
	return seq;
}

void
ps_audit_queue_status(PsAuditQueueStatus *status)
{
	attached_queue();
	LWLockAcquire(queue->lock, LW_SHARED);
	status->worker_pid = queue->worker_pid;
	status->queue_depth = queue->queued;
	status->in_flight = queue->writing;
	status->capacity = queue->capacity;
	status->events_written = queue->events_written;
	status->batches = queue->batches;
	status->failed_batches = queue->failed_batches;
	status->last_flush = queue->last_flush;
	status->last_seq = queue->last_seq;
	LWLockRelease(queue->lock);
}

void
ps_audit_queue_request_lock(void)
{
	RequestNamedLWLockTranche(PS_AUDIT_TRANCHE, 1);
}
