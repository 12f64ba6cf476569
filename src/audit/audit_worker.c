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

#include "audit/audit_chain.h"
#include "audit/audit_key.h"
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

/* The chain as this worker last committed it. */
static unsigned char chain_key[PS_AUDIT_CHAIN_KEY_LEN];
static bool chain_ready = false;
static Oid	chain_extension = InvalidOid;
static int64 head_seq = 0;		/* chain_seq of the newest row */
static int64 head_id = 0;		/* and its id */
static unsigned char head_hash[PS_AUDIT_HASH_LEN];

/*
 * Rows reach audit_event INSERT_ROWS at a time, one array per column, in
 * one INSERT ... SELECT FROM ROWS FROM (unnest($1), ...): an executor run
 * per chunk rather than per row was a third of the worker's time when it
 * writes thousands of summary counters.  The columns, in parameter order:
 */
#define INSERT_ROWS 512
#define INSERT_COLUMNS 17

static const Oid column_types[INSERT_COLUMNS] = {
	INT8OID,					/* chain_seq */
	INT8OID,					/* id */
	TIMESTAMPTZOID,				/* at */
	/* action, reference, company, project, principal, channel, client_addr, request_id */
	TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID,
	INT4OID,					/* value_version */
	TEXTOID,					/* outcome */
	INT8OID,					/* count */
	TEXTOID,					/* detail */
	BYTEAOID,					/* prev_hash */
	BYTEAOID					/* hash */
};

/* The batch being written; started by its first row. */
typedef struct PsAuditBatch
{
	SPIPlanPtr	plan;			/* NULL until the first row */
	int64		seq;			/* chain_seq of the last row appended */
	int64		id;				/* its id */
	unsigned char prev[PS_AUDIT_HASH_LEN];	/* its hash */
	int64	   *new_ids;		/* ids for queued and summary rows */
	int			nnew_ids;
	int			next_new_id;
	int			nbuffered;		/* rows appended, not yet inserted */
	Datum	   *values[INSERT_COLUMNS]; /* column-major, INSERT_ROWS each */
	bool	   *nulls[INSERT_COLUMNS];
} PsAuditBatch;

static void
handle_sigterm(SIGNAL_ARGS)
{
	int			save_errno = errno;

	got_sigterm = true;
	SetLatch(MyLatch);
	errno = save_errno;
}

static void
wipe_chain_key(int code, Datum arg)
{
	sodium_memzero(chain_key, sizeof(chain_key));
}

/* Newest id and hash: last event, else last checkpoint, else genesis. */
static void
load_head(void)
{
	bool		isnull;

	head_seq = 0;
	head_id = 0;
	memset(head_hash, 0, sizeof(head_hash));
	if (SPI_execute("SELECT chain_seq, hash, id FROM provsecret.audit_event ORDER BY chain_seq DESC LIMIT 1",
					true, 1) != SPI_OK_SELECT)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg_internal("provsecret audit: reading the chain head failed")));
	if (SPI_processed == 0 &&
		SPI_execute("SELECT through_seq, last_hash, NULL::bigint FROM provsecret.audit_checkpoint "
					"ORDER BY through_seq DESC LIMIT 1", true, 1) != SPI_OK_SELECT)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg_internal("provsecret audit: reading the chain checkpoint failed")));
	if (SPI_processed == 1)
	{
		bytea	   *h;
		Datum		d;

		head_seq = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		h = DatumGetByteaPP(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
		if (VARSIZE_ANY_EXHDR(h) == PS_AUDIT_HASH_LEN)
			memcpy(head_hash, VARDATA_ANY(h), PS_AUDIT_HASH_LEN);
		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull);
		head_id = isnull ? 0 : DatumGetInt64(d);
	}
}

static const char *
optional(const char *s)
{
	return s[0] == '\0' ? NULL : s;
}

static void
record_to_row(const PsAuditRecord *r, PsAuditChainRow *row)
{
	row->at = r->at;
	row->value_version = r->value_version;
	row->count = r->count;
	row->text[PS_AF_ACTION] = r->action;
	row->text[PS_AF_REFERENCE] = optional(r->reference);
	row->text[PS_AF_COMPANY] = optional(r->company);
	row->text[PS_AF_PROJECT] = optional(r->project);
	row->text[PS_AF_PRINCIPAL] = r->principal;
	row->text[PS_AF_CHANNEL] = r->channel;
	row->text[PS_AF_CLIENT_ADDR] = optional(r->client_addr);
	row->text[PS_AF_REQUEST_ID] = optional(r->request_id);
	row->text[PS_AF_OUTCOME] = r->outcome;
	row->text[PS_AF_DETAIL] = optional(r->detail);
}

static Datum
hash_datum(const unsigned char *h)
{
	bytea	   *b = palloc(VARHDRSZ + PS_AUDIT_HASH_LEN);

	SET_VARSIZE(b, VARHDRSZ + PS_AUDIT_HASH_LEN);
	memcpy(VARDATA(b), h, PS_AUDIT_HASH_LEN);
	return PointerGetDatum(b);
}

/* Kept across batches; dropped when the extension is re-created. */
static SPIPlanPtr insert_plan = NULL;
static Oid	id_sequence = InvalidOid;

static void
forget_plans(void)
{
	if (insert_plan != NULL)
		SPI_freeplan(insert_plan);
	insert_plan = NULL;
	id_sequence = InvalidOid;
}

static SPIPlanPtr
prepare_insert(void)
{
	Oid			types[INSERT_COLUMNS];
	SPIPlanPtr	plan;
	int			c;

	for (c = 0; c < INSERT_COLUMNS; c++)
		types[c] = get_array_type(column_types[c]);
	plan = SPI_prepare("INSERT INTO provsecret.audit_event (chain_seq, id, at, action, reference, "
					   "company, project, principal, channel, client_addr, request_id, "
					   "value_version, outcome, count, detail, prev_hash, hash) "
					   "OVERRIDING SYSTEM VALUE "
					   "SELECT c1, c2, c3, c4, c5, c6, c7, c8, c9, c10::pg_catalog.inet, c11, "
					   "c12, c13, c14, c15, c16, c17 "
					   "FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2), "
					   "pg_catalog.unnest($3), pg_catalog.unnest($4), pg_catalog.unnest($5), "
					   "pg_catalog.unnest($6), pg_catalog.unnest($7), pg_catalog.unnest($8), "
					   "pg_catalog.unnest($9), pg_catalog.unnest($10), pg_catalog.unnest($11), "
					   "pg_catalog.unnest($12), pg_catalog.unnest($13), pg_catalog.unnest($14), "
					   "pg_catalog.unnest($15), pg_catalog.unnest($16), pg_catalog.unnest($17)) "
					   "AS u (c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11, c12, c13, c14, c15, c16, c17)",
					   INSERT_COLUMNS, types);
	if (plan == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg_internal("provsecret audit: preparing the event insert failed")));
	SPI_keepplan(plan);
	return plan;
}

/*
 * First row of a batch: the chain key is read (or created) only now, so an
 * idle worker never creates one in a database about to be restored.
 */
static void append_row(PsAuditBatch *batch, PsAuditChainRow *row);
static int64 next_event_id(void);

/* The first row of a new key epoch says why the key changed. */
static void
append_rekey_event(PsAuditBatch *batch, int32 epoch, const char *lost)
{
	PsAuditChainRow row;

	memset(&row, 0, sizeof(row));
	row.id = next_event_id();
	row.at = GetCurrentTimestamp();
	row.count = 1;
	row.text[PS_AF_ACTION] = "audit.rekeyed";
	row.text[PS_AF_PRINCIPAL] = "provsecret";
	row.text[PS_AF_CHANNEL] = "sql";
	row.text[PS_AF_OUTCOME] = "ok";
	row.text[PS_AF_DETAIL] = psprintf("chain key epoch %d: the server does not hold root key %s of the previous epoch",
									  epoch, lost);
	append_row(batch, &row);
	ereport(WARNING,
			(errmsg("provsecret audit: the audit chain continues under a new chain key (epoch %d)", epoch),
			 errdetail("The server does not hold root key %s, under which the earlier events are keyed; they verify only with that key.",
					   lost)));
}

static void
start_batch(PsAuditBatch *batch)
{
	int32		epoch = 0;
	char	   *lost = NULL;

	if (!chain_ready)
	{
		load_head();
		epoch = ps_audit_key_for_writing(head_seq + 1, chain_key, &lost);
	}
	if (insert_plan == NULL)
		insert_plan = prepare_insert();
	batch->plan = insert_plan;
	for (int c = 0; c < INSERT_COLUMNS; c++)
	{
		batch->values[c] = palloc(sizeof(Datum) * INSERT_ROWS);
		batch->nulls[c] = palloc(sizeof(bool) * INSERT_ROWS);
	}
	batch->seq = head_seq;
	batch->id = head_id;
	memcpy(batch->prev, head_hash, PS_AUDIT_HASH_LEN);
	if (lost != NULL)
		append_rekey_event(batch, epoch, lost);
}

/*
 * Ids for the batch's queued and summary rows, in their order: they come
 * from the same sequence as the ids transactional events took when they
 * were recorded, so ids follow the order in which things happened.
 */
static int64
next_event_id(void)
{
	if (!OidIsValid(id_sequence))
		id_sequence = get_relname_relid("audit_event_id_seq",
										get_namespace_oid("provsecret", false));
	if (!OidIsValid(id_sequence))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg_internal("provsecret audit: sequence provsecret.audit_event_id_seq is missing")));
	return nextval_internal(id_sequence, false);
}

static void
take_new_ids(PsAuditBatch *batch, int n)
{
	batch->new_ids = palloc(sizeof(int64) * Max(n, 1));
	batch->nnew_ids = n;
	batch->next_new_id = 0;
	for (int i = 0; i < n; i++)
		batch->new_ids[i] = next_event_id();
}

/* Insert the rows appended so far. */
static void
insert_buffered(PsAuditBatch *batch)
{
	Datum		arrays[INSERT_COLUMNS];
	int			dims[1] = {batch->nbuffered};
	int			lbs[1] = {1};
	int			c;

	if (batch->nbuffered == 0)
		return;
	for (c = 0; c < INSERT_COLUMNS; c++)
	{
		int16		typlen;
		bool		typbyval;
		char		typalign;

		get_typlenbyvalalign(column_types[c], &typlen, &typbyval, &typalign);
		arrays[c] = PointerGetDatum(construct_md_array(batch->values[c], batch->nulls[c],
													   1, dims, lbs, column_types[c],
													   typlen, typbyval, typalign));
	}
	if (SPI_execute_plan(batch->plan, arrays, NULL, false, 0) != SPI_OK_INSERT ||
		SPI_processed != (uint64) batch->nbuffered)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg_internal("provsecret audit: inserting events failed")));
	for (c = 0; c < INSERT_COLUMNS; c++)
		pfree(DatumGetPointer(arrays[c]));
	batch->nbuffered = 0;
}

/*
 * Append one row to the chain; it reaches the table with its chunk (the
 * head advances only on commit, see caller).
 */
static void
append_row(PsAuditBatch *batch, PsAuditChainRow *row)
{
	unsigned char hash[PS_AUDIT_HASH_LEN];
	int			r;
	int			f;

	if (batch->plan == NULL)
		start_batch(batch);
	row->seq = ++batch->seq;
	batch->id = row->id;
	ps_audit_chain_hash(chain_key, batch->prev, row, hash);
	r = batch->nbuffered++;
	for (f = 0; f < INSERT_COLUMNS; f++)
		batch->nulls[f][r] = false;
	batch->values[0][r] = Int64GetDatum(row->seq);
	batch->values[1][r] = Int64GetDatum(row->id);
	batch->values[2][r] = TimestampTzGetDatum(row->at);
	for (f = 0; f <= PS_AF_REQUEST_ID; f++)
	{
		batch->values[3 + f][r] = row->text[f] ? CStringGetTextDatum(row->text[f]) : (Datum) 0;
		batch->nulls[3 + f][r] = row->text[f] == NULL;
	}
	batch->values[11][r] = Int32GetDatum(row->value_version);
	batch->nulls[11][r] = row->value_version == 0;
	batch->values[12][r] = CStringGetTextDatum(row->text[PS_AF_OUTCOME]);
	batch->values[13][r] = Int64GetDatum(row->count);
	batch->values[14][r] = row->text[PS_AF_DETAIL] ? CStringGetTextDatum(row->text[PS_AF_DETAIL]) : (Datum) 0;
	batch->nulls[14][r] = row->text[PS_AF_DETAIL] == NULL;
	batch->values[15][r] = hash_datum(batch->prev);
	batch->values[16][r] = hash_datum(hash);
	memcpy(batch->prev, hash, PS_AUDIT_HASH_LEN);
	if (batch->nbuffered == INSERT_ROWS)
		insert_buffered(batch);
}

/* Move committed transactional events from audit_pending into the chain. */
static void
move_pending(PsAuditBatch *batch)
{
	SPITupleTable *tuples;
	uint64		n;
	uint64		i;

	ps_audit_allow_delete(true);
	PG_TRY();
	{
		/* taken: the id is already an event's (the sequence was set back) */
		if (SPI_execute("WITH moved AS (DELETE FROM provsecret.audit_pending RETURNING *) "
						"SELECT at, action, reference, company, project, principal, channel, "
						"client_addr, request_id, value_version, outcome, count, detail, id, "
						"EXISTS (SELECT 1 FROM provsecret.audit_event e "
						"        WHERE e.id OPERATOR(pg_catalog.=) moved.id) AS taken "
						"FROM moved ORDER BY id", false, 0) != SPI_OK_SELECT)
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg_internal("provsecret audit: reading pending events failed")));
	}
	PG_FINALLY();
	{
		ps_audit_allow_delete(false);
	}
	PG_END_TRY();
	tuples = SPI_tuptable;
	n = SPI_processed;
	for (i = 0; i < n; i++)
	{
		HeapTuple	t = tuples->vals[i];
		TupleDesc	d = tuples->tupdesc;
		PsAuditChainRow row;
		bool		isnull;
		int			f;

		row.at = DatumGetTimestampTz(SPI_getbinval(t, d, 1, &isnull));
		for (f = 0; f <= PS_AF_REQUEST_ID; f++)
			row.text[f] = SPI_getvalue(t, d, 2 + f);
		row.value_version = DatumGetInt32(SPI_getbinval(t, d, 10, &isnull));
		if (isnull)
			row.value_version = 0;
		row.text[PS_AF_OUTCOME] = SPI_getvalue(t, d, 11);
		row.count = DatumGetInt64(SPI_getbinval(t, d, 12, &isnull));
		row.text[PS_AF_DETAIL] = SPI_getvalue(t, d, 13);
		row.id = DatumGetInt64(SPI_getbinval(t, d, 14, &isnull));
		if (DatumGetBool(SPI_getbinval(t, d, 15, &isnull)))
			row.id = next_event_id();
		append_row(batch, &row);
	}
}

/*
 * Write one batch in one transaction.  Returns the failure reason; on
 * success the chain head has advanced and *written says by how much.
 */
static PsAuditFailure
write_batch(PsAuditRecord *queued, int nqueued, PsAuditRecord *summed,
			int nsummed, bool with_pending, int64 *written,
			XLogRecPtr *commit_lsn)
{
	volatile PsAuditFailure failure = PS_AUDIT_FAIL_NONE;
	MemoryContext oldcxt = CurrentMemoryContext;

	*written = 0;
	*commit_lsn = InvalidXLogRecPtr;
	if (RecoveryInProgress())
		return PS_AUDIT_FAIL_STANDBY;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PG_TRY();
	{
		Oid			ext;
		PsAuditBatch batch = {0};
		int			i;

		SPI_connect();
		/* the write guard admits this transaction's writes; closed by its end */
		ps_identity_writes_begin();
		PushActiveSnapshot(GetTransactionSnapshot());
		ext = get_extension_oid("provsecret", true);
		if (!OidIsValid(ext))
			failure = PS_AUDIT_FAIL_NO_EXTENSION;
		else
		{
			pgstat_report_activity(STATE_RUNNING, "writing audit events");
			if (ext != chain_extension)
			{
				chain_ready = false;	/* extension re-created */
				forget_plans();
			}
			chain_extension = ext;
			ps_audit_repair_id_sequence();
			/* Committed changes first: they happened before this round. */
			if (with_pending)
				move_pending(&batch);
			take_new_ids(&batch, nqueued + nsummed);
			for (i = 0; i < nqueued; i++)
			{
				PsAuditChainRow row;

				record_to_row(&queued[i], &row);
				row.id = batch.new_ids[batch.next_new_id++];
				append_row(&batch, &row);
			}
			for (i = 0; i < nsummed; i++)
			{
				PsAuditChainRow row;

				record_to_row(&summed[i], &row);
				row.id = batch.new_ids[batch.next_new_id++];
				append_row(&batch, &row);
			}
			insert_buffered(&batch);
		}
		ps_identity_writes_end();
		SPI_finish();
		PopActiveSnapshot();
		if (failure == PS_AUDIT_FAIL_NONE)
		{
			CommitTransactionCommand();
			*commit_lsn = XactLastCommitEnd;
			if (batch.plan != NULL)
			{
				*written = batch.seq - head_seq;
				head_seq = batch.seq;
				head_id = batch.id;
				memcpy(head_hash, batch.prev, PS_AUDIT_HASH_LEN);
				chain_ready = true;
			}
		}
		else
		{
			AbortCurrentTransaction();
			chain_ready = false;
		}
		pgstat_report_activity(STATE_IDLE, NULL);
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(oldcxt);
		EmitErrorReport();
		FlushErrorState();
		AbortCurrentTransaction();
		/* The head in memory may be ahead of what committed: reload it. */
		chain_ready = false;
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
						  &written, &commit_lsn);
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
	sodium_mlock(chain_key, sizeof(chain_key));
	before_shmem_exit(wipe_chain_key, (Datum) 0);

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
