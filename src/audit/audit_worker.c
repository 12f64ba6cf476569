/*
 * audit_worker.c: the "provsecret audit" background worker.
 *
 * Each round takes every queued durable event, every committed pending
 * (transactional) event and, when due, the summary counters, appends them to
 * the hash chain in one transaction with one commit (group commit), then
 * wakes the waiting backends.  On SIGTERM it drains everything once more,
 * summary counters included, before exiting, so a clean shutdown loses
 * nothing.
 */
#include "postgres.h"

#include <sodium.h>

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "catalog/namespace.h"
#include "commands/extension.h"
#include "commands/sequence.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "audit/audit_batch.h"
#include "audit/audit_legacy.h"
#include "audit/audit_queue.h"
#include "audit/audit_sequences.h"
#include "audit/audit_summary.h"
#include "audit/audit_worker.h"
#include "core/identity.h"
#include "core/provsecret.h"

PG_FUNCTION_INFO_V1(provsecret_audit_worker_state);

int			ps_audit_summary_interval_ms = 10000;

#define PENDING_POLL_MS 5000

static volatile sig_atomic_t got_sigterm = false;

static Oid	chain_extension = InvalidOid;
static int64 id_high_water = 0; /* the highest event id this worker wrote */

static void
handle_sigterm(SIGNAL_ARGS)
{
	int			save_errno = errno;

	got_sigterm = true;
	SetLatch(MyLatch);
	errno = save_errno;
}

/*
 * Write one batch in one transaction.  Returns the failure reason; on
 * success the chain head has advanced and *written says by how much.
 */
static PsAuditFailure
write_batch(PsAuditRecord *queued, int nqueued, PsAuditRecord *summed,
			int nsummed, bool with_pending, int64 *written,
			XLogRecPtr *commit_lsn, int64 *head_seq, int64 *head_id)
{
	volatile PsAuditFailure failure = PS_AUDIT_FAIL_NONE;
	MemoryContext oldcxt = CurrentMemoryContext;

	*written = 0;
	*head_seq = 0;
	*head_id = 0;
	*commit_lsn = InvalidXLogRecPtr;
	if (RecoveryInProgress())
		return PS_AUDIT_FAIL_STANDBY;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PG_TRY();
	{
		Oid			ext;
		int64		legacy_seq = 0;
		int64		last_id = 0;
		int64		appended = 0;

		SPI_connect();
		/* the write guard admits this transaction's writes; closed by its end */
		ps_identity_writes_begin();
		PushActiveSnapshot(GetTransactionSnapshot());
		ext = get_extension_oid("provsecret", true);
		if (!OidIsValid(ext))
			failure = PS_AUDIT_FAIL_NO_EXTENSION;
		else
		{
			PsAuditBatch *batch;

			pgstat_report_activity(STATE_RUNNING, "writing audit events");
			if (ext != chain_extension)
			{
				ps_audit_batch_reset(true); /* extension re-created */
				id_high_water = 0;
			}
			chain_extension = ext;
			ps_audit_repair_id_sequence(id_high_water);
			batch = ps_audit_batch_begin(ps_audit_schema_is_legacy());
			/* Committed changes first: they happened before this round. */
			if (with_pending)
				ps_audit_batch_move_pending(batch);
			ps_audit_batch_append_records(batch, queued, nqueued);
			ps_audit_batch_append_records(batch, summed, nsummed);
			appended = ps_audit_batch_finish(batch, &legacy_seq, &last_id);
		}
		ps_identity_writes_end();
		SPI_finish();
		PopActiveSnapshot();
		if (failure == PS_AUDIT_FAIL_NONE)
		{
			CommitTransactionCommand();
			*commit_lsn = XactLastCommitEnd;
			*written = appended;
			*head_seq = legacy_seq;
			*head_id = last_id;
			id_high_water = Max(id_high_water, last_id);
		}
		else
		{
			AbortCurrentTransaction();
			ps_audit_batch_reset(false);
		}
		pgstat_report_activity(STATE_IDLE, NULL);
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(oldcxt);
		EmitErrorReport();
		FlushErrorState();
		AbortCurrentTransaction();
		/* Partitions created by the batch were rolled back too. */
		ps_audit_batch_reset(false);
		failure = PS_AUDIT_FAIL_WRITE;
		*written = 0;
		pgstat_report_activity(STATE_IDLE, NULL);
	}
	PG_END_TRY();
	MemoryContextSwitchTo(oldcxt);
	return failure;
}

/* When the extension's other sequences were last checked (audit_sequences.c). */
static TimestampTz last_sequence_check = 0;

/* One round; true when anything was taken. */
static bool
run_round(bool final, TimestampTz *last_summary, TimestampTz *last_pending,
		  MemoryContext roundcxt)
{
	PsAuditRecord *queued;
	PsAuditRecord *summed = NULL;
	int		   *slots;
	int			nqueued;
	int			nsummed = 0;
	bool		with_pending;
	TimestampTz now = GetCurrentTimestamp();
	PsAuditFailure failure;
	int64		written;
	XLogRecPtr	commit_lsn;
	int64		head_seq;
	int64		head_id;
	MemoryContext oldcxt = MemoryContextSwitchTo(roundcxt);

	nqueued = ps_audit_queue_take(&queued, &slots);
	if (final || ps_audit_summary_take_flush_request() ||
		TimestampDifferenceExceeds(*last_summary, now, ps_audit_summary_interval_ms))
	{
		nsummed = ps_audit_summary_drain(&summed, final);
		*last_summary = now;
	}
	with_pending = ps_audit_queue_take_pending_hint() || final ||
		TimestampDifferenceExceeds(*last_pending, now, PENDING_POLL_MS);
	if (with_pending)
		*last_pending = now;

	if (nqueued == 0 && nsummed == 0 && !with_pending)
	{
		MemoryContextSwitchTo(oldcxt);
		MemoryContextReset(roundcxt);
		return false;
	}

	failure = write_batch(queued, nqueued, summed, nsummed, with_pending,
						  &written, &commit_lsn, &head_seq, &head_id);
	if (failure != PS_AUDIT_FAIL_NONE && nsummed > 0)
		ps_audit_summary_restore(summed, nsummed);
	/* An idle poll before CREATE EXTENSION is no failed batch. */
	if (nqueued > 0 || written > 0 ||
		(failure != PS_AUDIT_FAIL_NONE && failure != PS_AUDIT_FAIL_NO_EXTENSION))
		ps_audit_queue_finish(slots, nqueued, failure, commit_lsn,
							  chain_extension, head_seq, head_id, written);
	if (!final && TimestampDifferenceExceeds(last_sequence_check, now, PENDING_POLL_MS))
	{
		last_sequence_check = now;
		ps_audit_check_owned_sequences();
	}
	MemoryContextSwitchTo(oldcxt);
	MemoryContextReset(roundcxt);
	return nqueued > 0 || nsummed > 0;
}

void
ps_audit_worker_main(Datum main_arg)
{
	const char *database;
	TimestampTz last_summary;
	TimestampTz last_pending = 0;
	MemoryContext roundcxt;

	pqsignal(SIGTERM, handle_sigterm);
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	BackgroundWorkerUnblockSignals();

	if (sodium_init() < 0)
		elog(FATAL, "provsecret audit: libsodium failed to initialize");
	ps_audit_batch_lock_key();
	before_shmem_exit(ps_audit_batch_wipe_key, (Datum) 0);

	database = ps_database ? ps_database : "postgres";
	BackgroundWorkerInitializeConnection(database, NULL, 0);
	/*
	 * Commit without waiting for the WAL flush: each waiting backend flushes
	 * up to the commit record before it returns its value (audit_queue.c),
	 * so the worker writes the next batch while the disk works.
	 */
	SetConfigOption("synchronous_commit", "off", PGC_SUSET, PGC_S_OVERRIDE);

	ps_audit_queue_attach_worker();
	before_shmem_exit(ps_audit_queue_detach_worker, (Datum) 0);
	ps_audit_summary_open();
	roundcxt = AllocSetContextCreate(TopMemoryContext, "provsecret audit round",
									 ALLOCSET_DEFAULT_SIZES);
	last_summary = GetCurrentTimestamp();
	elog(LOG, "provsecret audit worker started");

	while (!got_sigterm)
	{
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		if (run_round(false, &last_summary, &last_pending, roundcxt))
			continue;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 1000, PG_WAIT_EXTENSION);
	}

	/*
	 * Clean stop: queued events, pending events and every counter.  Bounded,
	 * as counters put back after a failed write would otherwise loop.
	 */
	for (int round = 0; round < 10; round++)
		if (!run_round(true, &last_summary, &last_pending, roundcxt))
			break;
	elog(LOG, "provsecret audit worker stopped");
	/* Exit code 1: restarted unless the server is shutting down. */
	proc_exit(1);
}

Datum
provsecret_audit_worker_state(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	PsAuditQueueStatus st;
	Datum		values[9];
	bool		nulls[9] = {0};

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg_internal("return type must be a row type")));
	tupdesc = BlessTupleDesc(tupdesc);
	ps_audit_queue_status(&st);
	values[0] = Int32GetDatum(st.worker_pid);
	nulls[0] = st.worker_pid == 0;
	values[1] = Int32GetDatum(st.queue_depth);
	values[2] = Int32GetDatum(st.in_flight);
	values[3] = Int32GetDatum(st.capacity);
	values[4] = Int64GetDatum(st.events_written);
	values[5] = Int64GetDatum(st.batches);
	values[6] = Int64GetDatum(st.failed_batches);
	values[7] = TimestampTzGetDatum(st.last_flush);
	nulls[7] = st.last_flush == 0;
	values[8] = Int32GetDatum(ps_audit_summary_entries());
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}
