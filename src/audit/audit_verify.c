/*
 * audit_verify.c: verify_audit_chain() over the per-company chains.
 *
 * The chains to verify come from the events themselves (a loose index scan
 * of audit_event's (company, chain_seq) index), the heads and the
 * checkpoints, so removing a chain's head does not hide its events; an
 * incremental run takes the chains whose head moved since they were last
 * verified.  Each chain is then read by its own index range.
 */
#include "postgres.h"

#include <sodium.h>

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "audit/audit_chain.h"
#include "audit/audit_key.h"
#include "audit/audit_verify.h"
#include "core/identity.h"

/* Column numbers of the row query. */
enum
{
	VC_SEQ = 1, VC_ID, VC_AT, VC_TEXT0,		/* then the text fields up to request_id */
	VC_VALUE_VERSION = VC_TEXT0 + PS_AF_REQUEST_ID + 1,
	VC_OUTCOME, VC_COUNT, VC_DETAIL, VC_PREV_HASH, VC_HASH, VC_EPOCH
};

#define ROW_COLUMNS "SELECT chain_seq, id, at, action, reference, company, project, " \
	"principal, channel, client_addr, request_id, value_version, outcome, count, detail, " \
	"prev_hash, hash, key_epoch FROM provsecret.audit_event "

/* What one verification run shares across its chains. */
typedef struct VerifyRun
{
	PsAuditVerifyScope scope;
	const char *company;
	ReturnSetInfo *rsinfo;
	PsAuditKeyEpoch *epochs;
	int			nepochs;
	int			current;		/* epoch index whose key is in key[] */
	int64		total;			/* rows checked so far */
	int64		next_progress;
	bool		record;			/* may write verified points */
	SPIPlanPtr	rows_plan[2];	/* a company's rows; the global chain's */
} VerifyRun;

/* One chain's verification. */
typedef struct ChainResult
{
	bool		ok;
	int64		checked;
	int64		first_bad;
	int64		last_seq;		/* of the last row walked, or where it started */
	unsigned char last_hash[PS_AUDIT_HASH_LEN];
} ChainResult;

static void
mark_bad(ChainResult *res, int64 id)
{
	res->ok = false;
	if (res->first_bad == 0)
		res->first_bad = id;
}

static int
epoch_index(VerifyRun *run, int32 epoch)
{
	for (int i = 0; i < run->nepochs; i++)
		if (run->epochs[i].epoch == epoch)
			return i;
	return -1;
}

/* The key of an epoch into key[]; false if there is no such epoch. */
static bool
use_epoch(VerifyRun *run, int32 epoch, unsigned char *key)
{
	int			i;

	if (run->current >= 0 && run->epochs[run->current].epoch == epoch)
		return true;
	i = epoch_index(run, epoch);
	if (i < 0)
		return false;
	ps_audit_key_unwrap_epoch(&run->epochs[i], key);
	run->current = i;
	return true;
}

static bool
copy_hash(HeapTuple t, TupleDesc d, int col, unsigned char *out)
{
	bool		isnull;
	Datum		v = SPI_getbinval(t, d, col, &isnull);
	bytea	   *b;

	if (isnull)
		return false;
	b = DatumGetByteaPP(v);
	if (VARSIZE_ANY_EXHDR(b) != PS_AUDIT_HASH_LEN)
		return false;
	memcpy(out, VARDATA_ANY(b), PS_AUDIT_HASH_LEN);
	return true;
}

/*
 * Where the chain starts: its newest checkpoint if the MAC verifies (else
 * false), or the genesis.  *kept_before: events older than the cut that
 * live on in newer partitions.
 */
static bool
chain_start(VerifyRun *run, unsigned char *key, const char *chain,
			int64 *next_seq, unsigned char *prev, int64 *kept_before)
{
	Oid			type = TEXTOID;
	Datum		arg = CStringGetTextDatum(chain);
	HeapTuple	t;
	TupleDesc	d;
	bool		isnull;
	int64		through;
	int64		dropped;
	unsigned char mac[PS_AUDIT_HASH_LEN];

	memset(prev, 0, PS_AUDIT_HASH_LEN);
	*next_seq = 1;
	*kept_before = 0;
	if (SPI_execute_with_args("SELECT through_seq, last_hash, dropped, kept_before, mac, key_epoch "
							  "FROM provsecret.audit_checkpoint WHERE chain OPERATOR(pg_catalog.=) $1 "
							  "ORDER BY through_seq DESC, id DESC LIMIT 1",
							  1, &type, &arg, NULL, true, 1) != SPI_OK_SELECT)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg_internal("provsecret audit: reading checkpoints failed")));
	if (SPI_processed == 0)
		return true;
	t = SPI_tuptable->vals[0];
	d = SPI_tuptable->tupdesc;
	through = DatumGetInt64(SPI_getbinval(t, d, 1, &isnull));
	dropped = DatumGetInt64(SPI_getbinval(t, d, 3, &isnull));
	*kept_before = DatumGetInt64(SPI_getbinval(t, d, 4, &isnull));
	*next_seq = through + 1;
	if (!copy_hash(t, d, 2, prev) ||
		!use_epoch(run, DatumGetInt32(SPI_getbinval(t, d, 6, &isnull)), key))
		return false;
	ps_audit_checkpoint_mac(key, chain, through, prev, dropped, *kept_before, mac);
	return ps_audit_hash_equals(SPI_getbinval(t, d, 5, &isnull), isnull, mac);
}

/* Where the chain was last verified to; false when none or forged. */
static bool
verified_point(VerifyRun *run, unsigned char *key, const char *chain,
			   int64 *seq, unsigned char *hash, bool *forged)
{
	Oid			type = TEXTOID;
	Datum		arg = CStringGetTextDatum(chain);
	HeapTuple	t;
	TupleDesc	d;
	bool		isnull;
	unsigned char mac[PS_AUDIT_HASH_LEN];

	*forged = false;
	if (SPI_execute_with_args("SELECT chain_seq, hash, key_epoch, mac FROM provsecret.audit_chain_verified "
							  "WHERE chain OPERATOR(pg_catalog.=) $1",
							  1, &type, &arg, NULL, true, 1) != SPI_OK_SELECT)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg_internal("provsecret audit: reading verified points failed")));
	if (SPI_processed == 0)
		return false;
	t = SPI_tuptable->vals[0];
	d = SPI_tuptable->tupdesc;
	*seq = DatumGetInt64(SPI_getbinval(t, d, 1, &isnull));
	if (!copy_hash(t, d, 2, hash) ||
		!use_epoch(run, DatumGetInt32(SPI_getbinval(t, d, 3, &isnull)), key))
	{
		*forged = true;
		return false;
	}
	ps_audit_verified_mac(key, chain, *seq, hash, mac);
	*forged = !ps_audit_hash_equals(SPI_getbinval(t, d, 4, &isnull), isnull, mac);
	return !*forged;
}

/*
 * Recompute one row from prev; true when its position, prev_hash and hash
 * are what the chain says.  prev becomes the stored hash, so the rest is
 * checked on its own terms.
 */
static bool
verify_row(VerifyRun *run, unsigned char *key, HeapTuple tuple, TupleDesc desc,
		   int64 expected_seq, unsigned char *prev)
{
	PsAuditChainRow row;
	unsigned char hash[PS_AUDIT_HASH_LEN];
	bool		isnull;
	bool		ok;
	int			f;

	row.seq = DatumGetInt64(SPI_getbinval(tuple, desc, VC_SEQ, &isnull));
	row.id = DatumGetInt64(SPI_getbinval(tuple, desc, VC_ID, &isnull));
	row.at = DatumGetTimestampTz(SPI_getbinval(tuple, desc, VC_AT, &isnull));
	for (f = 0; f <= PS_AF_REQUEST_ID; f++)
		row.text[f] = SPI_getvalue(tuple, desc, VC_TEXT0 + f);
	row.value_version = DatumGetInt32(SPI_getbinval(tuple, desc, VC_VALUE_VERSION, &isnull));
	if (isnull)
		row.value_version = 0;
	row.text[PS_AF_OUTCOME] = SPI_getvalue(tuple, desc, VC_OUTCOME);
	row.count = DatumGetInt64(SPI_getbinval(tuple, desc, VC_COUNT, &isnull));
	row.text[PS_AF_DETAIL] = SPI_getvalue(tuple, desc, VC_DETAIL);

	if (!use_epoch(run, DatumGetInt32(SPI_getbinval(tuple, desc, VC_EPOCH, &isnull)), key))
		return false;
	ps_audit_chain_hash(key, prev, &row, hash);
	ok = row.seq == expected_seq;
	ok = ps_audit_hash_equals(SPI_getbinval(tuple, desc, VC_PREV_HASH, &isnull), isnull, prev) && ok;
	ok = ps_audit_hash_equals(SPI_getbinval(tuple, desc, VC_HASH, &isnull), isnull, hash) && ok;
	if (!copy_hash(tuple, desc, VC_HASH, prev))
		ok = false;
	return ok;
}

static void
progress(VerifyRun *run)
{
	run->total++;
	if (run->scope != PS_VERIFY_INCREMENTAL && run->total >= run->next_progress)
	{
		ereport(NOTICE,
				(errmsg("verify_audit_chain: %lld events verified", (long long) run->total)));
		run->next_progress += PS_AUDIT_VERIFY_PROGRESS_EVERY;
	}
	CHECK_FOR_INTERRUPTS();
}

/* Walk one chain's rows from chain_seq from on. */
static void
walk_rows(VerifyRun *run, unsigned char *key, const char *chain, int64 from,
		  int64 next_seq, int64 kept_before, ChainResult *res)
{
	Oid			types[2] = {TEXTOID, INT8OID};
	Datum		args[2];
	Portal		cursor;
	MemoryContext rowcxt;
	int64		kept = 0;
	int64		first_after = 0;
	unsigned char prev[PS_AUDIT_HASH_LEN];

	memcpy(prev, res->last_hash, PS_AUDIT_HASH_LEN);
	args[0] = CStringGetTextDatum(chain);
	args[1] = Int64GetDatum(from);
	/*
	 * Planned once per run: planning a query over every partition for each
	 * chain cost more than walking it.
	 */
	if (run->rows_plan[chain[0] == '\0'] == NULL)
	{
		SPIPlanPtr	plan = SPI_prepare(chain[0] == '\0'
									   ? ROW_COLUMNS "WHERE company IS NULL AND $1 OPERATOR(pg_catalog.=) '' "
									   "AND chain_seq OPERATOR(pg_catalog.>=) $2 ORDER BY chain_seq"
									   : ROW_COLUMNS "WHERE company COLLATE \"C\" OPERATOR(pg_catalog.=) $1 "
									   "AND chain_seq OPERATOR(pg_catalog.>=) $2 ORDER BY company COLLATE \"C\", chain_seq",
									   2, types);

		if (plan == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg_internal("provsecret audit: preparing the chain walk failed")));
		run->rows_plan[chain[0] == '\0'] = plan;
	}
	cursor = SPI_cursor_open(NULL, run->rows_plan[chain[0] == '\0'], args, NULL, true);
	rowcxt = AllocSetContextCreate(CurrentMemoryContext, "audit verify rows",
								   ALLOCSET_DEFAULT_SIZES);
	for (;;)
	{
		SPI_cursor_fetch(cursor, true, 1000);
		if (SPI_processed == 0)
			break;
		for (uint64 i = 0; i < SPI_processed; i++)
		{
			HeapTuple	t = SPI_tuptable->vals[i];
			TupleDesc	d = SPI_tuptable->tupdesc;
			MemoryContext old = MemoryContextSwitchTo(rowcxt);
			bool		isnull;
			int64		seq = DatumGetInt64(SPI_getbinval(t, d, VC_SEQ, &isnull));
			int64		id = DatumGetInt64(SPI_getbinval(t, d, VC_ID, &isnull));
			bool		ok;

			if (seq < next_seq)
			{
				/* Older than the cut, kept in a newer partition: alone. */
				unsigned char own_prev[PS_AUDIT_HASH_LEN];

				ok = copy_hash(t, d, VC_PREV_HASH, own_prev) &&
					verify_row(run, key, t, d, seq, own_prev);
				kept++;
			}
			else
			{
				if (first_after == 0)
					first_after = id;
				ok = verify_row(run, key, t, d, next_seq, prev);
				next_seq = seq + 1;
				res->last_seq = seq;
			}
			MemoryContextSwitchTo(old);
			MemoryContextReset(rowcxt);
			if (!ok)
				mark_bad(res, id);
			res->checked++;
			progress(run);
		}
		SPI_freetuptable(SPI_tuptable);
	}
	SPI_cursor_close(cursor);
	MemoryContextDelete(rowcxt);
	memcpy(res->last_hash, prev, PS_AUDIT_HASH_LEN);
	/* Rows kept before the cut: exactly as many as the checkpoint says. */
	if (kept_before >= 0 && kept != kept_before)
		mark_bad(res, first_after);
}

/* The chain's last row must be its head. */
static void
check_head(const char *chain, ChainResult *res)
{
	Oid			type = TEXTOID;
	Datum		arg = CStringGetTextDatum(chain);
	bool		isnull;
	int64		head_seq;
	int64		head_id;

	if (SPI_execute_with_args("SELECT chain_seq, event_id FROM provsecret.audit_chain_head "
							  "WHERE chain OPERATOR(pg_catalog.=) $1",
							  1, &type, &arg, NULL, true, 1) != SPI_OK_SELECT)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg_internal("provsecret audit: reading a chain head failed")));
	if (SPI_processed == 0)
	{
		if (res->checked > 0)
			mark_bad(res, 0);
		return;
	}
	head_seq = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	head_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	if (head_seq != res->last_seq)
		mark_bad(res, head_id);
}

static void
record_verified(unsigned char *key, VerifyRun *run, const char *chain,
				ChainResult *res)
{
	Oid			types[4] = {TEXTOID, INT8OID, BYTEAOID, BYTEAOID};
	Datum		args[4];
	unsigned char mac[PS_AUDIT_HASH_LEN];
	int32		epoch = run->epochs[run->nepochs - 1].epoch;

	if (!run->record || res->last_seq == 0 ||
		!use_epoch(run, epoch, key))
		return;
	ps_audit_verified_mac(key, chain, res->last_seq, res->last_hash, mac);
	args[0] = CStringGetTextDatum(chain);
	args[1] = Int64GetDatum(res->last_seq);
	args[2] = ps_audit_hash_datum(res->last_hash);
	args[3] = ps_audit_hash_datum(mac);
	if (SPI_execute_with_args(psprintf("INSERT INTO provsecret.audit_chain_verified AS v "
									   "(chain, chain_seq, hash, key_epoch, mac) VALUES ($1, $2, $3, %d, $4) "
									   "ON CONFLICT (chain) DO UPDATE SET chain_seq = excluded.chain_seq, "
									   "hash = excluded.hash, key_epoch = excluded.key_epoch, "
									   "mac = excluded.mac, verified_at = pg_catalog.now()",
									   epoch),
							  4, types, args, NULL, false, 0) != SPI_OK_INSERT)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg_internal("provsecret audit: recording a verified point failed")));
}

static void
verify_one_chain(VerifyRun *run, unsigned char *key, const char *chain)
{
	ChainResult res;
	int64		next_seq;
	int64		kept_before;
	int64		from = 1;
	bool		forged = false;
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};

	memset(&res, 0, sizeof(res));
	res.ok = true;
	if (!chain_start(run, key, chain, &next_seq, res.last_hash, &kept_before))
		mark_bad(&res, 0);
	res.last_seq = next_seq - 1;
	if (run->scope == PS_VERIFY_INCREMENTAL)
	{
		int64		seq;
		unsigned char hash[PS_AUDIT_HASH_LEN];

		if (verified_point(run, key, chain, &seq, hash, &forged) && seq >= next_seq - 1)
		{
			next_seq = seq + 1;
			res.last_seq = seq;
			memcpy(res.last_hash, hash, PS_AUDIT_HASH_LEN);
			kept_before = -1;	/* counted when that point was verified */
			from = next_seq;
		}
		if (forged)
			mark_bad(&res, 0);
	}
	walk_rows(run, key, chain, from, next_seq, kept_before, &res);
	check_head(chain, &res);
	if (res.ok)
		record_verified(key, run, chain, &res);

	values[0] = CStringGetTextDatum(chain);
	nulls[0] = chain[0] == '\0';
	values[1] = BoolGetDatum(res.ok);
	values[2] = Int64GetDatum(res.checked);
	values[3] = Int64GetDatum(res.first_bad);
	nulls[3] = res.first_bad == 0;
	tuplestore_putvalues(run->rsinfo->setResult, run->rsinfo->setDesc, values, nulls);
}

/* The chains to verify, '' for the global one, in name order. */
static char **
list_chains(VerifyRun *run, int *count)
{
	char	  **chains;
	const char *sql;

	if (run->scope == PS_VERIFY_ONE)
	{
		chains = palloc(sizeof(char *));
		chains[0] = pstrdup(run->company ? run->company : "");
		*count = 1;
		return chains;
	}
	if (run->scope == PS_VERIFY_INCREMENTAL)
		sql = "SELECT h.chain FROM provsecret.audit_chain_head h "
			"LEFT JOIN provsecret.audit_chain_verified v ON v.chain OPERATOR(pg_catalog.=) h.chain "
			"WHERE v.chain_seq IS NULL OR v.chain_seq OPERATOR(pg_catalog.<>) h.chain_seq ORDER BY 1";
	else
		sql = "WITH RECURSIVE c(company) AS ("
			"  SELECT pg_catalog.min(company COLLATE \"C\") FROM provsecret.audit_event "
			"  UNION ALL "
			"  SELECT (SELECT pg_catalog.min(e.company COLLATE \"C\") FROM provsecret.audit_event e "
			"          WHERE e.company COLLATE \"C\" OPERATOR(pg_catalog.>) c.company) "
			"    FROM c WHERE c.company IS NOT NULL) "
			"SELECT company FROM c WHERE company IS NOT NULL "
			"UNION SELECT '' WHERE EXISTS (SELECT 1 FROM provsecret.audit_event WHERE company IS NULL) "
			"UNION SELECT chain FROM provsecret.audit_chain_head "
			"UNION SELECT chain FROM provsecret.audit_checkpoint WHERE chain IS NOT NULL "
			"ORDER BY 1";
	if (SPI_execute(sql, true, 0) != SPI_OK_SELECT)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg_internal("provsecret audit: listing the chains failed")));
	chains = palloc(sizeof(char *) * Max(SPI_processed, 1));
	for (uint64 i = 0; i < SPI_processed; i++)
		chains[i] = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
	*count = (int) SPI_processed;
	return chains;
}

static void
verify_keyed(unsigned char *key, void *arg)
{
	VerifyRun  *run = (VerifyRun *) arg;
	PsIdentity	identity;
	char	  **chains;
	int			nchains;

	ps_identity_enter(PS_ACT_OWNER, &identity);
	SPI_connect();
	run->epochs = ps_audit_key_epochs(&run->nepochs);
	run->current = -1;
	run->next_progress = PS_AUDIT_VERIFY_PROGRESS_EVERY;
	run->record = run->nepochs > 0 && !XactReadOnly && !RecoveryInProgress();
	chains = list_chains(run, &nchains);
	for (int i = 0; i < nchains; i++)
	{
		if (run->nepochs == 0)
		{
			/* Events but no chain key: nothing can be verified. */
			Datum		values[4];
			bool		nulls[4] = {false, false, false, true};

			values[0] = CStringGetTextDatum(chains[i]);
			nulls[0] = chains[i][0] == '\0';
			values[1] = BoolGetDatum(false);
			values[2] = Int64GetDatum(0);
			tuplestore_putvalues(run->rsinfo->setResult, run->rsinfo->setDesc, values, nulls);
			continue;
		}
		verify_one_chain(run, key, chains[i]);
	}
	if (run->scope != PS_VERIFY_INCREMENTAL && run->total >= PS_AUDIT_VERIFY_PROGRESS_EVERY)
		ereport(NOTICE,
				(errmsg("verify_audit_chain: %lld events in %d chains verified",
						(long long) run->total, nchains)));
	SPI_finish();
	ps_identity_leave(&identity);
}

void
ps_audit_verify_chains(PsAuditVerifyScope scope, const char *company,
					   ReturnSetInfo *rsinfo)
{
	VerifyRun	run;

	memset(&run, 0, sizeof(run));
	run.scope = scope;
	run.company = company;
	run.rsinfo = rsinfo;
	ps_audit_with_key_buffer(verify_keyed, &run);
}
