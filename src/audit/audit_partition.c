/*
 * audit_partition.c: creating the monthly partitions of audit_event.
 *
 * A partition created while an extension script runs (the 0.5.0 upgrade
 * re-chaining old events) would become a member of the extension, which
 * pg_dump leaves out with its rows; creating_extension is lowered around
 * the CREATE so a partition is never a member, whoever creates it.
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "utils/datetime.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "audit/audit_partition.h"

int
ps_audit_month_of(TimestampTz at)
{
	struct pg_tm tm;
	fsec_t		fsec;

	if (timestamp2tm(at, NULL, &tm, &fsec, NULL, NULL) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("audit event time out of range")));
	return tm.tm_year * 12 + tm.tm_mon - 1;
}

TimestampTz
ps_audit_month_start(int month)
{
	struct pg_tm tm = {0};
	TimestampTz result;

	tm.tm_year = month / 12;
	tm.tm_mon = month % 12 + 1;
	tm.tm_mday = 1;
	if (tm2timestamp(&tm, 0, NULL, &result) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("audit partition month out of range")));
	return result;
}

char *
ps_audit_partition_name(int month)
{
	return psprintf("audit_event_%04d_%02d", month / 12, month % 12 + 1);
}

static char *
month_literal(int month)
{
	return psprintf("%04d-%02d-01 00:00:00+00", month / 12, month % 12 + 1);
}

bool
ps_audit_partition_ensure(const char *parent, int month)
{
	Oid			nsp = get_namespace_oid("provsecret", false);
	char	   *name = ps_audit_partition_name(month);
	char	   *sql;
	bool		was_creating = creating_extension;

	if (OidIsValid(get_relname_relid(name, nsp)))
		return false;
	/*
	 * Created on its own, then attached: ATTACH takes SHARE UPDATE EXCLUSIVE
	 * on the parent, which readers of audit_event (ACCESS SHARE) do not
	 * block, where CREATE TABLE ... PARTITION OF would wait for every one.
	 */
	sql = psprintf("CREATE TABLE provsecret.%s (LIKE provsecret.%s INCLUDING DEFAULTS INCLUDING CONSTRAINTS); "
				   "ALTER TABLE provsecret.%s ADD CONSTRAINT %s_pkey PRIMARY KEY (id, at); "
				   "CREATE INDEX %s_chain_idx ON provsecret.%s (company COLLATE \"C\", chain_seq); "
				   "CREATE INDEX %s_reference_idx ON provsecret.%s (reference COLLATE \"C\", at); "
				   "CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE OR TRUNCATE "
				   "ON provsecret.%s FOR EACH STATEMENT EXECUTE FUNCTION provsecret.audit_guard(); "
				   "ALTER TABLE provsecret.%s ENABLE ALWAYS TRIGGER audit_event_append_only; "
				   "CREATE TRIGGER write_guard BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE "
				   "ON provsecret.%s FOR EACH STATEMENT EXECUTE FUNCTION provsecret.write_guard(); "
				   "ALTER TABLE provsecret.%s ENABLE ALWAYS TRIGGER write_guard; "
				   "COMMENT ON TRIGGER write_guard ON provsecret.%s IS "
				   "'refuses direct writes: only provsecret''s own functions and workers "
				   "(and superusers, for restore) write this table'; "
				   "COMMENT ON TABLE provsecret.%s IS 'audit events of one month (UTC), "
				   "a partition of provsecret.audit_event created by the audit worker'; "
				   "REVOKE ALL ON provsecret.%s FROM PUBLIC; "
				   "ALTER TABLE provsecret.%s ENABLE ROW LEVEL SECURITY; "
				   "ALTER TABLE provsecret.%s FORCE ROW LEVEL SECURITY; "
				   "CREATE POLICY audit_event_audit ON provsecret.%s FOR SELECT "
				   "USING (provsecret.has_permission(company, project, 'audit')); "
				   "ALTER TABLE provsecret.%s ATTACH PARTITION provsecret.%s "
				   "FOR VALUES FROM ('%s') TO ('%s')",
				   name, parent, name, name, name, name, name, name,
				   name, name, name, name, name, name, name, name, name, name,
				   parent, name, month_literal(month), month_literal(month + 1));
	creating_extension = false;
	PG_TRY();
	{
		if (SPI_execute(sql, false, 0) < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg_internal("provsecret audit: creating partition %s failed", name)));
	}
	PG_FINALLY();
	{
		creating_extension = was_creating;
	}
	PG_END_TRY();
	return true;
}

/*
 * Months known to have a partition, [known_low, known_high]; empty when
 * known_low > known_high.  Kept by the worker across batches.
 */
static int	known_low = 1;
static int	known_high = 0;

void
ps_audit_partition_forget(void)
{
	known_low = 1;
	known_high = 0;
}

void
ps_audit_partition_ensure_cached(int month)
{
	if (month >= known_low && month <= known_high)
		return;
	ps_audit_partition_ensure("audit_event", month);
	/* Past months may be dropped by audit_retain() at any time: not kept. */
	if (month < ps_audit_month_of(GetCurrentTimestamp()))
		return;
	/* Extend the known range only where it stays contiguous. */
	if (known_low > known_high)
		known_low = known_high = month;
	else if (month == known_high + 1)
		known_high = month;
	else if (month == known_low - 1)
		known_low = month;
}
