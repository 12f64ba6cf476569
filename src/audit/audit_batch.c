/*
 * audit_batch.c: appending one batch of events to the hash chains.
 *
 * One chain per company (audit_chain.h); the head of a chain is read from
 * audit_chain_head by its key the first time the batch touches the chain,
 * and written back with the rows.  On a schema older than 0.5.0 every row
 * goes to the single chain, whose head is the newest row of audit_event,
 * and the rows carry no key_epoch.  The partition of each row's month is
 * made sure of before the row is buffered (audit_partition.c).
 */
#include "postgres.h"

#include <sodium.h>

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/sequence.h"
#include "executor/spi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "audit/audit_batch.h"
#include "audit/audit_chain.h"
#include "audit/audit_key.h"
#include "audit/audit_partition.h"
#include "audit/audit_sequences.h"

/* Company names are shorter than this (audit_queue.h). */
#define CHAIN_NAME_LEN PS_AUDIT_NAME_LEN

#define INSERT_ROWS 512
#define INSERT_COLUMNS 18		/* key_epoch last; not on a legacy schema */

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
	BYTEAOID,					/* hash */
	INT4OID						/* key_epoch */
};

/* A chain the batch touched. */
typedef struct ChainHead
{
	char		chain[CHAIN_NAME_LEN];	/* hash key; '' = global chain */
	int64		seq;			/* chain_seq of its newest row */
	int64		id;				/* that row's id */
	unsigned char hash[PS_AUDIT_HASH_LEN];
	bool		touched;		/* a row was appended in this batch */
} ChainHead;

struct PsAuditBatch
{
	bool		legacy;
	bool		started;		/* key read, plan ready */
	HTAB	   *chains;
	int64		appended;
	int64		last_id;
	int			ncolumns;
	int			nbuffered;
	int			last_month;		/* partition made sure of last */
	Datum	   *values[INSERT_COLUMNS]; /* column-major, INSERT_ROWS each */
	bool	   *nulls[INSERT_COLUMNS];
};

/* The chain key, kept across batches while the extension stays. */
static unsigned char chain_key[PS_AUDIT_CHAIN_KEY_LEN];
static int32 chain_epoch = 0;	/* 0: not read */

/* Plans kept across batches; forgotten when the extension is re-created. */
static SPIPlanPtr insert_plan = NULL;
static SPIPlanPtr head_plan = NULL;
static SPIPlanPtr heads_write_plan = NULL;
static SPIPlanPtr pending_plan = NULL;
static bool plans_legacy = false;
static Oid	id_sequence = InvalidOid;

void
ps_audit_batch_lock_key(void)
{
	sodium_mlock(chain_key, sizeof(chain_key));
}

void
ps_audit_batch_wipe_key(int code, Datum arg)
{
	sodium_memzero(chain_key, sizeof(chain_key));
}

void
ps_audit_batch_reset(bool plans_too)
{
	sodium_memzero(chain_key, sizeof(chain_key));
	chain_epoch = 0;
	ps_audit_partition_forget();
	if (!plans_too)
		return;
	if (insert_plan != NULL)
		SPI_freeplan(insert_plan);
	if (head_plan != NULL)
		SPI_freeplan(head_plan);
	if (heads_write_plan != NULL)
		SPI_freeplan(heads_write_plan);
	if (pending_plan != NULL)
		SPI_freeplan(pending_plan);
	insert_plan = head_plan = heads_write_plan = pending_plan = NULL;
	id_sequence = InvalidOid;
	ps_audit_forget_id_sequence_plan();
}

static SPIPlanPtr
keep_plan(const char *sql, int nargs, Oid *types)
{
	SPIPlanPtr	plan = SPI_prepare(sql, nargs, types);

	if (plan == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg_internal("provsecret audit: preparing a statement failed")));
	SPI_keepplan(plan);
	return plan;
}

static void
prepare_plans(bool legacy)
{
	Oid			types[INSERT_COLUMNS];
	int			ncolumns = legacy ? INSERT_COLUMNS - 1 : INSERT_COLUMNS;
	StringInfoData sql;
	int			c;

	if (insert_plan != NULL && plans_legacy == legacy)
		return;
	ps_audit_batch_reset(true);
	plans_legacy = legacy;
	for (c = 0; c < INSERT_COLUMNS; c++)
		types[c] = get_array_type(column_types[c]);
	initStringInfo(&sql);
	appendStringInfoString(&sql,
						   "INSERT INTO provsecret.audit_event (chain_seq, id, at, action, reference, "
						   "company, project, principal, channel, client_addr, request_id, "
						   "value_version, outcome, count, detail, prev_hash, hash");
	appendStringInfoString(&sql, legacy ? ") OVERRIDING SYSTEM VALUE SELECT " : ", key_epoch) SELECT ");
	for (c = 1; c <= ncolumns; c++)
		appendStringInfo(&sql, "%sc%d%s", c > 1 ? ", " : "", c,
						 c == 10 ? "::pg_catalog.inet" : "");
	appendStringInfoString(&sql, " FROM ROWS FROM (");
	for (c = 1; c <= ncolumns; c++)
		appendStringInfo(&sql, "%spg_catalog.unnest($%d)", c > 1 ? ", " : "", c);
	appendStringInfoString(&sql, ") AS u (");
	for (c = 1; c <= ncolumns; c++)
		appendStringInfo(&sql, "%sc%d", c > 1 ? ", " : "", c);
	appendStringInfoChar(&sql, ')');
	insert_plan = keep_plan(sql.data, ncolumns, types);
	if (legacy)
	{
		head_plan = keep_plan("SELECT chain_seq, hash, id FROM provsecret.audit_event "
							  "ORDER BY chain_seq DESC LIMIT 1", 0, NULL);
		return;
	}
	types[0] = TEXTOID;
	head_plan = keep_plan("SELECT chain_seq, hash, event_id FROM provsecret.audit_chain_head "
						  "WHERE chain OPERATOR(pg_catalog.=) $1", 1, types);
	types[0] = TEXTARRAYOID;
	types[1] = INT8ARRAYOID;
	types[2] = INT8ARRAYOID;
	types[3] = BYTEAARRAYOID;
	heads_write_plan = keep_plan("INSERT INTO provsecret.audit_chain_head AS h (chain, chain_seq, event_id, hash) "
								 "SELECT * FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2), "
								 "pg_catalog.unnest($3), pg_catalog.unnest($4)) "
								 "ON CONFLICT (chain) DO UPDATE SET chain_seq = excluded.chain_seq, "
								 "event_id = excluded.event_id, hash = excluded.hash",
								 4, types);
}

/* Newest row of the legacy single chain: last event, else last checkpoint. */
static void
load_legacy_head(ChainHead *head)
{
	bool		isnull;

	if (SPI_execute_plan(head_plan, NULL, NULL, true, 1) != SPI_OK_SELECT)
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

		head->seq = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		h = DatumGetByteaPP(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
		if (VARSIZE_ANY_EXHDR(h) == PS_AUDIT_HASH_LEN)
			memcpy(head->hash, VARDATA_ANY(h), PS_AUDIT_HASH_LEN);
		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull);
		head->id = isnull ? 0 : DatumGetInt64(d);
	}
}

/* A chain's head: one probe of audit_chain_head by its key. */
static void
load_head(PsAuditBatch *batch, ChainHead *head)
{
	Datum		arg;
	bool		isnull;

	head->seq = 0;
	head->id = 0;
	memset(head->hash, 0, PS_AUDIT_HASH_LEN);
	if (batch->legacy)
	{
		load_legacy_head(head);
		return;
	}
	arg = CStringGetTextDatum(head->chain);
	if (SPI_execute_plan(head_plan, &arg, NULL, true, 1) != SPI_OK_SELECT)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg_internal("provsecret audit: reading a chain head failed")));
	if (SPI_processed == 1)
	{
		bytea	   *h;

		head->seq = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		h = DatumGetByteaPP(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
		if (VARSIZE_ANY_EXHDR(h) == PS_AUDIT_HASH_LEN)
			memcpy(head->hash, VARDATA_ANY(h), PS_AUDIT_HASH_LEN);
		head->id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull));
	}
}

static ChainHead *
chain_of(PsAuditBatch *batch, const char *company)
{
	const char *name = (batch->legacy || company == NULL) ? "" : company;
	ChainHead  *head;
	bool		found;

	if (strlen(name) >= CHAIN_NAME_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_NAME_TOO_LONG),
				 errmsg("company name of an audit event is too long for its chain")));
	head = hash_search(batch->chains, name, HASH_ENTER, &found);
	if (!found)
	{
		head->touched = false;
		load_head(batch, head);
	}
	return head;
}

static int64 next_event_id(void);
static void append_row(PsAuditBatch *batch, PsAuditChainRow *row);

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

/*
 * First row: the chain key is read (or created) only now, so an idle worker
 * never creates one in a database about to be restored; for the same
 * reason partitions ahead are made sure of only when rows are written.
 */
static void
start_batch(PsAuditBatch *batch, int64 first_id)
{
	char	   *lost = NULL;
	int			now = ps_audit_month_of(GetCurrentTimestamp());

	batch->started = true;
	if (chain_epoch == 0)
	{
		int64		next;

		/* where a new epoch begins: chain position, or (0.5.0) event id */
		if (batch->legacy)
			next = chain_of(batch, NULL)->seq + 1;
		else
			next = first_id;
		chain_epoch = ps_audit_key_for_writing(next, chain_key, &lost);
	}
	if (!batch->legacy)
		for (int m = now; m <= now + PS_AUDIT_MONTHS_AHEAD; m++)
			ps_audit_partition_ensure_cached(m);
	if (lost != NULL)
		append_rekey_event(batch, chain_epoch, lost);
}

PsAuditBatch *
ps_audit_batch_begin(bool legacy)
{
	PsAuditBatch *batch = palloc0(sizeof(PsAuditBatch));
	HASHCTL		ctl;

	batch->legacy = legacy;
	batch->ncolumns = legacy ? INSERT_COLUMNS - 1 : INSERT_COLUMNS;
	batch->last_month = -1;
	prepare_plans(legacy);
	ctl.keysize = CHAIN_NAME_LEN;
	ctl.entrysize = sizeof(ChainHead);
	ctl.hcxt = CurrentMemoryContext;
	batch->chains = hash_create("provsecret audit batch chains", 64, &ctl,
								HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	for (int c = 0; c < INSERT_COLUMNS; c++)
	{
		batch->values[c] = palloc(sizeof(Datum) * INSERT_ROWS);
		batch->nulls[c] = palloc(sizeof(bool) * INSERT_ROWS);
	}
	return batch;
}

/*
 * Ids for queued and summary rows, in their order: from the same sequence
 * as the ids transactional events took when they were recorded, so ids
 * follow the order in which things happened.
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
insert_buffered(PsAuditBatch *batch)
{
	Datum		arrays[INSERT_COLUMNS];
	int			dims[1] = {batch->nbuffered};
	int			lbs[1] = {1};
	int			c;

	if (batch->nbuffered == 0)
		return;
	for (c = 0; c < batch->ncolumns; c++)
	{
		int16		typlen;
		bool		typbyval;
		char		typalign;

		get_typlenbyvalalign(column_types[c], &typlen, &typbyval, &typalign);
		arrays[c] = PointerGetDatum(construct_md_array(batch->values[c], batch->nulls[c],
													   1, dims, lbs, column_types[c],
													   typlen, typbyval, typalign));
	}
	if (SPI_execute_plan(insert_plan, arrays, NULL, false, 0) != SPI_OK_INSERT ||
		SPI_processed != (uint64) batch->nbuffered)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg_internal("provsecret audit: inserting events failed")));
	for (c = 0; c < batch->ncolumns; c++)
		pfree(DatumGetPointer(arrays[c]));
	batch->nbuffered = 0;
}

/* Append one row to its chain; it reaches the table with its chunk. */
static void
append_row(PsAuditBatch *batch, PsAuditChainRow *row)
{
	unsigned char hash[PS_AUDIT_HASH_LEN];
	ChainHead  *head;
	int			r;
	int			f;

	if (!batch->started)
		start_batch(batch, row->id);
	if (!batch->legacy)
	{
		int			month = ps_audit_month_of(row->at);

		if (month != batch->last_month)
			ps_audit_partition_ensure_cached(month);
		batch->last_month = month;
	}
	head = chain_of(batch, row->text[PS_AF_COMPANY]);
	row->seq = ++head->seq;
	head->id = row->id;
	head->touched = true;
	batch->last_id = row->id;
	batch->appended++;
	ps_audit_chain_hash(chain_key, head->hash, row, hash);
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
	batch->values[15][r] = ps_audit_hash_datum(head->hash);
	batch->values[16][r] = ps_audit_hash_datum(hash);
	batch->values[17][r] = Int32GetDatum(chain_epoch);
	memcpy(head->hash, hash, PS_AUDIT_HASH_LEN);
	if (batch->nbuffered == INSERT_ROWS)
		insert_buffered(batch);
}

static const char *
optional(const char *s)
{
	return s[0] == '\0' ? NULL : s;
}

void
ps_audit_batch_append_records(PsAuditBatch *batch, const PsAuditRecord *records,
							  int n)
{
	int64	   *ids = palloc(sizeof(int64) * Max(n, 1));
	int			i;

	/* Ids first, in the records' order, then the rows. */
	for (i = 0; i < n; i++)
		ids[i] = next_event_id();
	for (i = 0; i < n; i++)
	{
		const PsAuditRecord *r = &records[i];
		PsAuditChainRow row;

		row.id = ids[i];
		row.at = r->at;
		row.value_version = r->value_version;
		row.count = r->count;
		row.text[PS_AF_ACTION] = r->action;
		row.text[PS_AF_REFERENCE] = optional(r->reference);
		row.text[PS_AF_COMPANY] = optional(r->company);
		row.text[PS_AF_PROJECT] = optional(r->project);
		row.text[PS_AF_PRINCIPAL] = r->principal;
		row.text[PS_AF_CHANNEL] = r->channel;
		row.text[PS_AF_CLIENT_ADDR] = optional(r->client_addr);
		row.text[PS_AF_REQUEST_ID] = optional(r->request_id);
		row.text[PS_AF_OUTCOME] = r->outcome;
		row.text[PS_AF_DETAIL] = optional(r->detail);
		append_row(batch, &row);
	}
	pfree(ids);
}

/* Move committed transactional events from audit_pending into the chains. */
void
ps_audit_batch_move_pending(PsAuditBatch *batch)
{
	SPITupleTable *tuples;
	uint64		n;
	uint64		i;

	ps_audit_allow_delete(true);
	PG_TRY();
	{
		/* taken: the id is already an event's (the sequence was set back) */
		if (pending_plan == NULL)
			pending_plan = keep_plan("WITH moved AS (DELETE FROM provsecret.audit_pending RETURNING *) "
									 "SELECT at, action, reference, company, project, principal, channel, "
									 "client_addr, request_id, value_version, outcome, count, detail, id, "
									 "EXISTS (SELECT 1 FROM provsecret.audit_event e "
									 "        WHERE e.id OPERATOR(pg_catalog.=) moved.id) AS taken "
									 "FROM moved ORDER BY id", 0, NULL);
		if (SPI_execute_plan(pending_plan, NULL, NULL, false, 0) != SPI_OK_SELECT)
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

/* Write the heads of the chains the batch touched, in one statement. */
static void
write_heads(PsAuditBatch *batch)
{
	HASH_SEQ_STATUS scan;
	ChainHead  *head;
	long		n = hash_get_num_entries(batch->chains);
	Datum	   *chains = palloc(sizeof(Datum) * Max(n, 1));
	Datum	   *seqs = palloc(sizeof(Datum) * Max(n, 1));
	Datum	   *ids = palloc(sizeof(Datum) * Max(n, 1));
	Datum	   *hashes = palloc(sizeof(Datum) * Max(n, 1));
	Datum		args[4];
	int			k = 0;

	hash_seq_init(&scan, batch->chains);
	while ((head = hash_seq_search(&scan)) != NULL)
	{
		if (!head->touched)
			continue;
		chains[k] = CStringGetTextDatum(head->chain);
		seqs[k] = Int64GetDatum(head->seq);
		ids[k] = Int64GetDatum(head->id);
		hashes[k] = ps_audit_hash_datum(head->hash);
		k++;
	}
	if (k == 0)
		return;
	args[0] = PointerGetDatum(construct_array(chains, k, TEXTOID, -1, false, TYPALIGN_INT));
	args[1] = PointerGetDatum(construct_array(seqs, k, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	args[2] = PointerGetDatum(construct_array(ids, k, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	args[3] = PointerGetDatum(construct_array(hashes, k, BYTEAOID, -1, false, TYPALIGN_INT));
	if (SPI_execute_plan(heads_write_plan, args, NULL, false, 0) != SPI_OK_INSERT)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg_internal("provsecret audit: writing the chain heads failed")));
}

int64
ps_audit_batch_finish(PsAuditBatch *batch, int64 *legacy_seq, int64 *last_id)
{
	insert_buffered(batch);
	*legacy_seq = 0;
	*last_id = batch->last_id;
	if (batch->appended == 0)
		return 0;
	if (batch->legacy)
		*legacy_seq = chain_of(batch, NULL)->seq;
	else
		write_heads(batch);
	return batch->appended;
}
