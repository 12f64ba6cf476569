/*
 * audit_rechain.c: the 0.5.0 upgrade's move of the single audit chain into
 * one chain per company.
 *
 * Called once by sql/provsecret--0.4.0--0.5.0.sql while audit_event is the
 * old table and audit_event_chained the new partitioned one.  The old chain
 * is verified first (its result is recorded, not enforced); every event is
 * then appended, in chain order with its id, time and fields unchanged, to
 * its company's new chain under the newest chain key.  Each new chain hangs
 * from the old chain's final hash: its checkpoint (through_seq 0) carries
 * that hash, MAC-ed, and an audit.rechained event in the global chain names
 * the old chain's final position and hash and the verification's outcome.
 */
#include "postgres.h"

#include <sodium.h>

#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "audit/audit_chain.h"
#include "audit/audit_key.h"
#include "audit/audit_legacy.h"
#include "audit/audit_partition.h"
#include "audit/audit_queue.h"
#include "core/identity.h"

PG_FUNCTION_INFO_V1(provsecret_audit_rechain);

typedef struct Chain
{
	char		name[PS_AUDIT_NAME_LEN];
	int64		seq;
	int64		id;
	unsigned char hash[PS_AUDIT_HASH_LEN];
} Chain;

typedef struct Rechain
{
	int64		moved;
	int64		old_seq;
	unsigned char old_hash[PS_AUDIT_HASH_LEN];
	bool		old_ok;
	int64		old_first_bad;
	int32		epoch;
	HTAB	   *chains;
	SPIPlanPtr	insert;
	int			last_month;
} Rechain;

#define INSERT_SQL "INSERT INTO provsecret.audit_event_chained (chain_seq, id, at, action, reference, " \
	"company, project, principal, channel, client_addr, request_id, value_version, outcome, count, " \
	"detail, prev_hash, hash, key_epoch) " \
	"VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::pg_catalog.inet, $11, $12, $13, $14, $15, $16, $17, $18)"

static const Oid insert_types[18] = {
	INT8OID, INT8OID, TIMESTAMPTZOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID,
	TEXTOID, TEXTOID, TEXTOID, INT4OID, TEXTOID, INT8OID, TEXTOID, BYTEAOID, BYTEAOID, INT4OID
};

/* Append one row to its chain in the new table. */
static void
append(Rechain *rc, const unsigned char *key, PsAuditChainRow *row)
{
	const char *name = row->text[PS_AF_COMPANY] ? row->text[PS_AF_COMPANY] : "";
	Chain	   *chain;
	bool		found;
	Datum		values[18];
	char		nulls[18];
	unsigned char hash[PS_AUDIT_HASH_LEN];
	int			month = ps_audit_month_of(row->at);
	int			f;

	if (strlen(name) >= PS_AUDIT_NAME_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_NAME_TOO_LONG),
				 errmsg("company name of an audit event is too long for its chain")));
	chain = hash_search(rc->chains, name, HASH_ENTER, &found);
	if (!found)
	{
		chain->seq = 0;
		memcpy(chain->hash, rc->old_hash, PS_AUDIT_HASH_LEN);
	}
	if (month != rc->last_month)
		ps_audit_partition_ensure("audit_event_chained", month);
	rc->last_month = month;
	row->seq = ++chain->seq;
	chain->id = row->id;
	ps_audit_chain_hash(key, chain->hash, row, hash);

	memset(nulls, ' ', sizeof(nulls));
	values[0] = Int64GetDatum(row->seq);
	values[1] = Int64GetDatum(row->id);
	values[2] = TimestampTzGetDatum(row->at);
	for (f = 0; f <= PS_AF_REQUEST_ID; f++)
	{
		values[3 + f] = row->text[f] ? CStringGetTextDatum(row->text[f]) : (Datum) 0;
		nulls[3 + f] = row->text[f] ? ' ' : 'n';
	}
	values[11] = Int32GetDatum(row->value_version);
	nulls[11] = row->value_version == 0 ? 'n' : ' ';
	values[12] = CStringGetTextDatum(row->text[PS_AF_OUTCOME]);
	values[13] = Int64GetDatum(row->count);
	values[14] = row->text[PS_AF_DETAIL] ? CStringGetTextDatum(row->text[PS_AF_DETAIL]) : (Datum) 0;
	nulls[14] = row->text[PS_AF_DETAIL] ? ' ' : 'n';
	values[15] = ps_audit_hash_datum(chain->hash);
	values[16] = ps_audit_hash_datum(hash);
	values[17] = Int32GetDatum(rc->epoch);
	if (SPI_execute_plan(rc->insert, values, nulls, false, 0) != SPI_OK_INSERT)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg_internal("provsecret audit: re-chaining an event failed")));
	memcpy(chain->hash, hash, PS_AUDIT_HASH_LEN);
	rc->moved++;
}

/* Where the old chain ended: its newest row, else its newest checkpoint. */
static bool
old_head(Rechain *rc)
{
	bytea	   *h;
	bool		isnull;

	if (SPI_execute("SELECT chain_seq, hash FROM provsecret.audit_event ORDER BY chain_seq DESC LIMIT 1",
					true, 1) != SPI_OK_SELECT ||
		(SPI_processed == 0 &&
		 SPI_execute("SELECT through_seq, last_hash FROM provsecret.audit_checkpoint "
					 "ORDER BY through_seq DESC LIMIT 1", true, 1) != SPI_OK_SELECT))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg_internal("provsecret audit: reading the old chain head failed")));
	if (SPI_processed == 0)
		return false;
	rc->old_seq = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	h = DatumGetByteaPP(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	if (VARSIZE_ANY_EXHDR(h) == PS_AUDIT_HASH_LEN)
		memcpy(rc->old_hash, VARDATA_ANY(h), PS_AUDIT_HASH_LEN);
	return true;
}

static void
move_rows(Rechain *rc, const unsigned char *key)
{
	Portal		cursor;
	MemoryContext rowcxt = AllocSetContextCreate(CurrentMemoryContext, "audit rechain rows",
												 ALLOCSET_DEFAULT_SIZES);

	cursor = SPI_cursor_open_with_args(NULL,
									   "SELECT id, at, action, reference, company, project, principal, channel, "
									   "client_addr, request_id, value_version, outcome, count, detail "
									   "FROM provsecret.audit_event ORDER BY chain_seq",
									   0, NULL, NULL, NULL, true, 0);
	for (;;)
	{
		SPITupleTable *tuples;
		uint64		n;

		SPI_cursor_fetch(cursor, true, 1000);
		tuples = SPI_tuptable;
		n = SPI_processed;
		if (n == 0)
			break;
		for (uint64 i = 0; i < n; i++)
		{
			HeapTuple	t = tuples->vals[i];
			TupleDesc	d = tuples->tupdesc;
			MemoryContext old = MemoryContextSwitchTo(rowcxt);
			PsAuditChainRow row;
			bool		isnull;
			int			f;

			row.id = DatumGetInt64(SPI_getbinval(t, d, 1, &isnull));
			row.at = DatumGetTimestampTz(SPI_getbinval(t, d, 2, &isnull));
			for (f = 0; f <= PS_AF_REQUEST_ID; f++)
				row.text[f] = SPI_getvalue(t, d, 3 + f);
			row.value_version = DatumGetInt32(SPI_getbinval(t, d, 11, &isnull));
			if (isnull)
				row.value_version = 0;
			row.text[PS_AF_OUTCOME] = SPI_getvalue(t, d, 12);
			row.count = DatumGetInt64(SPI_getbinval(t, d, 13, &isnull));
			row.text[PS_AF_DETAIL] = SPI_getvalue(t, d, 14);
			append(rc, key, &row);
			MemoryContextSwitchTo(old);
			MemoryContextReset(rowcxt);
			CHECK_FOR_INTERRUPTS();
		}
		SPI_freetuptable(tuples);
	}
	SPI_cursor_close(cursor);
	MemoryContextDelete(rowcxt);
}

/* The audit.rechained event ends the move, in the global chain. */
static void
append_rechained_event(Rechain *rc, const unsigned char *key)
{
	PsAuditChainRow row;
	char		hex[PS_AUDIT_HASH_LEN * 2 + 1];
	bool		isnull;

	memset(&row, 0, sizeof(row));
	if (SPI_execute("SELECT pg_catalog.nextval('provsecret.audit_event_id_seq_chained'::pg_catalog.regclass)",
					false, 1) != SPI_OK_SELECT)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg_internal("provsecret audit: taking an event id failed")));
	row.id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	row.at = GetCurrentTimestamp();
	row.count = rc->moved;
	row.text[PS_AF_ACTION] = "audit.rechained";
	row.text[PS_AF_PRINCIPAL] = "provsecret";
	row.text[PS_AF_CHANNEL] = "sql";
	row.text[PS_AF_OUTCOME] = rc->old_ok ? "ok" : "failed";
	sodium_bin2hex(hex, sizeof(hex), rc->old_hash, PS_AUDIT_HASH_LEN);
	row.text[PS_AF_DETAIL] = rc->old_ok
		? psprintf("one chain per company from 0.5.0: the single chain ended at position %lld with hash %s and verified; %lld events re-chained",
				   (long long) rc->old_seq, hex, (long long) rc->moved)
		: psprintf("one chain per company from 0.5.0: the single chain ended at position %lld with hash %s and did NOT verify (first bad id %lld); %lld events re-chained",
				   (long long) rc->old_seq, hex, (long long) rc->old_first_bad, (long long) rc->moved);
	append(rc, key, &row);
}

/* A checkpoint and a head for every new chain. */
static void
write_chain_rows(Rechain *rc, const unsigned char *key)
{
	HASH_SEQ_STATUS scan;
	Chain	   *chain;
	Oid			types[5] = {TEXTOID, BYTEAOID, BYTEAOID, INT8OID, INT8OID};

	hash_seq_init(&scan, rc->chains);
	while ((chain = hash_seq_search(&scan)) != NULL)
	{
		Datum		args[5];
		unsigned char mac[PS_AUDIT_HASH_LEN];

		ps_audit_checkpoint_mac(key, chain->name, 0, rc->old_hash, 0, 0, mac);
		args[0] = CStringGetTextDatum(chain->name);
		args[1] = ps_audit_hash_datum(rc->old_hash);
		args[2] = ps_audit_hash_datum(mac);
		args[3] = Int64GetDatum(chain->seq);
		args[4] = Int64GetDatum(chain->id);
		if (SPI_execute_with_args(psprintf("INSERT INTO provsecret.audit_checkpoint "
										   "(chain, through_seq, last_hash, dropped, kept_before, retained_by, mac, key_epoch) "
										   "VALUES ($1, 0, $2, 0, 0, 'update to 0.5.0', $3, %d)", rc->epoch),
								  3, types, args, NULL, false, 0) != SPI_OK_INSERT)
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg_internal("provsecret audit: writing a checkpoint failed")));
		args[1] = Int64GetDatum(chain->seq);
		args[2] = Int64GetDatum(chain->id);
		args[3] = ps_audit_hash_datum(chain->hash);
		types[1] = INT8OID;
		types[2] = INT8OID;
		types[3] = BYTEAOID;
		if (SPI_execute_with_args("INSERT INTO provsecret.audit_chain_head (chain, chain_seq, event_id, hash) "
								  "VALUES ($1, $2, $3, $4)", 4, types, args, NULL, false, 0) != SPI_OK_INSERT)
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg_internal("provsecret audit: writing a chain head failed")));
		types[1] = BYTEAOID;
		types[2] = BYTEAOID;
		types[3] = INT8OID;
	}
}

static void
rechain_keyed(unsigned char *key, void *arg)
{
	Rechain    *rc = (Rechain *) arg;
	PsAuditKeyEpoch *epochs;
	int			nepochs;
	HASHCTL		ctl;
	int64		checked;

	SPI_connect();
	/* The worker writes no more old-chain events until this commits. */
	SPI_execute("LOCK TABLE provsecret.audit_event IN EXCLUSIVE MODE", false, 0);
	epochs = ps_audit_key_epochs(&nepochs);
	if (nepochs == 0 || !old_head(rc))
	{
		SPI_finish();
		return;
	}
	rc->old_ok = ps_audit_legacy_verify(&checked, &rc->old_first_bad);
	ps_audit_key_unwrap_epoch(&epochs[nepochs - 1], key);
	rc->epoch = epochs[nepochs - 1].epoch;
	ctl.keysize = PS_AUDIT_NAME_LEN;
	ctl.entrysize = sizeof(Chain);
	ctl.hcxt = CurrentMemoryContext;
	rc->chains = hash_create("provsecret audit rechain", 64, &ctl,
							 HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	rc->insert = SPI_prepare(INSERT_SQL, 18, (Oid *) insert_types);
	rc->last_month = -1;
	move_rows(rc, key);
	append_rechained_event(rc, key);
	write_chain_rows(rc, key);
	if (!rc->old_ok)
		ereport(WARNING,
				(errmsg("provsecret audit: the audit chain did not verify before the update (first bad id %lld)",
						(long long) rc->old_first_bad),
				 errdetail("Its events were re-chained per company; the audit.rechained event records the failure.")));
	SPI_finish();
}

/* audit_rechain() -> bigint: events moved (the 0.5.0 upgrade only). */
Datum
provsecret_audit_rechain(PG_FUNCTION_ARGS)
{
	Rechain		rc;

	if (!creating_extension)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("audit_rechain() runs only in ALTER EXTENSION provsecret UPDATE")));
	memset(&rc, 0, sizeof(rc));
	rc.old_ok = true;
	ps_audit_with_key_buffer(rechain_keyed, &rc);
	PG_RETURN_INT64(rc.moved);
}
