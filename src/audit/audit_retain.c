/*
 * audit_retain.c: audit_retain() on the partitioned audit_event.
 *
 * One retention at a time (EXCLUSIVE lock on audit_checkpoint).  The rows of
 * the partitions to drop are read once, grouped by chain; then a checkpoint
 * per chain is written and the partitions are dropped, in the caller's
 * transaction.  Dropping a partition takes a short ACCESS EXCLUSIVE lock on
 * audit_event, which waits for readers; lock_timeout bounds that wait so
 * the audit worker is never held up for long (the call then fails and can
 * be repeated).
 */
#include "postgres.h"

#include <sodium.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/timestamp.h"

#include "audit/audit_chain.h"
#include "audit/audit_key.h"
#include "audit/audit_partition.h"
#include "audit/audit_retain.h"
#include "core/identity.h"

/* How long retention waits for the lock that drops a partition. */
#define RETAIN_LOCK_TIMEOUT "2s"

static SPIPlanPtr checkpoint_plan = NULL;

typedef struct RetainRun
{
	TimestampTz cutoff;
	int64		dropped;
	int			partitions;
	int			chains;
} RetainRun;

/* Months (audit_partition.h) of the partitions ending at or before cutoff. */
static int *
partitions_to_drop(TimestampTz cutoff, int *count)
{
	int		   *months;
	int			n = 0;

	if (SPI_execute("SELECT c.relname FROM pg_catalog.pg_inherits i "
					"JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) i.inhrelid "
					"WHERE i.inhparent OPERATOR(pg_catalog.=) 'provsecret.audit_event'::pg_catalog.regclass "
					"AND c.relname OPERATOR(pg_catalog.~) '^audit_event_[0-9]{4}_[0-9]{2}$' "
					"ORDER BY c.relname", true, 0) != SPI_OK_SELECT)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg_internal("provsecret audit: listing partitions failed")));
	months = palloc(sizeof(int) * Max(SPI_processed, 1));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		char	   *name = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
		int			year = atoi(name + strlen("audit_event_"));
		int			month = atoi(name + strlen("audit_event_0000_"));
		int			m = year * 12 + month - 1;

		if (ps_audit_month_start(m + 1) <= cutoff)
			months[n++] = m;
	}
	*count = n;
	return months;
}

/* The chain's newest checkpoint, MAC checked; false if none. */
static bool
previous_checkpoint(const char *chain, const PsAuditKeyEpoch *epochs, int nepochs,
					unsigned char *key, int64 *through, unsigned char *hash)
{
	Oid			type = TEXTOID;
	Datum		arg = CStringGetTextDatum(chain);
	HeapTuple	t;
	TupleDesc	d;
	bool		isnull;
	int32		epoch;
	bytea	   *h;
	unsigned char mac[PS_AUDIT_HASH_LEN];
	int			i;

	/* Planned once per run (freed with the run's SPI connection). */
	if (checkpoint_plan == NULL)
		checkpoint_plan = SPI_prepare("SELECT through_seq, last_hash, dropped, kept_before, mac, key_epoch "
									  "FROM provsecret.audit_checkpoint WHERE chain OPERATOR(pg_catalog.=) $1 "
									  "ORDER BY through_seq DESC, id DESC LIMIT 1", 1, &type);
	if (checkpoint_plan == NULL ||
		SPI_execute_plan(checkpoint_plan, &arg, NULL, true, 1) != SPI_OK_SELECT)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg_internal("provsecret audit: reading checkpoints failed")));
	if (SPI_processed == 0)
		return false;
	t = SPI_tuptable->vals[0];
	d = SPI_tuptable->tupdesc;
	*through = DatumGetInt64(SPI_getbinval(t, d, 1, &isnull));
	h = DatumGetByteaPP(SPI_getbinval(t, d, 2, &isnull));
	epoch = DatumGetInt32(SPI_getbinval(t, d, 6, &isnull));
	for (i = 0; i < nepochs && epochs[i].epoch != epoch; i++)
		;
	if (VARSIZE_ANY_EXHDR(h) != PS_AUDIT_HASH_LEN || i == nepochs)
		goto forged;
	memcpy(hash, VARDATA_ANY(h), PS_AUDIT_HASH_LEN);
	ps_audit_key_unwrap_epoch(&epochs[i], key);
	ps_audit_checkpoint_mac(key, chain, *through, hash,
							DatumGetInt64(SPI_getbinval(t, d, 3, &isnull)),
							DatumGetInt64(SPI_getbinval(t, d, 4, &isnull)), mac);
	if (ps_audit_hash_equals(SPI_getbinval(t, d, 5, &isnull), isnull, mac))
		return true;
forged:
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("the newest audit checkpoint of chain \"%s\" does not verify", chain),
			 errhint("Run provsecret.verify_audit_chain() and investigate before dropping more events.")));
	return false;
}

/* Events of the chain before position through kept in newer partitions. */
static int64
count_kept(const char *chain, int64 through, TimestampTz boundary)
{
	Oid			types[3] = {TEXTOID, INT8OID, TIMESTAMPTZOID};
	Datum		args[3];
	bool		isnull;

	args[0] = CStringGetTextDatum(chain);
	args[1] = Int64GetDatum(through);
	args[2] = TimestampTzGetDatum(boundary);
	if (SPI_execute_with_args(chain[0] == '\0'
							  ? "SELECT pg_catalog.count(*) FROM provsecret.audit_event WHERE company IS NULL "
							  "AND $1 OPERATOR(pg_catalog.=) '' AND chain_seq OPERATOR(pg_catalog.<) $2 AND at OPERATOR(pg_catalog.>=) $3"
							  : "SELECT pg_catalog.count(*) FROM provsecret.audit_event WHERE company COLLATE \"C\" OPERATOR(pg_catalog.=) $1 "
							  "AND chain_seq OPERATOR(pg_catalog.<) $2 AND at OPERATOR(pg_catalog.>=) $3",
							  3, types, args, NULL, true, 1) != SPI_OK_SELECT)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg_internal("provsecret audit: counting kept events failed")));
	return DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

static void
retain_keyed(unsigned char *key, void *arg)
{
	RetainRun  *run = (RetainRun *) arg;
	PsIdentity	identity;
	PsAuditKeyEpoch *epochs;
	int			nepochs;
	int		   *months;
	int			nmonths;
	int			last;
	Oid			types[6] = {TIMESTAMPTZOID, TEXTOID, INT8OID, BYTEAOID, INT8OID, INT8OID};
	Datum		args[6];
	SPITupleTable *groups;
	uint64		ngroups;
	int32		epoch = 0;
	char	   *saved_timeout;
	TimestampTz boundary;
	SPIPlanPtr	insert = NULL;

	ps_identity_enter(PS_ACT_OWNER, &identity);
	SPI_connect();
	checkpoint_plan = NULL;
	SPI_execute("LOCK TABLE provsecret.audit_checkpoint IN EXCLUSIVE MODE", false, 0);
	months = partitions_to_drop(run->cutoff, &nmonths);
	epochs = ps_audit_key_epochs(&nepochs);
	if (nmonths == 0)
		goto done;
	last = months[0];
	for (int i = 1; i < nmonths; i++)
		last = Max(last, months[i]);
	/*
	 * Per chain with events in the partitions to drop (at before the
	 * boundary): its newest dropped position, that row's hash, how many go,
	 * how many of its older events stay in newer partitions, and its newest
	 * checkpoint so far; one statement, probing each chain's index range.
	 */
	boundary = ps_audit_month_start(last + 1);
	args[0] = TimestampTzGetDatum(boundary);
	if (SPI_execute_with_args("SELECT coalesce(g.company, ''), g.through, g.n, "
							  "  pg_catalog.decode(pg_catalog.substr(g.top, 20), 'hex'), "
							  "  CASE WHEN g.company IS NULL "
							  "   THEN (SELECT pg_catalog.count(*) FROM provsecret.audit_event k WHERE k.company IS NULL "
							  "         AND k.chain_seq OPERATOR(pg_catalog.<) g.through AND k.at OPERATOR(pg_catalog.>=) $1) "
							  "   ELSE (SELECT pg_catalog.count(*) FROM provsecret.audit_event k WHERE k.company COLLATE \"C\" OPERATOR(pg_catalog.=) g.company "
							  "         AND k.chain_seq OPERATOR(pg_catalog.<) g.through AND k.at OPERATOR(pg_catalog.>=) $1) END "
							  /* the newest row's hash in the same pass: max of position||hash */
							  "FROM (SELECT company, pg_catalog.max(chain_seq) AS through, pg_catalog.count(*) AS n, "
							  "             pg_catalog.max(pg_catalog.lpad(chain_seq::pg_catalog.text, 19, '0') "
							  "                 OPERATOR(pg_catalog.||) pg_catalog.encode(hash, 'hex') COLLATE \"C\") AS top "
							  "        FROM provsecret.audit_event WHERE at OPERATOR(pg_catalog.<) $1 GROUP BY company) g "
							  "ORDER BY 1",
							  1, types, args, NULL, true, 0) != SPI_OK_SELECT)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg_internal("provsecret audit: reading the events to drop failed")));
	groups = SPI_tuptable;
	ngroups = SPI_processed;
	if (ngroups > 0 && nepochs == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the audit events have no chain key")));
	if (nepochs > 0)
	{
		epoch = epochs[nepochs - 1].epoch;
		types[0] = BYTEAOID;
		insert = SPI_prepare(psprintf("INSERT INTO provsecret.audit_checkpoint "
									  "(chain, through_seq, last_hash, dropped, kept_before, retained_by, mac, key_epoch) "
									  "VALUES ($2, $3, $4, $5, $6, session_user, $1, %d)", epoch),
							 6, types);
		if (insert == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg_internal("provsecret audit: preparing the checkpoint insert failed")));
	}
	for (uint64 g = 0; g < ngroups; g++)
	{
		HeapTuple	t = groups->vals[g];
		TupleDesc	d = groups->tupdesc;
		char	   *chain = SPI_getvalue(t, d, 1);
		bool		isnull;
		int64		through = DatumGetInt64(SPI_getbinval(t, d, 2, &isnull));
		int64		count = DatumGetInt64(SPI_getbinval(t, d, 3, &isnull));
		Datum		h = SPI_getbinval(t, d, 4, &isnull);
		int64		kept_before = DatumGetInt64(SPI_getbinval(t, d, 5, &isnull));
		int64		old_through;
		unsigned char hash[PS_AUDIT_HASH_LEN];
		unsigned char old_hash[PS_AUDIT_HASH_LEN];
		unsigned char mac[PS_AUDIT_HASH_LEN];

		if (isnull || VARSIZE_ANY_EXHDR(DatumGetByteaPP(h)) != PS_AUDIT_HASH_LEN)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("audit chain \"%s\" position %lld has a malformed hash",
							chain, (long long) through)));
		memcpy(hash, VARDATA_ANY(DatumGetByteaPP(h)), PS_AUDIT_HASH_LEN);
		if (previous_checkpoint(chain, epochs, nepochs, key, &old_through, old_hash) &&
			old_through >= through)
		{
			/* Only events kept at the last cut go now: the cut stays. */
			through = old_through;
			memcpy(hash, old_hash, PS_AUDIT_HASH_LEN);
			kept_before = count_kept(chain, through, boundary);
		}
		ps_audit_key_unwrap_epoch(&epochs[nepochs - 1], key);
		ps_audit_checkpoint_mac(key, chain, through, hash, count, kept_before, mac);
		args[0] = ps_audit_hash_datum(mac);
		args[1] = CStringGetTextDatum(chain);
		args[2] = Int64GetDatum(through);
		args[3] = ps_audit_hash_datum(hash);
		args[4] = Int64GetDatum(count);
		args[5] = Int64GetDatum(kept_before);
		if (SPI_execute_plan(insert, args, NULL, false, 0) != SPI_OK_INSERT)
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg_internal("provsecret audit: writing a checkpoint failed")));
		run->dropped += count;
		run->chains++;
	}
	sodium_memzero(key, PS_AUDIT_CHAIN_KEY_LEN);

	saved_timeout = pstrdup(GetConfigOption("lock_timeout", false, false));
	SPI_execute("SET LOCAL lock_timeout = '" RETAIN_LOCK_TIMEOUT "'", false, 0);
	for (int i = 0; i < nmonths; i++)
	{
		if (SPI_execute(psprintf("DROP TABLE provsecret.%s", ps_audit_partition_name(months[i])),
						false, 0) != SPI_OK_UTILITY)
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg_internal("provsecret audit: dropping a partition failed")));
		run->partitions++;
	}
	SPI_execute(psprintf("SELECT pg_catalog.set_config('lock_timeout', %s, true)",
						 quote_literal_cstr(saved_timeout)), false, 0);
done:
	SPI_finish();
	checkpoint_plan = NULL;
	ps_identity_leave(&identity);
}

int64
ps_audit_retain_partitions(TimestampTz cutoff, int *partitions, int *chains)
{
	RetainRun	run = {cutoff, 0, 0, 0};

	ps_audit_with_key_buffer(retain_keyed, &run);
	*partitions = run.partitions;
	*chains = run.chains;
	return run.dropped;
}
