/*
 * query.c: prepared SPI statements.
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"

#include "core/provsecret.h"
#include "core/query.h"

SPIPlanPtr
ps_query_plan(SPIPlanPtr *slot, const char *sql, int nargs, const Oid *argtypes)
{
	if (*slot == NULL)
	{
		SPIPlanPtr	plan = SPI_prepare(sql, nargs, (Oid *) argtypes);

		if (plan == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("provsecret: could not prepare an internal statement: %s",
							SPI_result_code_string(SPI_result))));
		if (SPI_keepplan(plan) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("provsecret: could not keep an internal statement")));
		*slot = plan;
	}
	return *slot;
}

/* An SPI result, or the error every internal statement raises. */
static int
checked(int rc)
{
	if (rc < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("provsecret: an internal statement failed: %s",
						SPI_result_code_string(rc))));
	return rc;
}

int
ps_query_run(SPIPlanPtr plan, Datum *values, const char *nulls, bool read_only,
			 long count)
{
	return checked(SPI_execute_plan(plan, values, nulls, read_only, count));
}

int
ps_query_run_latest(SPIPlanPtr plan, Datum *values, const char *nulls,
					long count)
{
	return checked(SPI_execute_snapshot(plan, values, nulls, GetLatestSnapshot(),
										InvalidSnapshot, false, true, count));
}

/* Two catalog cache probes: cheap enough to ask on every statement. */
int
ps_schema_keyed(void)
{
	Oid			namespace = get_namespace_oid("provsecret", true);
	Oid			relid;

	if (!OidIsValid(namespace))
		return 1;
	relid = get_relname_relid("access_grant", namespace);
	return OidIsValid(relid) && get_attnum(relid, "company") != InvalidAttrNumber;
}

char *
ps_query_text(int row, int col)
{
	return SPI_getvalue(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col);
}

Datum
ps_query_datum(int row, int col, bool *isnull)
{
	return SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col,
						 isnull);
}

bytea *
ps_query_bytea_copy(int row, int col, MemoryContext context)
{
	bool		isnull;
	Datum		value = ps_query_datum(row, col, &isnull);
	MemoryContext old;
	bytea	   *copy;

	if (isnull)
		return NULL;
	/* detoast in the caller's context: SPI_finish frees SPI's memory */
	old = MemoryContextSwitchTo(context);
	copy = DatumGetByteaPCopy(value);
	MemoryContextSwitchTo(old);
	return copy;
}
