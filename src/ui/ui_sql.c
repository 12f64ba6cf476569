/*
 * ui_sql.c: the settings pages' reads (ui_sql.h).  Plans are kept for the
 * worker's life; every statement schema-qualifies what it names.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"

#include "ui/ui_sql.h"

#define AT_UTC(col) "pg_catalog.to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

#define SECRETS_QUERY(scope, col) \
	"SELECT name, reference, description, value_version, " AT_UTC("updated_at") ", updated_by " \
	"FROM provsecret.secrets WHERE scope OPERATOR(pg_catalog.=) '" scope "' " \
	"AND " col " OPERATOR(pg_catalog.=) $1 ORDER BY name COLLATE \"C\""

#define AUDIT_QUERY(col) \
	"SELECT " AT_UTC("at") ", action, reference, principal, channel, outcome, value_version " \
	"FROM provsecret.audit_log WHERE " col " OPERATOR(pg_catalog.=) $1 " \
	"ORDER BY id DESC LIMIT $2"

static const char *const secret_fields[] = {
	"name", "reference", "description", "valueVersion", "updatedAt", "updatedBy", NULL
};
static const char *const audit_fields[] = {
	"at", "action", "reference", "principal", "channel", "outcome", "valueVersion", NULL
};

/*
 * A text argument.  (utils/builtins.h, which has cstring_to_text, declares
 * an SQL function named json_object, as jansson does.)
 */
static Datum
text_datum(const char *s)
{
	size_t		len = strlen(s);
	text	   *t = palloc(VARHDRSZ + len);

	SET_VARSIZE(t, VARHDRSZ + len);
	memcpy(VARDATA(t), s, len);
	return PointerGetDatum(t);
}

static SPIPlanPtr
keep_plan(SPIPlanPtr *plan, const char *query, int nargs)
{
	Oid			argtypes[2] = {TEXTOID, INT4OID};

	if (*plan == NULL)
	{
		SPIPlanPtr	p = SPI_prepare(query, nargs, argtypes);

		if (p == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg_internal("could not prepare a settings page query: %s",
									 SPI_result_code_string(SPI_result))));
		SPI_keepplan(p);
		*plan = p;
	}
	return *plan;
}

/* The rows of the last statement as objects named by fields. */
static json_t *
rows_to_json(const char *const *fields)
{
	json_t	   *rows = json_array();

	for (uint64 i = 0; i < SPI_processed; i++)
	{
		json_t	   *row = json_pack("{}");	/* json_object() is also a PostgreSQL symbol */

		for (int c = 0; fields[c] != NULL; c++)
		{
			char	   *v = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, c + 1);
			bool		number = strcmp(fields[c], "valueVersion") == 0;

			json_object_set_new(row, fields[c],
								v == NULL ? json_null() :
								number ? json_integer(strtol(v, NULL, 10)) : json_string(v));
		}
		json_array_append_new(rows, row);
	}
	return rows;
}

static json_t *
run(SPIPlanPtr *plan, const char *query, int nargs, Datum *args,
	const char *const *fields)
{
	json_t	   *rows;

	SPI_connect();
	if (SPI_execute_plan(keep_plan(plan, query, nargs), args, NULL, true, 0) != SPI_OK_SELECT)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg_internal("a settings page query failed")));
	rows = rows_to_json(fields);
	SPI_finish();
	return rows;
}

json_t *
ps_ui_sql_secrets(bool company, const char *owner)
{
	static SPIPlanPtr company_plan = NULL;
	static SPIPlanPtr project_plan = NULL;
	Datum		args[1] = {text_datum(owner)};

	if (company)
		return run(&company_plan, SECRETS_QUERY("company", "company"), 1, args,
				   secret_fields);
	return run(&project_plan, SECRETS_QUERY("project", "project"), 1, args,
			   secret_fields);
}

json_t *
ps_ui_sql_tenants(void)
{
	static SPIPlanPtr companies_plan = NULL;
	static SPIPlanPtr projects_plan = NULL;
	static const char *const company_fields[] = {"name", NULL};
	static const char *const project_fields[] = {"name", "company", NULL};
	json_t	   *companies;
	json_t	   *projects;

	companies = run(&companies_plan,
					"SELECT company FROM provsecret.company "
					"WHERE provsecret.has_permission(company, NULL, 'describe') "
					"ORDER BY company COLLATE \"C\"", 0, NULL, company_fields);
	projects = run(&projects_plan,
				   "SELECT project, company FROM provsecret.project "
				   "WHERE provsecret.has_permission(company, project, 'describe') "
				   "ORDER BY project COLLATE \"C\"", 0, NULL, project_fields);
	return json_pack("{s:o, s:o}", "companies", companies, "projects", projects);
}

json_t *
ps_ui_sql_audit(bool company, const char *owner, int limit)
{
	static SPIPlanPtr company_plan = NULL;
	static SPIPlanPtr project_plan = NULL;
	Datum		args[2] = {text_datum(owner), Int32GetDatum(limit)};

	if (company)
		return run(&company_plan, AUDIT_QUERY("company"), 2, args, audit_fields);
	return run(&project_plan, AUDIT_QUERY("project"), 2, args, audit_fields);
}
