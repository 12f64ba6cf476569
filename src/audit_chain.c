/*
 * audit_chain.c: keyed hash chain, chain key, the append-only guard,
 * verify_audit_chain() and audit_retain().
 */
#include "postgres.h"

#include "provsecret.h"

#include "audit_chain.h"
#include "audit.h"
#include "audit_key.h"
#include "audit_queue.h"
#include "authz.h"
#include "identity.h"

#include <sodium.h>

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/tuplestore.h"
#include "utils/timestamp.h"

PG_FUNCTION_INFO_V1(provsecret_audit_guard);
PG_FUNCTION_INFO_V1(provsecret_verify_audit_chain);
PG_FUNCTION_INFO_V1(provsecret_audit_retain);

static const char chain_tag[] = "provsecret audit chain v1";
static const char checkpoint_tag[] = "provsecret audit checkpoint v1";

/* Set only by C code (retention, the worker's pending move). */
static bool delete_allowed = false;

void
ps_audit_allow_delete(bool allow)
{
	delete_allowed = allow;
}

static void
update_int64(crypto_generichash_state *st, int64 v)
{
	unsigned char b[8];
	int			i;

	for (i = 7; i >= 0; i--, v = (int64) ((uint64) v >> 8))
		b[i] = (unsigned char) (v & 0xff);
	crypto_generichash_update(st, b, 8);
}

static void
update_text(crypto_generichash_state *st, const char *s)
{
	unsigned char present = s != NULL;

	crypto_generichash_update(st, &present, 1);
	if (s != NULL)
	{
		int64		len = strlen(s);

		update_int64(st, len);
		crypto_generichash_update(st, (const unsigned char *) s, len);
	}
}

void
ps_audit_chain_hash(const unsigned char *key, const unsigned char *prev_hash,
					const PsAuditChainRow *row, unsigned char *hash)
{
	crypto_generichash_state st;
	int			i;

	crypto_generichash_init(&st, key, PS_AUDIT_CHAIN_KEY_LEN, PS_AUDIT_HASH_LEN);
	crypto_generichash_update(&st, (const unsigned char *) chain_tag,
							  sizeof(chain_tag));
	crypto_generichash_update(&st, prev_hash, PS_AUDIT_HASH_LEN);
	update_int64(&st, row->id);
	update_int64(&st, row->at);
	for (i = 0; i < PS_AF_COUNT_FIELDS; i++)
		update_text(&st, row->text[i]);
	update_int64(&st, row->value_version);
	update_int64(&st, row->count);
	crypto_generichash_final(&st, hash, PS_AUDIT_HASH_LEN);
	sodium_memzero(&st, sizeof(st));
}

static void
checkpoint_mac(const unsigned char *key, int64 through_id,
			   const unsigned char *last_hash, int64 dropped,
			   unsigned char *mac)
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, key, PS_AUDIT_CHAIN_KEY_LEN, PS_AUDIT_HASH_LEN);
	crypto_generichash_update(&st, (const unsigned char *) checkpoint_tag,
							  sizeof(checkpoint_tag));
	update_int64(&st, through_id);
	crypto_generichash_update(&st, last_hash, PS_AUDIT_HASH_LEN);
	update_int64(&st, dropped);
	crypto_generichash_final(&st, mac, PS_AUDIT_HASH_LEN);
	sodium_memzero(&st, sizeof(st));
}

bool
ps_audit_chain_key_load(unsigned char *key, bool create)
{
	bool		isnull;
	unsigned char fresh[PS_AUDIT_CHAIN_KEY_LEN];
	const char *fingerprint;
	Datum		args[2];
	Oid			argtypes[2] = {BYTEAOID, TEXTOID};

	if (SPI_execute("SELECT wrapped, root_key_fingerprint FROM provsecret.audit_chain_key WHERE id = 1",
					true, 1) != SPI_OK_SELECT)
		elog(ERROR, "provsecret audit: reading the chain key failed");
	if (SPI_processed == 1)
	{
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		ps_audit_key_unwrap(DatumGetByteaPP(d),
							SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2),
							key);
		return true;
	}
	if (!create)
		return false;

	randombytes_buf(fresh, sizeof(fresh));
	args[0] = PointerGetDatum(ps_audit_key_wrap(fresh, &fingerprint));
	args[1] = CStringGetTextDatum(fingerprint);
	if (SPI_execute_with_args("INSERT INTO provsecret.audit_chain_key (id, wrapped, root_key_fingerprint) "
							  "VALUES (1, $1, $2)",
							  2, argtypes, args, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "provsecret audit: storing the chain key failed");
	memcpy(key, fresh, sizeof(fresh));
	sodium_memzero(fresh, sizeof(fresh));
	return true;
}

/* Needs SPI connected and the rights of the extension owner. */
int
ps_audit_rewrap_chain_key(void)
{
	bool		isnull;
	unsigned char key[PS_AUDIT_CHAIN_KEY_LEN];
	char	   *old_fingerprint;
	const char *fingerprint;
	Datum		args[2];
	Oid			argtypes[2] = {BYTEAOID, TEXTOID};
	bytea	   *wrapped;

	if (SPI_execute("SELECT wrapped, root_key_fingerprint FROM provsecret.audit_chain_key WHERE id = 1 FOR UPDATE",
					false, 1) != SPI_OK_SELECT)
		elog(ERROR, "provsecret audit: reading the chain key failed");
	if (SPI_processed == 0)
		return 0;
	old_fingerprint = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	if (!ps_audit_key_needs_rewrap(old_fingerprint))
		return 0;
	wrapped = DatumGetByteaPP(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	ps_audit_key_unwrap(wrapped, old_fingerprint, key);
	args[0] = PointerGetDatum(ps_audit_key_wrap(key, &fingerprint));
	sodium_memzero(key, sizeof(key));
	args[1] = CStringGetTextDatum(fingerprint);
	if (SPI_execute_with_args("UPDATE provsecret.audit_chain_key SET wrapped = $1, root_key_fingerprint = $2, "
							  "rewrapped_at = pg_catalog.now() WHERE id = 1",
							  2, argtypes, args, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "provsecret audit: rewrapping the chain key failed");
	return 1;
}

/*
 * BEFORE UPDATE OR DELETE OR TRUNCATE, FOR EACH STATEMENT, ENABLE ALWAYS
 * (so session_replication_role does not bypass it).
 */
Datum
provsecret_audit_guard(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		elog(ERROR, "provsecret_audit_guard: not called by trigger manager");
	if (TRIGGER_FIRED_BY_DELETE(trigdata->tg_event) && delete_allowed)
		return PointerGetDatum(NULL);
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("%s is append-only", RelationGetRelationName(trigdata->tg_relation)),
			 errdetail("Audit events cannot be updated, deleted or truncated; old events are dropped only by provsecret.audit_retain().")));
	PG_RETURN_NULL();
}

static const char *
text_or_null(HeapTuple tuple, TupleDesc desc, int col)
{
	char	   *s = SPI_getvalue(tuple, desc, col);

	return s;
}

static bool
bytea_equals(Datum d, bool isnull, const unsigned char *expected)
{
	bytea	   *b;

	if (isnull)
		return false;
	b = DatumGetByteaPP(d);
	return VARSIZE_ANY_EXHDR(b) == PS_AUDIT_HASH_LEN &&
		sodium_memcmp(VARDATA_ANY(b), expected, PS_AUDIT_HASH_LEN) == 0;
}

/*
 * Starting point of the chain: the newest checkpoint (if its MAC verifies)
 * or the genesis (id 1, zero hash).  False when the checkpoint is forged.
 */
static bool
chain_start(const unsigned char *key, int64 *next_id, unsigned char *prev)
{
	bool		isnull;
	int64		through;
	int64		dropped;
	unsigned char mac[PS_AUDIT_HASH_LEN];
	bytea	   *last;

	memset(prev, 0, PS_AUDIT_HASH_LEN);
	*next_id = 1;
	if (SPI_execute("SELECT through_id, last_hash, dropped, mac FROM provsecret.audit_checkpoint ORDER BY through_id DESC LIMIT 1",
					true, 1) != SPI_OK_SELECT)
		elog(ERROR, "provsecret audit: reading checkpoints failed");
	if (SPI_processed == 0)
		return true;
	through = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	last = DatumGetByteaPP(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	dropped = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull));
	*next_id = through + 1;
	if (VARSIZE_ANY_EXHDR(last) != PS_AUDIT_HASH_LEN)
		return false;
	memcpy(prev, VARDATA_ANY(last), PS_AUDIT_HASH_LEN);
	checkpoint_mac(key, through, prev, dropped, mac);
	{
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 4, &isnull);

		return bytea_equals(d, isnull, mac);
	}
}

#define EVENT_COLUMNS "id, at, action, reference, company, project, principal, " \
	"channel, client_addr, request_id, value_version, outcome, count, detail, prev_hash, hash"

Datum
provsecret_verify_audit_chain(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	unsigned char key[PS_AUDIT_CHAIN_KEY_LEN];
	unsigned char prev[PS_AUDIT_HASH_LEN];
	unsigned char hash[PS_AUDIT_HASH_LEN];
	int64		expected_id;
	int64		checked = 0;
	int64		first_bad = 0;
	int64		known_head;
	Portal		cursor;
	Datum		values[3];
	bool		nulls[3] = {false, false, false};
	MemoryContext rowcxt;
	PsIdentity	identity;

	/* superuser, provsecret_admin and provsecret_auditor: every tenant */
	if (!ps_authz_allows(NULL, NULL, PS_PERM_AUDIT))
		ps_authz_deny(PS_PERM_AUDIT, NULL, NULL, NULL);
	InitMaterializedSRF(fcinfo, 0);

	/* Read before our snapshot: rows up to here must be visible. */
	known_head = ps_audit_queue_last_id(get_extension_oid("provsecret", false));

	ps_identity_enter(PS_ACT_OWNER, &identity);
	SPI_connect();
	if (!ps_audit_chain_key_load(key, false))
	{
		SPI_execute("SELECT 1 FROM provsecret.audit_event LIMIT 1", true, 1);
		if (SPI_processed > 0 || known_head > 0)
			first_bad = 1;
		goto done;
	}
	if (!chain_start(key, &expected_id, prev))
		first_bad = expected_id;

	rowcxt = AllocSetContextCreate(CurrentMemoryContext, "audit verify rows",
								   ALLOCSET_DEFAULT_SIZES);
	cursor = SPI_cursor_open_with_args(NULL,
									   "SELECT " EVENT_COLUMNS " FROM provsecret.audit_event ORDER BY id",
									   0, NULL, NULL, NULL, true, 0);
	for (;;)
	{
		uint64		i;

		SPI_cursor_fetch(cursor, true, 1000);
		if (SPI_processed == 0)
			break;
		for (i = 0; i < SPI_processed; i++)
		{
			HeapTuple	tuple = SPI_tuptable->vals[i];
			TupleDesc	desc = SPI_tuptable->tupdesc;
			PsAuditChainRow row;
			bool		isnull;
			bool		ok;
			int			f;
			MemoryContext old = MemoryContextSwitchTo(rowcxt);

			row.id = DatumGetInt64(SPI_getbinval(tuple, desc, 1, &isnull));
			row.at = DatumGetTimestampTz(SPI_getbinval(tuple, desc, 2, &isnull));
			for (f = 0; f <= PS_AF_REQUEST_ID; f++)
				row.text[f] = text_or_null(tuple, desc, 3 + f);
			row.value_version = DatumGetInt32(SPI_getbinval(tuple, desc, 11, &isnull));
			if (isnull)
				row.value_version = 0;
			row.text[PS_AF_OUTCOME] = text_or_null(tuple, desc, 12);
			row.count = DatumGetInt64(SPI_getbinval(tuple, desc, 13, &isnull));
			row.text[PS_AF_DETAIL] = text_or_null(tuple, desc, 14);

			ps_audit_chain_hash(key, prev, &row, hash);
			ok = row.id == expected_id;
			{
				Datum		d = SPI_getbinval(tuple, desc, 15, &isnull);

				ok = bytea_equals(d, isnull, prev) && ok;
				d = SPI_getbinval(tuple, desc, 16, &isnull);
				ok = bytea_equals(d, isnull, hash) && ok;
				/* Continue from the stored hash to check the rest. */
				if (!isnull && VARSIZE_ANY_EXHDR(DatumGetByteaPP(d)) == PS_AUDIT_HASH_LEN)
					memcpy(prev, VARDATA_ANY(DatumGetByteaPP(d)), PS_AUDIT_HASH_LEN);
			}
			if (!ok && first_bad == 0)
				first_bad = Min(row.id, expected_id);
			checked++;
			expected_id = row.id + 1;
			MemoryContextSwitchTo(old);
			MemoryContextReset(rowcxt);
		}
		SPI_freetuptable(SPI_tuptable);
	}
	SPI_cursor_close(cursor);

	/* Rows the worker committed before we looked must all be there. */
	if (first_bad == 0 && !IsolationUsesXactSnapshot() &&
		known_head >= expected_id)
		first_bad = expected_id;

done:
	sodium_memzero(key, sizeof(key));
	SPI_finish();
	ps_identity_leave(&identity);
	values[0] = BoolGetDatum(first_bad == 0);
	values[1] = Int64GetDatum(checked);
	values[2] = Int64GetDatum(first_bad);
	nulls[2] = first_bad == 0;
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	return (Datum) 0;
}

/*
 * audit_retain(older_than interval) -> bigint: drop the oldest events whose
 * time is before now() - older_than, up to the first newer one, and record a
 * checkpoint carrying the last dropped hash so the chain still verifies.
 */
Datum
provsecret_audit_retain(PG_FUNCTION_ARGS)
{
	Interval   *older_than = PG_GETARG_INTERVAL_P(0);
	Datum		cutoff;
	unsigned char key[PS_AUDIT_CHAIN_KEY_LEN];
	unsigned char last_hash[PS_AUDIT_HASH_LEN];
	unsigned char mac[PS_AUDIT_HASH_LEN];
	int64		through;
	int64		dropped;
	bool		isnull;
	Oid			types[4] = {INT8OID, BYTEAOID, INT8OID, BYTEAOID};
	Datum		args[4];
	Datum		cutarg;
	Oid			cuttype = TIMESTAMPTZOID;
	bytea	   *b;
	PsIdentity	identity;

	/* Dropping evidence is for the server's superusers alone. */
	if (!superuser())
		ps_authz_deny(PS_PERM_MANAGE, NULL, NULL, NULL);
	cutoff = DirectFunctionCall2(timestamptz_mi_interval,
								 TimestampTzGetDatum(GetCurrentTransactionStartTimestamp()),
								 IntervalPGetDatum(older_than));
	cutarg = cutoff;

	ps_identity_enter(PS_ACT_OWNER, &identity);
	SPI_connect();
	/* One retention at a time; events keep flowing meanwhile. */
	SPI_execute("LOCK TABLE provsecret.audit_checkpoint IN EXCLUSIVE MODE", false, 0);
	if (!ps_audit_chain_key_load(key, false))
	{
		SPI_finish();
		ps_identity_leave(&identity);
		PG_RETURN_INT64(0);
	}
	if (SPI_execute_with_args("SELECT e.id, e.hash, e.id - coalesce((SELECT max(through_id) FROM provsecret.audit_checkpoint), 0) "
							  "FROM provsecret.audit_event e "
							  "WHERE e.id < coalesce((SELECT min(id) FROM provsecret.audit_event WHERE at >= $1), "
							  "                      (SELECT max(id) + 1 FROM provsecret.audit_event)) "
							  "ORDER BY e.id DESC LIMIT 1",
							  1, &cuttype, &cutarg, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "provsecret audit: choosing the retention cut failed");
	if (SPI_processed == 0)
	{
		sodium_memzero(key, sizeof(key));
		SPI_finish();
		ps_identity_leave(&identity);
		PG_RETURN_INT64(0);
	}
	through = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	b = DatumGetByteaPP(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	dropped = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull));
	if (VARSIZE_ANY_EXHDR(b) != PS_AUDIT_HASH_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("audit event %lld has a malformed hash", (long long) through)));
	memcpy(last_hash, VARDATA_ANY(b), PS_AUDIT_HASH_LEN);
	checkpoint_mac(key, through, last_hash, dropped, mac);
	sodium_memzero(key, sizeof(key));

	args[0] = Int64GetDatum(through);
	args[1] = PointerGetDatum(palloc(VARHDRSZ + PS_AUDIT_HASH_LEN));
	SET_VARSIZE(DatumGetPointer(args[1]), VARHDRSZ + PS_AUDIT_HASH_LEN);
	memcpy(VARDATA(DatumGetPointer(args[1])), last_hash, PS_AUDIT_HASH_LEN);
	args[2] = Int64GetDatum(dropped);
	args[3] = PointerGetDatum(palloc(VARHDRSZ + PS_AUDIT_HASH_LEN));
	SET_VARSIZE(DatumGetPointer(args[3]), VARHDRSZ + PS_AUDIT_HASH_LEN);
	memcpy(VARDATA(DatumGetPointer(args[3])), mac, PS_AUDIT_HASH_LEN);
	if (SPI_execute_with_args("INSERT INTO provsecret.audit_checkpoint (through_id, last_hash, dropped, retained_by, mac) "
							  "VALUES ($1, $2, $3, session_user, $4)",
							  4, types, args, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "provsecret audit: writing the checkpoint failed");

	PG_TRY();
	{
		ps_audit_allow_delete(true);
		if (SPI_execute_with_args("DELETE FROM provsecret.audit_event WHERE id <= $1",
								  1, types, args, NULL, false, 0) != SPI_OK_DELETE)
			elog(ERROR, "provsecret audit: dropping old events failed");
	}
	PG_FINALLY();
	{
		ps_audit_allow_delete(false);
	}
	PG_END_TRY();
	SPI_finish();
	ps_identity_leave(&identity);

	{
		PsAuditEvent event = {0};

		event.action = "audit.retained";
		event.outcome = "ok";
		event.count = dropped;
		event.detail = psprintf("dropped events up to id %lld", (long long) through);
		ps_audit_record(&event, false);
	}
	PG_RETURN_INT64(dropped);
}
