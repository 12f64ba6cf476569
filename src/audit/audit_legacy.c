/*
 * audit_legacy.c: the single audit chain of the schemas before 0.5.0.
 *
 * A server runs this library before ALTER EXTENSION ... UPDATE brings the
 * schema to 0.5.0: until then verify_audit_chain() and audit_retain() keep
 * their 0.4.0 meaning (one chain, epochs by chain position, retention by
 * DELETE), and the 0.5.0 upgrade verifies the old chain with this code
 * before it re-chains the events per company (audit_rechain.c).
 */
#include "postgres.h"

#include <sodium.h>

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "audit/audit_chain.h"
#include "audit/audit_key.h"
#include "audit/audit_legacy.h"
#include "audit/audit_queue.h"
#include "core/identity.h"

bool
ps_audit_schema_is_legacy(void)
{
	Oid			nsp = get_namespace_oid("provsecret", true);

	return OidIsValid(nsp) && !OidIsValid(get_relname_relid("audit_chain_head", nsp));
}

/*
 * Starting point of the chain: the newest checkpoint (if its MAC verifies
 * under the key of its epoch) or the genesis (chain_seq 1, zero hash).
 * False when the checkpoint is forged.
 */
static bool
chain_start(const PsAuditKeyEpoch *epochs, int nepochs, int64 *next_seq,
			unsigned char *prev)
{
	bool		isnull;
	int64		through;
	int64		dropped;
	int32		epoch;
	unsigned char mac[PS_AUDIT_HASH_LEN];
	unsigned char key[PS_AUDIT_CHAIN_KEY_LEN];
	bytea	   *last;
	Datum		d;
	bool		ok;
	int			i;

	memset(prev, 0, PS_AUDIT_HASH_LEN);
	*next_seq = 1;
	if (SPI_execute("SELECT through_seq, last_hash, dropped, mac, key_epoch FROM provsecret.audit_checkpoint "
					"ORDER BY through_seq DESC LIMIT 1", true, 1) != SPI_OK_SELECT)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg_internal("provsecret audit: reading checkpoints failed")));
	if (SPI_processed == 0)
		return true;
	through = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	last = DatumGetByteaPP(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	dropped = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull));
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 4, &isnull);
	epoch = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 5, &isnull));
	*next_seq = through + 1;
	if (VARSIZE_ANY_EXHDR(last) != PS_AUDIT_HASH_LEN)
		return false;
	memcpy(prev, VARDATA_ANY(last), PS_AUDIT_HASH_LEN);
	for (i = 0; i < nepochs && epochs[i].epoch != epoch; i++)
		;
	if (i == nepochs)
		return false;
	ps_audit_key_unwrap_epoch(&epochs[i], key);
	ps_audit_checkpoint_mac_v1(key, through, prev, dropped, mac);
	sodium_memzero(key, sizeof(key));
	ok = ps_audit_hash_equals(d, isnull, mac);
	return ok;
}

/* Column numbers of the verification query. */
enum
{
	VC_SEQ = 1, VC_ID, VC_AT, VC_TEXT0,		/* then the text fields up to request_id */
	VC_VALUE_VERSION = VC_TEXT0 + PS_AF_REQUEST_ID + 1,
	VC_OUTCOME, VC_COUNT, VC_DETAIL, VC_PREV_HASH, VC_HASH
};

#define VERIFY_QUERY "SELECT chain_seq, id, at, action, reference, company, project, " \
	"principal, channel, client_addr, request_id, value_version, outcome, count, detail, " \
	"prev_hash, hash FROM provsecret.audit_event ORDER BY chain_seq"

/* Recompute one row; true when it is where and what the chain says. */
static bool
verify_row(const unsigned char *key, HeapTuple tuple, TupleDesc desc,
		   int64 expected_seq, unsigned char *prev, int64 *seq, int64 *id)
{
	PsAuditChainRow row;
	unsigned char hash[PS_AUDIT_HASH_LEN];
	bool		isnull;
	bool		ok;
	Datum		d;
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

	ps_audit_chain_hash(key, prev, &row, hash);
	ok = row.seq == expected_seq;
	d = SPI_getbinval(tuple, desc, VC_PREV_HASH, &isnull);
	ok = ps_audit_hash_equals(d, isnull, prev) && ok;
	d = SPI_getbinval(tuple, desc, VC_HASH, &isnull);
	ok = ps_audit_hash_equals(d, isnull, hash) && ok;
	/* Go on from the stored hash, to check the rest on its own terms. */
	if (!isnull && VARSIZE_ANY_EXHDR(DatumGetByteaPP(d)) == PS_AUDIT_HASH_LEN)
		memcpy(prev, VARDATA_ANY(DatumGetByteaPP(d)), PS_AUDIT_HASH_LEN);
	*seq = row.seq;
	*id = row.id;
	return ok;
}

/* What the verification found (ps_audit_chain_verify). */
typedef struct ChainVerifyResult
{
	bool		ok;
	int64		checked;
	int64		first_bad;
} ChainVerifyResult;

/*
 * Walk the chain in chain_seq order.  first_bad is the id of the first row
 * that was edited, moved, or follows a removed row; for rows removed from
 * the end, the id of the newest event the worker committed.
 */
static void
chain_verify_keyed(unsigned char *key, void *arg)
{
	ChainVerifyResult *result = (ChainVerifyResult *) arg;
	unsigned char prev[PS_AUDIT_HASH_LEN];
	PsAuditKeyEpoch *epochs;
	int			nepochs;
	int			current = -1;	/* epoch whose key is in key[] */
	int64		expected_seq = 1;
	int64		checked = 0;
	int64		first_bad = 0;
	bool		bad = false;
	bool		start_ok;
	int64		known_seq;
	int64		known_id;
	Portal		cursor;
	MemoryContext rowcxt;
	PsIdentity	identity;

	/* Read before our snapshot: rows up to here must be visible. */
	known_seq = ps_audit_queue_head(get_extension_oid("provsecret", false), &known_id);

	ps_identity_enter(PS_ACT_OWNER, &identity);
	SPI_connect();
	epochs = ps_audit_key_epochs(&nepochs);
	if (nepochs == 0)
	{
		SPI_execute("SELECT id FROM provsecret.audit_event ORDER BY chain_seq LIMIT 1", true, 1);
		if (SPI_processed > 0)
		{
			bool		isnull;

			bad = true;
			first_bad = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
													SPI_tuptable->tupdesc, 1, &isnull));
		}
		goto done;
	}
	start_ok = chain_start(epochs, nepochs, &expected_seq, prev);
	bad = !start_ok;

	rowcxt = AllocSetContextCreate(CurrentMemoryContext, "audit verify rows",
								   ALLOCSET_DEFAULT_SIZES);
	cursor = SPI_cursor_open_with_args(NULL, VERIFY_QUERY, 0, NULL, NULL, NULL, true, 0);
	for (;;)
	{
		uint64		i;

		SPI_cursor_fetch(cursor, true, 1000);
		if (SPI_processed == 0)
			break;
		for (i = 0; i < SPI_processed; i++)
		{
			MemoryContext old;
			int64		seq;
			int64		id;
			bool		ok;
			bool		isnull;
			int			epoch = Max(current, 0);

			/* The key of the epoch this row's position falls in. */
			seq = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i],
											  SPI_tuptable->tupdesc, VC_SEQ, &isnull));
			while (epoch + 1 < nepochs && epochs[epoch + 1].first_seq <= seq)
				epoch++;
			if (epoch != current)
			{
				ps_audit_key_unwrap_epoch(&epochs[epoch], key);
				current = epoch;
			}
			old = MemoryContextSwitchTo(rowcxt);
			ok = verify_row(key, SPI_tuptable->vals[i], SPI_tuptable->tupdesc,
							expected_seq, prev, &seq, &id);
			MemoryContextSwitchTo(old);
			MemoryContextReset(rowcxt);
			if (checked == 0 && !start_ok)
				ok = false;		/* the checkpoint it hangs from is forged */
			if (!ok && first_bad == 0)
				first_bad = id;
			bad |= !ok;
			checked++;
			expected_seq = seq + 1;
		}
		SPI_freetuptable(SPI_tuptable);
	}
	SPI_cursor_close(cursor);

	/* Rows the worker committed before we looked must all be there. */
	if (!IsolationUsesXactSnapshot() && known_seq >= expected_seq)
	{
		if (first_bad == 0)
			first_bad = known_id;
		bad = true;
	}

done:
	sodium_memzero(key, PS_AUDIT_CHAIN_KEY_LEN);
	SPI_finish();
	ps_identity_leave(&identity);
	result->ok = !bad;
	result->checked = checked;
	result->first_bad = first_bad;
}

bool
ps_audit_legacy_verify(int64 *checked, int64 *first_bad)
{
	ChainVerifyResult result = {false, 0, 0};

	ps_audit_with_key_buffer(chain_verify_keyed, &result);
	*checked = result.checked;
	*first_bad = result.first_bad;
	return result.ok;
}

/* The cut and what retention did (ps_audit_chain_retain). */
typedef struct ChainRetainResult
{
	TimestampTz cutoff;
	bool		retained;
	int64		dropped;
	int64		through;
} ChainRetainResult;

/*
 * Drop the oldest events whose time is before the cutoff, up to the first
 * newer one, and record a checkpoint carrying the last dropped hash so the
 * chain still verifies.
 */
static void
chain_retain_keyed(unsigned char *key, void *arg)
{
	ChainRetainResult *result = (ChainRetainResult *) arg;
	unsigned char last_hash[PS_AUDIT_HASH_LEN];
	unsigned char mac[PS_AUDIT_HASH_LEN];
	int64		through;
	int64		dropped;
	bool		isnull;
	Oid			types[5] = {INT8OID, BYTEAOID, INT8OID, BYTEAOID, INT4OID};
	Datum		args[5];
	Datum		cutarg;
	Oid			cuttype = TIMESTAMPTZOID;
	bytea	   *b;
	PsIdentity	identity;
	PsAuditKeyEpoch *epochs;
	int			nepochs;
	int32		epoch;

	result->retained = false;
	cutarg = TimestampTzGetDatum(result->cutoff);

	ps_identity_enter(PS_ACT_OWNER, &identity);
	SPI_connect();
	/* One retention at a time; events keep flowing meanwhile. */
	SPI_execute("LOCK TABLE provsecret.audit_checkpoint IN EXCLUSIVE MODE", false, 0);
	epochs = ps_audit_key_epochs(&nepochs);
	if (nepochs == 0)
	{
		SPI_finish();
		ps_identity_leave(&identity);
		return;
	}
	epoch = epochs[nepochs - 1].epoch;
	ps_audit_key_unwrap_epoch(&epochs[nepochs - 1], key);
	if (SPI_execute_with_args("SELECT e.chain_seq, e.hash, e.chain_seq OPERATOR(pg_catalog.-) "
							  "       coalesce((SELECT pg_catalog.max(through_seq) FROM provsecret.audit_checkpoint), 0) "
							  "FROM provsecret.audit_event e "
							  "WHERE e.chain_seq OPERATOR(pg_catalog.<) coalesce((SELECT pg_catalog.min(chain_seq) FROM provsecret.audit_event"
							  "                                                   WHERE at OPERATOR(pg_catalog.>=) $1), "
							  "                             (SELECT pg_catalog.max(chain_seq) OPERATOR(pg_catalog.+) 1 FROM provsecret.audit_event)) "
							  "ORDER BY e.chain_seq DESC LIMIT 1",
							  1, &cuttype, &cutarg, NULL, true, 1) != SPI_OK_SELECT)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg_internal("provsecret audit: choosing the retention cut failed")));
	if (SPI_processed == 0)
	{
		sodium_memzero(key, PS_AUDIT_CHAIN_KEY_LEN);
		SPI_finish();
		ps_identity_leave(&identity);
		return;
	}
	through = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	b = DatumGetByteaPP(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	dropped = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull));
	if (VARSIZE_ANY_EXHDR(b) != PS_AUDIT_HASH_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("audit chain position %lld has a malformed hash", (long long) through)));
	memcpy(last_hash, VARDATA_ANY(b), PS_AUDIT_HASH_LEN);
	ps_audit_checkpoint_mac_v1(key, through, last_hash, dropped, mac);
	sodium_memzero(key, PS_AUDIT_CHAIN_KEY_LEN);

	args[0] = Int64GetDatum(through);
	args[1] = PointerGetDatum(palloc(VARHDRSZ + PS_AUDIT_HASH_LEN));
	SET_VARSIZE(DatumGetPointer(args[1]), VARHDRSZ + PS_AUDIT_HASH_LEN);
	memcpy(VARDATA(DatumGetPointer(args[1])), last_hash, PS_AUDIT_HASH_LEN);
	args[2] = Int64GetDatum(dropped);
	args[3] = PointerGetDatum(palloc(VARHDRSZ + PS_AUDIT_HASH_LEN));
	SET_VARSIZE(DatumGetPointer(args[3]), VARHDRSZ + PS_AUDIT_HASH_LEN);
	memcpy(VARDATA(DatumGetPointer(args[3])), mac, PS_AUDIT_HASH_LEN);
	args[4] = Int32GetDatum(epoch);
	if (SPI_execute_with_args("INSERT INTO provsecret.audit_checkpoint "
							  "(through_seq, last_hash, dropped, retained_by, mac, key_epoch) "
							  "VALUES ($1, $2, $3, session_user, $4, $5)",
							  5, types, args, NULL, false, 0) != SPI_OK_INSERT)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg_internal("provsecret audit: writing the checkpoint failed")));

	PG_TRY();
	{
		ps_audit_allow_delete(true);
		if (SPI_execute_with_args("DELETE FROM provsecret.audit_event WHERE chain_seq OPERATOR(pg_catalog.<=) $1",
								  1, types, args, NULL, false, 0) != SPI_OK_DELETE)
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg_internal("provsecret audit: dropping old events failed")));
	}
	PG_FINALLY();
	{
		ps_audit_allow_delete(false);
	}
	PG_END_TRY();
	SPI_finish();
	ps_identity_leave(&identity);
	result->retained = true;
	result->dropped = dropped;
	result->through = through;
}

bool
ps_audit_legacy_retain(TimestampTz cutoff, int64 *dropped, int64 *through)
{
	ChainRetainResult result = {cutoff, false, 0, 0};

	ps_audit_with_key_buffer(chain_retain_keyed, &result);
	*dropped = result.dropped;
	*through = result.through;
	return result.retained;
}
