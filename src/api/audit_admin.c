/*
 * audit_admin.c: the SQL functions over the audit chain that need
 * authorization: verify_audit_chain() and audit_retain().  The chain itself
 * (hashing, verification, retention, the append-only guard) is
 * audit/audit_chain.c's.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "audit/audit.h"
#include "audit/audit_legacy.h"
#include "audit/audit_retain.h"
#include "audit/audit_verify.h"
#include "core/provsecret.h"
#include "tenancy/authz.h"

PG_FUNCTION_INFO_V1(provsecret_verify_audit_chain);
PG_FUNCTION_INFO_V1(provsecret_audit_retain);
PG_FUNCTION_INFO_V1(provsecret_verify_audit_chains);
PG_FUNCTION_INFO_V1(provsecret_audit_retain_partitions);

/*
 * verify_audit_chain() -> (company, ok, checked, first_bad_id), one row per
 * chain; verify_audit_chain(company text): that company's chain (NULL: the
 * global chain); verify_audit_chain(incremental boolean): every chain, from
 * where it was last verified when true.
 */
Datum
provsecret_verify_audit_chains(PG_FUNCTION_ARGS)
{
	PsAuditVerifyScope scope = PS_VERIFY_ALL;
	const char *company = NULL;

	/* superuser, provsecret_admin and provsecret_auditor: every tenant */
	if (!ps_authz_allows(NULL, NULL, PS_PERM_AUDIT))
		ps_authz_deny(PS_PERM_AUDIT, NULL, NULL, NULL);
	if (PG_NARGS() == 1 && get_fn_expr_argtype(fcinfo->flinfo, 0) == BOOLOID)
		scope = PG_GETARG_BOOL(0) ? PS_VERIFY_INCREMENTAL : PS_VERIFY_ALL;
	else if (PG_NARGS() == 1)
	{
		scope = PS_VERIFY_ONE;
		company = PG_ARGISNULL(0) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(0));
	}
	InitMaterializedSRF(fcinfo, 0);
	ps_audit_verify_chains(scope, company, (ReturnSetInfo *) fcinfo->resultinfo);
	return (Datum) 0;
}

/*
 * audit_retain(older_than interval) -> bigint on 0.5.0: drop the monthly
 * partitions that end at or before now() - older_than, with a checkpoint
 * per chain; an audit.retained event says what went.
 */
Datum
provsecret_audit_retain_partitions(PG_FUNCTION_ARGS)
{
	Interval   *older_than = PG_GETARG_INTERVAL_P(0);
	Datum		cutoff;
	int64		dropped;
	int			partitions;
	int			chains;

	/* Dropping evidence is for the server's superusers alone. */
	if (!superuser())
		ps_authz_deny(PS_PERM_MANAGE, NULL, NULL, NULL);
	cutoff = DirectFunctionCall2(timestamptz_mi_interval,
								 TimestampTzGetDatum(GetCurrentTransactionStartTimestamp()),
								 IntervalPGetDatum(older_than));
	dropped = ps_audit_retain_partitions(DatumGetTimestampTz(cutoff), &partitions, &chains);
	if (partitions > 0)
	{
		PsAuditEvent event = {0};

		event.action = "audit.retained";
		event.outcome = "ok";
		event.count = dropped;
		event.detail = psprintf("dropped %d monthly partitions ending before %s: %lld events of %d chains, a checkpoint each",
								partitions, timestamptz_to_str(DatumGetTimestampTz(cutoff)),
								(long long) dropped, chains);
		ps_audit_record(&event, false);
	}
	PG_RETURN_INT64(dropped);
}

/*
 * 0.4.0's verify_audit_chain() -> (ok, checked, first_bad_id), for a schema
 * not yet updated: walk the chain in
 * chain_seq order.  first_bad_id is the id of the first row that was
 * edited, moved, or follows a removed row; for rows removed from the end,
 * the id of the newest event the worker committed.
 */
Datum
provsecret_verify_audit_chain(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Datum		values[3];
	bool		nulls[3] = {false, false, false};
	int64		checked;
	int64		first_bad;
	bool		ok;

	/* superuser, provsecret_admin and provsecret_auditor: every tenant */
	if (!ps_authz_allows(NULL, NULL, PS_PERM_AUDIT))
		ps_authz_deny(PS_PERM_AUDIT, NULL, NULL, NULL);
	InitMaterializedSRF(fcinfo, 0);

	ok = ps_audit_legacy_verify(&checked, &first_bad);

	values[0] = BoolGetDatum(ok);
	values[1] = Int64GetDatum(checked);
	values[2] = Int64GetDatum(first_bad);
	nulls[2] = first_bad == 0;
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	return (Datum) 0;
}

/*
 * 0.4.0's audit_retain(older_than interval) -> bigint: drop the oldest events whose
 * time is before now() - older_than, up to the first newer one, and record a
 * checkpoint carrying the last dropped hash so the chain still verifies.
 */
Datum
provsecret_audit_retain(PG_FUNCTION_ARGS)
{
	Interval   *older_than = PG_GETARG_INTERVAL_P(0);
	Datum		cutoff;
	int64		dropped;
	int64		through;

	/* Dropping evidence is for the server's superusers alone. */
	if (!superuser())
		ps_authz_deny(PS_PERM_MANAGE, NULL, NULL, NULL);
	cutoff = DirectFunctionCall2(timestamptz_mi_interval,
								 TimestampTzGetDatum(GetCurrentTransactionStartTimestamp()),
								 IntervalPGetDatum(older_than));

	if (!ps_audit_legacy_retain(DatumGetTimestampTz(cutoff), &dropped, &through))
		PG_RETURN_INT64(0);

	{
		PsAuditEvent event = {0};

		event.action = "audit.retained";
		event.outcome = "ok";
		event.count = dropped;
		event.detail = psprintf("dropped events up to chain position %lld", (long long) through);
		ps_audit_record(&event, false);
	}
	PG_RETURN_INT64(dropped);
}
