/*
 * rest_sql.c: metadata reads of the REST routes, through SPI.
 *
 * They read the tables the secrets view unions, as provsecret_service (so
 * row-level security decides what is visible, as through the view; on
 * Citus as the owner, the routes' own describe check deciding), with
 * the tenant's company in the filter: one company's rows, by the indexes
 * that lead with company.  The view's company column hides a project's own
 * company and so cannot be used in an index condition.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"

#include "core/identity.h"
#include "core/provsecret.h"
#include "core/query.h"
#include "rest/rest_sql.h"
#include "tenancy/tenant.h"

/* Plans kept for the worker's life: a request must not parse SQL. */
/* [ps_schema_keyed()]: before and after 0.5.0's upgrade script */
static SPIPlanPtr plan_secret[2];
static SPIPlanPtr plan_company[2];
static SPIPlanPtr plan_project[2];
static SPIPlanPtr plan_versions = NULL;

/* Every query takes text parameters: $1 reference or owner, $2 company. */
static SPIPlanPtr
keep_plan(SPIPlanPtr *plan, const char *query, int nargs)
{
	Oid			argtypes[2] = {TEXTOID, TEXTOID};

	if (*plan == NULL)
	{
		SPIPlanPtr	p = SPI_prepare(query, nargs, argtypes);

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

#define META_COLUMNS "name, reference, description, value_version, updated_at"

bool
ps_rest_sql_secret(const char *reference, PsSecretMeta *out)
{
	PsReference ref;
	PsTenant	tenant;
	Datum		args[2];
	MemoryContext cxt = CurrentMemoryContext;
	PsIdentity	identity;
	bool		found;
	int			keyed;
	SPIPlanPtr	plan;

	memset(out, 0, sizeof(*out));
	ps_parse_reference_or_error(reference, &ref);
	tenant = ps_tenant_of(ref.scope, ref.owner);
	args[0] = CStringGetTextDatum(reference);
	args[1] = CStringGetTextDatum(ps_tenant_row_company(&tenant));
	ps_identity_enter(PS_ACT_SERVICE, &identity);
	SPI_connect();
	keyed = ps_schema_keyed();
	plan = !keyed ?
		keep_plan(&plan_secret[0],
				  "SELECT name, reference, description, value_version, " UPDATED_AT " "
				  "FROM provsecret.secrets WHERE reference OPERATOR(pg_catalog.=) $1", 2) :
		keep_plan(&plan_secret[1],
					 "SELECT name, reference, description, value_version, " UPDATED_AT " FROM ("
					 " SELECT " META_COLUMNS " FROM provsecret.ai_provider_secret"
					 "  WHERE company OPERATOR(pg_catalog.=) $2 AND reference OPERATOR(pg_catalog.=) $1"
					 " UNION ALL"
					 " SELECT " META_COLUMNS " FROM provsecret.bound_secret"
					 "  WHERE company OPERATOR(pg_catalog.=) $2 AND reference OPERATOR(pg_catalog.=) $1) s",
					 2);
	if (SPI_execute_plan(plan, args, NULL, true, 1) != SPI_OK_SELECT)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg_internal("could not read secret metadata")));
	found = SPI_processed == 1;
	if (found)
		fill(out, SPI_tuptable->vals[0], SPI_tuptable->tupdesc, cxt);
	SPI_finish();
	ps_identity_leave(&identity);
	return found;
}

List *
ps_rest_sql_list(bool company, const char *owner)
{
	PsTenant	tenant = ps_tenant_of(company ? PS_SCOPE_COMPANY : PS_SCOPE_PROJECT, owner);
	Datum		args[2] = {CStringGetTextDatum(owner),
	CStringGetTextDatum(ps_tenant_row_company(&tenant))};
	MemoryContext cxt = CurrentMemoryContext;
	List	   *result = NIL;
	PsIdentity	identity;
	int			keyed;
	SPIPlanPtr	plan;

	ps_identity_enter(PS_ACT_SERVICE, &identity);
	SPI_connect();
	keyed = ps_schema_keyed();
	if (!keyed)
		plan = company ?
			keep_plan(&plan_company[0],
					  "SELECT name, reference, description, value_version, " UPDATED_AT " "
					  "FROM provsecret.secrets WHERE scope OPERATOR(pg_catalog.=) 'company' "
					  "AND company OPERATOR(pg_catalog.=) $1 ORDER BY name COLLATE \"C\"", 2) :
			keep_plan(&plan_project[0],
					  "SELECT name, reference, description, value_version, " UPDATED_AT " "
					  "FROM provsecret.secrets WHERE scope OPERATOR(pg_catalog.=) 'project' "
					  "AND project OPERATOR(pg_catalog.=) $1 ORDER BY name COLLATE \"C\"", 2);
	else
		plan = company ?
		keep_plan(&plan_company[1],
				  "SELECT name, reference, description, value_version, " UPDATED_AT " "
				  "FROM provsecret.ai_provider_secret WHERE company OPERATOR(pg_catalog.=) $1 "
				  "AND scope OPERATOR(pg_catalog.=) 'company' ORDER BY name COLLATE \"C\"", 2) :
		keep_plan(&plan_project[1],
				  "SELECT name, reference, description, value_version, " UPDATED_AT " FROM ("
				  " SELECT " META_COLUMNS " FROM provsecret.ai_provider_secret"
				  "  WHERE company OPERATOR(pg_catalog.=) $2 AND scope OPERATOR(pg_catalog.=) 'project'"
				  "    AND project OPERATOR(pg_catalog.=) $1"
				  " UNION ALL"
				  " SELECT " META_COLUMNS " FROM provsecret.bound_secret"
				  "  WHERE company OPERATOR(pg_catalog.=) $2 AND project OPERATOR(pg_catalog.=) $1) s"
				  " ORDER BY name COLLATE \"C\"", 2);
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
	ps_identity_leave(&identity);
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
					 "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') FROM provsecret.versions($1)", 1);
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
