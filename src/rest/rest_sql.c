/*
 * rest_sql.c: metadata reads of the REST routes, through SPI on the views.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"

#include "core/provsecret.h"
#include "rest/rest_sql.h"

/* Plans kept for the worker's life: a request must not parse SQL. */
static SPIPlanPtr plan_secret = NULL;
static SPIPlanPtr plan_company = NULL;
static SPIPlanPtr plan_project = NULL;
static SPIPlanPtr plan_versions = NULL;

static SPIPlanPtr
keep_plan(SPIPlanPtr *plan, const char *query)
{
	Oid			argtypes[1] = {TEXTOID};

	if (*plan == NULL)
	{
		SPIPlanPtr	p = SPI_prepare(query, 1, argtypes);

		if (p == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg_internal("could not prepare a REST metadata query: %s", SPI_result_code_string(SPI_result))));
		SPI_keepplan(p);
		*plan = p;
	}
	return *plan;
}

/* updated_at as RFC 3339 in UTC, the form Vault's metadata uses */
#define UPDATED_AT "pg_catalog.to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"

static char *
copy_column(HeapTuple tup, TupleDesc desc, int col, MemoryContext cxt)
{
	char	   *v = SPI_getvalue(tup, desc, col);

	return v ? MemoryContextStrdup(cxt, v) : NULL;
}

static void
fill(PsSecretMeta *m, HeapTuple tup, TupleDesc desc, MemoryContext cxt)
{
	char	   *version = SPI_getvalue(tup, desc, 4);

	m->name = copy_column(tup, desc, 1, cxt);
	m->reference = copy_column(tup, desc, 2, cxt);
	m->description = copy_column(tup, desc, 3, cxt);
	m->value_version = version ? pg_strtoint32(version) : 0;
	m->updated_at = copy_column(tup, desc, 5, cxt);
}

bool
ps_rest_sql_secret(const char *reference, PsSecretMeta *out)
{
	Datum		args[1] = {CStringGetTextDatum(reference)};
	MemoryContext cxt = CurrentMemoryContext;
	bool		found;
	SPIPlanPtr	plan;

	memset(out, 0, sizeof(*out));
	SPI_connect();
	plan = keep_plan(&plan_secret,
					 "SELECT name, reference, description, value_version, " UPDATED_AT " "
					 "FROM provsecret.secrets WHERE reference OPERATOR(pg_catalog.=) $1");
	if (SPI_execute_plan(plan, args, NULL, true, 1) != SPI_OK_SELECT)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg_internal("could not read secret metadata")));
	found = SPI_processed == 1;
	if (found)
		fill(out, SPI_tuptable->vals[0], SPI_tuptable->tupdesc, cxt);
	SPI_finish();
	return found;
}

List *
ps_rest_sql_list(bool company, const char *owner)
{
	Datum		args[1] = {CStringGetTextDatum(owner)};
	MemoryContext cxt = CurrentMemoryContext;
	List	   *result = NIL;
	SPIPlanPtr	plan;

	SPI_connect();
	plan = company ?
		keep_plan(&plan_company,
				  "SELECT name, reference, description, value_version, " UPDATED_AT " "
				  "FROM provsecret.secrets WHERE scope OPERATOR(pg_catalog.=) 'company' "
				  "AND company OPERATOR(pg_catalog.=) $1 ORDER BY name COLLATE \"C\"") :
		keep_plan(&plan_project,
				  "SELECT name, reference, description, value_version, " UPDATED_AT " "
				  "FROM provsecret.secrets WHERE scope OPERATOR(pg_catalog.=) 'project' "
				  "AND project OPERATOR(pg_catalog.=) $1 ORDER BY name COLLATE \"C\"");
	if (SPI_execute_plan(plan, args, NULL, true, 0) != SPI_OK_SELECT)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg_internal("could not list secrets")));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		PsSecretMeta *m = MemoryContextAllocZero(cxt, sizeof(PsSecretMeta));
		MemoryContext old;

		fill(m, SPI_tuptable->vals[i], SPI_tuptable->tupdesc, cxt);
		/* SPI_finish frees its own context: keep the list in the caller's */
		old = MemoryContextSwitchTo(cxt);
		result = lappend(result, m);
		MemoryContextSwitchTo(old);
	}
	SPI_finish();
	return result;
}

List *
ps_rest_sql_versions(const char *reference)
{
	Datum		args[1] = {CStringGetTextDatum(reference)};
	MemoryContext cxt = CurrentMemoryContext;
	List	   *result = NIL;
	SPIPlanPtr	plan;

	SPI_connect();
	plan = keep_plan(&plan_versions,
					 "SELECT value_version, pg_catalog.to_char(created_at AT TIME ZONE 'UTC', "
					 "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') FROM provsecret.versions($1)");
	if (SPI_execute_plan(plan, args, NULL, true, 0) != SPI_OK_SELECT)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg_internal("could not list secret versions")));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		PsSecretMeta *m = MemoryContextAllocZero(cxt, sizeof(PsSecretMeta));
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		char	   *version = SPI_getvalue(tup, desc, 1);
		MemoryContext old;

		m->value_version = version ? pg_strtoint32(version) : 0;
		m->updated_at = copy_column(tup, desc, 2, cxt);
		old = MemoryContextSwitchTo(cxt);
		result = lappend(result, m);
		MemoryContextSwitchTo(old);
	}
	SPI_finish();
	return result;
}
