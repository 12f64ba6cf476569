/*
 * tenant.c: the company/project registry (register_company,
 * register_project) and the argument checks every SQL function shares.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"

#include "audit/audit.h"
#include "core/identity.h"
#include "core/provsecret.h"
#include "core/query.h"
#include "crypto/datakey.h"
#include "tenancy/authz.h"
#include "tenancy/tenant.h"

static SPIPlanPtr plan_insert_company = NULL;
static SPIPlanPtr plan_insert_project = NULL;
/* [ps_schema_keyed()]: before and after 0.5.0's upgrade script */
static SPIPlanPtr plan_attach_project[2];
static SPIPlanPtr plan_project_in_use[2];

/*
 * Quote at most PS_ECHO_MAX characters of rejected input, and only when it
 * looks like what was asked for: a value pasted by mistake is not echoed.
 */
static char *
safe_prefix(const char *input, bool looks_right)
{
	char		buf[PS_ECHO_MAX + 1];
	int			n = 0;

	if (!looks_right)
		return pstrdup("(not shown)");
	for (const char *p = input; *p && n < PS_ECHO_MAX; p++)
		buf[n++] = (*p >= 0x20 && *p < 0x7f) ? *p : '?';
	buf[n] = '\0';
	return psprintf("\"%s%s\"", buf, strlen(input) > PS_ECHO_MAX ? "..." : "");
}

char *
ps_arg_text(FunctionCallInfo fcinfo, int argno, const char *what)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be null", what)));
	return text_to_cstring(PG_GETARG_TEXT_PP(argno));
}

void
ps_parse_reference_or_error(const char *input, PsReference *ref)
{
	const char *rule = ps_reference_parse(input, strlen(input), ref);

	if (rule != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid reference: %s", rule),
				 errdetail("The reference given was %s.",
						   safe_prefix(input,
										  strncmp(input, "managed:", 8) == 0 ||
										  strncmp(input, "env:", 4) == 0 ||
										  strncmp(input, "external:", 9) == 0))));
}

void
ps_parse_target_or_error(const char *input, PsTarget *target)
{
	const char *rule = ps_target_parse(input, strlen(input), target);

	if (rule != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid target: %s", rule),
				 errdetail("The target given was %s.",
						   safe_prefix(input,
										  strncmp(input, "company/", 8) == 0 ||
										  strncmp(input, "project/", 8) == 0))));
}

static void
check_name(const char *name, const char *what)
{
	if (!ps_name_is_valid(name, strlen(name)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid %s name: it must match [A-Za-z0-9][A-Za-z0-9_.-]{0,127}", what),
				 errdetail("The name given was %s.", safe_prefix(name, true))));
}

PsTenant
ps_tenant_of(PsScope scope, const char *owner)
{
	PsTenant	tenant = {0};

	if (scope == PS_SCOPE_COMPANY)
	{
		/* checked when it matters (sealing, granting): resolve stays lean */
		tenant.company = pstrdup(owner);
		tenant.registered = false;
	}
	else
	{
		tenant.project = pstrdup(owner);
		tenant.company = ps_authz_project_company(owner, &tenant.registered);
	}
	return tenant;
}

char *
ps_row_company(const char *company, const char *project)
{
	char		own[PS_OWN_COMPANY_MAX + 1];

	if (company != NULL)
		return pstrdup(company);
	ps_own_company(project, own, sizeof(own));
	return pstrdup(own);
}

char *
ps_tenant_row_company(const PsTenant *tenant)
{
	return ps_row_company(tenant->company, tenant->project);
}

char *
ps_tenant_key_owner(const PsTenant *tenant)
{
	if (tenant->company != NULL)
		return psprintf("company/%s", tenant->company);
	return psprintf("project/%s", tenant->project);
}

/* Insert rows (SPI connected, acting as owner). */
static void
insert_company(const char *company)
{
	Oid			argtypes[2] = {TEXTOID, TEXTOID};
	Datum		values[2] = {CStringGetTextDatum(company),
	CStringGetTextDatum(ps_authz_audit_principal())};

	ps_query_plan(&plan_insert_company,
				  "INSERT INTO provsecret.company (company, created_by) VALUES ($1, $2)"
				  " ON CONFLICT (company) DO NOTHING",
				  2, argtypes);
	ps_query_run(plan_insert_company, values, NULL, false, 0);
}

/* A project without a company gets its own, "~<project>" (never shown). */
static void
insert_project(const char *project, const char *company)
{
	char	   *row_company = ps_row_company(company, project);
	Oid			argtypes[3] = {TEXTOID, TEXTOID, TEXTOID};
	Datum		values[3] = {CStringGetTextDatum(project),
		CStringGetTextDatum(row_company),
	CStringGetTextDatum(ps_authz_audit_principal())};

	if (company == NULL)
		insert_company(row_company);
	ps_query_plan(&plan_insert_project,
				  "INSERT INTO provsecret.project (project, company, created_by) VALUES ($1, $2, $3)"
				  " ON CONFLICT (project) DO NOTHING",
				  3, argtypes);
	ps_query_run(plan_insert_project, values, NULL, false, 0);
}

void
ps_tenant_ensure_registered(const PsTenant *tenant)
{
	PsIdentity	identity;

	if (tenant->registered)
		return;
	ps_identity_enter(PS_ACT_OWNER, &identity);
	SPI_connect();
	if (tenant->project != NULL)
		insert_project(tenant->project, NULL);
	else
		insert_company(tenant->company);
	SPI_finish();
	ps_identity_leave(&identity);
}

static void
audit_registry(const char *company, const char *project, const char *detail)
{
	PsAuditEvent event = {0};

	event.action = "tenant.registered";
	event.company = ps_event_company(company, project);
	event.project = project;
	event.outcome = "ok";
	event.detail = detail;
	event.count = 1;
	ps_audit_record(&event, false);
}

PG_FUNCTION_INFO_V1(ps_register_company);
Datum
ps_register_company(PG_FUNCTION_ARGS)
{
	char	   *company = ps_arg_text(fcinfo, 0, "company");
	PsIdentity	identity;

	check_name(company, "company");
	if (!ps_authz_allows(company, NULL, PS_PERM_MANAGE))
		ps_authz_deny(PS_PERM_MANAGE, company, NULL, NULL);
	ps_identity_enter(PS_ACT_OWNER, &identity);
	SPI_connect();
	insert_company(company);
	SPI_finish();
	ps_identity_leave(&identity);
	audit_registry(company, NULL, "company registered");
	PG_RETURN_VOID();
}

/*
 * Does the project exist in any form: registered, or holding secrets,
 * grants, a binding or a resolver (SPI not connected; read as owner)?
 * A project's rows without a project row can only be under its own
 * company: one in a company is registered there.  So the distributed
 * tables are asked for that company's rows (on Citus: one shard, and no
 * statement over every shard before the registration writes the
 * reference tables).
 */
static bool
project_in_use(const char *project)
{
	char		own[PS_OWN_COMPANY_MAX + 1];
	Oid			argtypes[2] = {TEXTOID, TEXTOID};
	Datum		values[2];
	PsIdentity	identity;
	bool		isnull;
	bool		in_use;
	int			keyed;

	ps_own_company(project, own, sizeof(own));
	values[0] = CStringGetTextDatum(project);
	values[1] = CStringGetTextDatum(own);
	ps_identity_enter(PS_ACT_OWNER, &identity);
	SPI_connect();
	keyed = ps_schema_keyed();
	ps_query_plan(&plan_project_in_use[keyed], keyed ?
				  "SELECT EXISTS (SELECT 1 FROM provsecret.project"
				  "                WHERE project OPERATOR(pg_catalog.=) $1)"
				  "    OR EXISTS (SELECT 1 FROM provsecret.ai_provider_secret"
				  "                WHERE company OPERATOR(pg_catalog.=) $2"
				  "                  AND scope OPERATOR(pg_catalog.=) 'project'"
				  "                  AND project OPERATOR(pg_catalog.=) $1)"
				  "    OR EXISTS (SELECT 1 FROM provsecret.bound_secret"
				  "                WHERE company OPERATOR(pg_catalog.=) $2"
				  "                  AND project OPERATOR(pg_catalog.=) $1)"
				  "    OR EXISTS (SELECT 1 FROM provsecret.access_grant"
				  "                WHERE scope OPERATOR(pg_catalog.=) 'project'"
				  "                  AND target OPERATOR(pg_catalog.=) $1)"
				  "    OR EXISTS (SELECT 1 FROM provsecret.workspace_binding"
				  "                WHERE company OPERATOR(pg_catalog.=) $2"
				  "                  AND project OPERATOR(pg_catalog.=) $1)"
				  "    OR EXISTS (SELECT 1 FROM provsecret.resolver"
				  "                WHERE scope OPERATOR(pg_catalog.=) 'project'"
				  "                  AND project OPERATOR(pg_catalog.=) $1)" :
				  "SELECT EXISTS (SELECT 1 FROM provsecret.project"
				  "                WHERE project OPERATOR(pg_catalog.=) $1)"
				  "    OR EXISTS (SELECT 1 FROM provsecret.ai_provider_secret"
				  "                WHERE scope OPERATOR(pg_catalog.=) 'project'"
				  "                  AND project OPERATOR(pg_catalog.=) $1)"
				  "    OR EXISTS (SELECT 1 FROM provsecret.bound_secret"
				  "                WHERE project OPERATOR(pg_catalog.=) $1)"
				  "    OR EXISTS (SELECT 1 FROM provsecret.access_grant"
				  "                WHERE scope OPERATOR(pg_catalog.=) 'project'"
				  "                  AND target OPERATOR(pg_catalog.=) $1)"
				  "    OR EXISTS (SELECT 1 FROM provsecret.workspace_binding"
				  "                WHERE project OPERATOR(pg_catalog.=) $1)"
				  "    OR EXISTS (SELECT 1 FROM provsecret.resolver"
				  "                WHERE scope OPERATOR(pg_catalog.=) 'project'"
				  "                  AND project OPERATOR(pg_catalog.=) $1)",
				  2, argtypes);
	ps_query_run(plan_project_in_use[keyed], values, NULL, true, 1);
	in_use = DatumGetBool(ps_query_datum(0, 1, &isnull));
	SPI_finish();
	ps_identity_leave(&identity);
	return in_use;
}

/*
 * The project's rows leave its own company for the one it joins: the
 * project, its secrets and their versions, data keys, grants, binding,
 * bound secrets and resolvers; its own company row goes.
 *
 * company is never updated in the tables Citus distributes by it
 * (docs/DESIGN.md, "Running on Citus"): their rows are deleted, and the
 * very rows the deletes return are inserted again under the new company in
 * the same statement, every column kept (the secrets' identity too; the
 * generated references come out equal, since they name the project).  The
 * order of the WITH list matters on Citus, which runs its statements on the
 * shards one after another, as written, the foreign key acting at once:
 * the versions are taken before the delete of their secrets would cascade
 * to them, and the new secrets are in before the new versions.  (PostgreSQL
 * alone checks the key at the end of the statement.)  Ciphertexts bind
 * reference, scope and version, wrapped data keys bind key id and tenant:
 * none names the company, so every value still opens.  The reference
 * tables (project, access_grant, resolver) keep their updates.
 *
 * With the newest snapshot: rows committed while we waited for the tenant
 * lock move too, and a row changed meanwhile moves as changed.  (SPI
 * connected, acting as owner.)
 */
static void
move_project_rows(const char *project, const char *company)
{
	char		own[PS_OWN_COMPANY_MAX + 1];
	Oid			argtypes[3] = {TEXTOID, TEXTOID, TEXTOID};
	Datum		values[3];
	int			keyed;

	ps_own_company(project, own, sizeof(own));
	values[0] = CStringGetTextDatum(project);
	values[1] = CStringGetTextDatum(company);
	values[2] = CStringGetTextDatum(own);
	keyed = ps_schema_keyed();
	ps_query_plan(&plan_attach_project[keyed], keyed ?
				  "WITH dv AS (DELETE FROM provsecret.ai_provider_secret_version"
				  "             WHERE company OPERATOR(pg_catalog.=) $3"
				  "            RETURNING secret_id, project, value_version, ciphertext,"
				  "                      data_key_id, created_at, created_by),"
				  "     ds AS (DELETE FROM provsecret.ai_provider_secret"
				  "             WHERE company OPERATOR(pg_catalog.=) $3"
				  "            RETURNING id, scope, project, name, description, ciphertext,"
				  "                      data_key_id, value_version, created_at, created_by,"
				  "                      updated_at, updated_by),"
				  "     s AS (INSERT INTO provsecret.ai_provider_secret"
				  "            (id, scope, company, project, name, description, ciphertext,"
				  "             data_key_id, value_version, created_at, created_by,"
				  "             updated_at, updated_by)"
				  "           OVERRIDING SYSTEM VALUE"
				  "           SELECT id, scope, $2, project, name, description, ciphertext,"
				  "                  data_key_id, value_version, created_at, created_by,"
				  "                  updated_at, updated_by FROM ds),"
				  "     v AS (INSERT INTO provsecret.ai_provider_secret_version"
				  "            (secret_id, company, project, value_version, ciphertext,"
				  "             data_key_id, created_at, created_by)"
				  "           SELECT secret_id, $2, project, value_version, ciphertext,"
				  "                  data_key_id, created_at, created_by FROM dv),"
				  "     dk AS (DELETE FROM provsecret.data_key"
				  "             WHERE company OPERATOR(pg_catalog.=) $3"
				  "            RETURNING id, tenant, project, wrapped_key, root_key_fingerprint,"
				  "                      created_at, retired_at),"
				  "     k AS (INSERT INTO provsecret.data_key"
				  "            (id, tenant, company, project, wrapped_key, root_key_fingerprint,"
				  "             created_at, retired_at)"
				  "           SELECT id, tenant, $2, project, wrapped_key, root_key_fingerprint,"
				  "                  created_at, retired_at FROM dk),"
				  "     dw AS (DELETE FROM provsecret.workspace_binding"
				  "             WHERE company OPERATOR(pg_catalog.=) $3"
				  "            RETURNING project, resolver, bound_at, bound_by),"
				  "     w AS (INSERT INTO provsecret.workspace_binding"
				  "            (project, company, resolver, bound_at, bound_by)"
				  "           SELECT project, $2, resolver, bound_at, bound_by FROM dw),"
				  "     db AS (DELETE FROM provsecret.bound_secret"
				  "             WHERE company OPERATOR(pg_catalog.=) $3"
				  "            RETURNING project, name, resolver, description, value_version,"
				  "                      created_at, created_by, updated_at, updated_by),"
				  "     b AS (INSERT INTO provsecret.bound_secret"
				  "            (project, company, name, resolver, description, value_version,"
				  "             created_at, created_by, updated_at, updated_by)"
				  "           SELECT project, $2, name, resolver, description, value_version,"
				  "                  created_at, created_by, updated_at, updated_by FROM db),"
				  "     g AS (UPDATE provsecret.access_grant SET company = $2"
				  "            WHERE company OPERATOR(pg_catalog.=) $3),"
				  "     r AS (UPDATE provsecret.resolver SET company = $2"
				  "            WHERE company OPERATOR(pg_catalog.=) $3),"
				  "     p AS (UPDATE provsecret.project SET company = $2"
				  "            WHERE project OPERATOR(pg_catalog.=) $1"
				  "              AND company OPERATOR(pg_catalog.=) $3)"
				  " DELETE FROM provsecret.company WHERE company OPERATOR(pg_catalog.=) $3" :
				  "WITH s AS (UPDATE provsecret.ai_provider_secret SET company = $2"
				  "            WHERE scope OPERATOR(pg_catalog.=) 'project'"
				  "              AND project OPERATOR(pg_catalog.=) $1 RETURNING 1),"
				  "     v AS (UPDATE provsecret.ai_provider_secret_version SET company = $2"
				  "            WHERE project OPERATOR(pg_catalog.=) $1 RETURNING 1),"
				  "     p AS (UPDATE provsecret.project SET company = $2"
				  "            WHERE project OPERATOR(pg_catalog.=) $1"
				  "              AND (company IS NULL OR company OPERATOR(pg_catalog.=) $3) RETURNING 1)"
				  " DELETE FROM provsecret.company WHERE company OPERATOR(pg_catalog.=) $3",
				  3, argtypes);
	ps_query_run_latest(plan_attach_project[keyed], values, NULL, 0);
}

/*
 * A project joins at most one company, once: moving it would move its
 * secrets between tenants' keys and grants, which is a migration, not a
 * registration.  Creating a project in a company needs manage on the
 * company; attaching one that already exists (whoever made it: every
 * workspace a REST PUT or seal() created is one) needs manage on the
 * project too, or a global role, since its secrets, grants and bindings
 * pass to the company's managers.  A project of another company is refused
 * as a denial to whoever does not manage it, so its company is not named to
 * them.
 */
PG_FUNCTION_INFO_V1(ps_register_project);
Datum
ps_register_project(PG_FUNCTION_ARGS)
{
	char	   *project = ps_arg_text(fcinfo, 0, "project");
	char	   *company = PG_ARGISNULL(1) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(1));
	bool		exists;
	char	   *current;
	PsIdentity	identity;

	check_name(project, "project");
	if (company != NULL)
	{
		check_name(company, "company");
		if (!ps_authz_allows(company, NULL, PS_PERM_MANAGE))
			ps_authz_deny(PS_PERM_MANAGE, company, project, NULL);
	}
	else if (!ps_authz_allows(NULL, project, PS_PERM_MANAGE))
		ps_authz_deny(PS_PERM_MANAGE, NULL, project, NULL);

	/*
	 * Under the project's tenant lock, which a seal into the project holds
	 * until it commits: a seal that created the project or sealed into it
	 * a moment ago is seen, and its secrets join the company with the
	 * project; a seal that starts now waits for this registration.
	 */
	ps_datakey_lock_tenant(psprintf("project/%s", project), ExclusiveLock);
	current = ps_authz_project_company(project, &exists);
	if (exists && current != NULL && company != NULL &&
		strcmp(current, company) == 0)
		PG_RETURN_VOID();		/* already there: nothing changes */
	if (company != NULL && (exists || project_in_use(project)) &&
		!ps_authz_allows(NULL, project, PS_PERM_MANAGE))
		ps_authz_deny(PS_PERM_MANAGE, NULL, project, NULL);
	if (exists && current != NULL &&
		(company == NULL || strcmp(current, company) != 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("project %s already belongs to company %s", project, current),
				 errhint("A project belongs to at most one company.")));
	if (exists && company == NULL)
		PG_RETURN_VOID();		/* nothing changes */

	ps_identity_enter(PS_ACT_OWNER, &identity);
	SPI_connect();
	if (company != NULL)
		insert_company(company);
	if (!exists)
	{
		insert_project(project, company);
		/* registered by someone else meanwhile: decided above on old facts */
		if (SPI_processed == 0 && company != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
					 errmsg("project %s was registered concurrently", project),
					 errhint("Retry the call.")));
	}
	else
	{
		char	   *key_owner = psprintf("project/%s", project);

		/*
		 * Once in a company, the project's own key can no longer be rotated
		 * by name: a batched rotation of it must end first (it holds this
		 * lock while it runs).
		 */
		ps_datakey_lock_tenant(key_owner, ExclusiveLock);
		if (ps_keys_rotation_in_progress(key_owner))
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("project %s is in the middle of a data-key rotation", project),
					 errhint("Call provsecret.rotate_data_key('%s', batch) until it returns 0, then register the project in the company.",
							 key_owner)));
	}
	if (company != NULL)
		move_project_rows(project, company);
	SPI_finish();
	ps_identity_leave(&identity);
	audit_registry(company, project,
					  company ? "project registered in company" : "project registered");
	PG_RETURN_VOID();
}
