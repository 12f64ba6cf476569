/*
 * audit_sequences.c: the extension's sequences, set back by someone who may
 * (a member of pg_write_all_data can setval() any sequence, and neither a
 * privilege nor a trigger stops it), are moved past the ids in use by the
 * audit worker, so a set-back sequence costs at most a few seconds of
 * failed inserts instead of stalling the chain.
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "audit/audit_sequences.h"
#include "core/provsecret.h"

static SPIPlanPtr repair_plan = NULL;

/*
 * Ids come from provsecret.audit_event_id_seq, which a member of
 * pg_write_all_data may setval() (no privilege or trigger stops that): set
 * back, it would hand out ids events already have, and every batch would
 * fail on the duplicate.  Before each batch, move the sequence past every
 * committed id if it is not already; pending rows that took an id in the
 * meantime get a new one when moved.  In normal operation the sequence is
 * always ahead and this only reads two index ends and the sequence.
 */
void
ps_audit_repair_id_sequence(int64 high_water)
{
	bool		isnull;
	int64		last;
	Datum		pending;

	/*
	 * The full check reads the newest id of every partition of audit_event,
	 * which costs more the more partitions there are; it runs only when the
	 * sequence is behind an id this worker wrote or one waiting in
	 * audit_pending (both cheap to read), or the worker knows none yet.
	 */
	if (high_water > 0)
	{
		if (SPI_execute("SELECT s.last_value OPERATOR(pg_catalog.-) (NOT s.is_called)::pg_catalog.int4, "
						"(SELECT pg_catalog.max(id) FROM provsecret.audit_pending) "
						"FROM provsecret.audit_event_id_seq s", true, 1) != SPI_OK_SELECT ||
			SPI_processed != 1)
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg_internal("provsecret audit: reading the event id sequence failed")));
		last = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		pending = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
		if (last >= high_water && (isnull || last >= DatumGetInt64(pending)))
			return;
	}
	if (repair_plan == NULL)
	{
		repair_plan = SPI_prepare("SELECT pg_catalog.setval('provsecret.audit_event_id_seq'::pg_catalog.regclass, m.id) "
								  "FROM (SELECT pg_catalog.max(u.id) AS id FROM "
								  "       (SELECT pg_catalog.max(id) AS id FROM provsecret.audit_event "
								  "        UNION ALL SELECT pg_catalog.max(id) FROM provsecret.audit_pending) u) m, "
								  "     provsecret.audit_event_id_seq s "
								  "WHERE m.id OPERATOR(pg_catalog.>) s.last_value "
								  "   OR (m.id OPERATOR(pg_catalog.=) s.last_value AND NOT s.is_called)",
								  0, NULL);
		if (repair_plan == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg_internal("provsecret audit: preparing the event id check failed")));
		SPI_keepplan(repair_plan);
	}
	if (SPI_execute_plan(repair_plan, NULL, NULL, false, 0) != SPI_OK_SELECT)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg_internal("provsecret audit: checking the event id sequence failed")));
	if (SPI_processed > 0)
		ereport(WARNING,
				(errmsg("provsecret audit: the event id sequence had been set back; moved it past the ids in use")));
}

void
ps_audit_forget_id_sequence_plan(void)
{
	if (repair_plan != NULL)
		SPI_freeplan(repair_plan);
	repair_plan = NULL;
}

/*
 * The same for every other sequence a column of the extension's tables owns
 * (data keys, secrets, checkpoints): set back, it would make the inserts of
 * new tenants, secrets or checkpoints fail on a duplicate id until it caught
 * up.  Checked every PENDING_POLL_MS in a transaction of its own, after the
 * round's events were acknowledged, so it never delays a reveal.
 */
static void
repair_owned_sequences(void)
{
	uint64		n;
	char	  **statements;

	if (SPI_execute("SELECT pg_catalog.format("
					"  'SELECT pg_catalog.setval(%L::pg_catalog.regclass, m.id) "
					"FROM (SELECT pg_catalog.max(%I) AS id FROM %I.%I) m, %I.%I s "
					"WHERE m.id OPERATOR(pg_catalog.>) s.last_value "
					"OR (m.id OPERATOR(pg_catalog.=) s.last_value AND NOT s.is_called)',"
					"  pg_catalog.quote_ident(sn.nspname) OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||) pg_catalog.quote_ident(s.relname),"
					"  a.attname, tn.nspname, t.relname, sn.nspname, s.relname) "
					"FROM pg_catalog.pg_depend d "
					"JOIN pg_catalog.pg_class s ON s.oid OPERATOR(pg_catalog.=) d.objid "
					"JOIN pg_catalog.pg_namespace sn ON sn.oid OPERATOR(pg_catalog.=) s.relnamespace "
					"JOIN pg_catalog.pg_class t ON t.oid OPERATOR(pg_catalog.=) d.refobjid "
					"JOIN pg_catalog.pg_namespace tn ON tn.oid OPERATOR(pg_catalog.=) t.relnamespace "
					"JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) t.oid "
					"  AND a.attnum OPERATOR(pg_catalog.=) d.refobjsubid "
					"WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass "
					"  AND d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass "
					"  AND d.deptype OPERATOR(pg_catalog.=) ANY (ARRAY['a', 'i']::pg_catalog.\"char\"[]) "
					"  AND s.relkind OPERATOR(pg_catalog.=) 'S' "
					"  AND sn.nspname OPERATOR(pg_catalog.=) 'provsecret' "
					"  AND tn.nspname OPERATOR(pg_catalog.=) 'provsecret' "
					"  AND a.atttypid OPERATOR(pg_catalog.=) ANY (ARRAY['pg_catalog.int8'::pg_catalog.regtype, "
					"      'pg_catalog.int4'::pg_catalog.regtype, 'pg_catalog.int2'::pg_catalog.regtype]::pg_catalog.oid[]) "
					"ORDER BY 1", true, 0) != SPI_OK_SELECT)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg_internal("provsecret audit: listing the extension's sequences failed")));
	n = SPI_processed;
	statements = palloc(sizeof(char *) * Max(n, 1));
	for (uint64 i = 0; i < n; i++)
		statements[i] = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
	for (uint64 i = 0; i < n; i++)
	{
		if (SPI_execute(statements[i], false, 0) != SPI_OK_SELECT)
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg_internal("provsecret audit: checking a sequence failed")));
		if (SPI_processed > 0)
			ereport(WARNING,
					(errmsg("provsecret audit: a sequence of the extension had been set back; moved it past the ids in use")));
	}
}

void
ps_audit_check_owned_sequences(void)
{
	MemoryContext oldcxt = CurrentMemoryContext;

	if (RecoveryInProgress())
		return;
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PG_TRY();
	{
		SPI_connect();
		PushActiveSnapshot(GetTransactionSnapshot());
		if (OidIsValid(get_extension_oid("provsecret", true)))
			repair_owned_sequences();
		SPI_finish();
		PopActiveSnapshot();
		CommitTransactionCommand();
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(oldcxt);
		EmitErrorReport();
		FlushErrorState();
		AbortCurrentTransaction();
	}
	PG_END_TRY();
	MemoryContextSwitchTo(oldcxt);
}
