/*
 * grants.c: grant() and revoke() of provsecret permissions.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/array.h"
#include "utils/builtins.h"

#include "audit/audit.h"
#include "core/identity.h"
#include "core/provsecret.h"
#include "core/query.h"
#include "tenancy/authz.h"
#include "tenancy/tenant.h"

#define PS_PRINCIPAL_MAX 256

/* [ps_schema_keyed()]: before and after 0.5.0's upgrade script */
static SPIPlanPtr plan_grant[2];
static SPIPlanPtr plan_revoke[2];

static const char *const ps_principal_kinds[] = {"db:", "user:", "client:", "role:", "group:"};

/* db:<role>, user:<sub>, client:<azp>, role:<realm role>, group:<group> */
static void
check_principal(const char *principal)
{
	size_t		len = strlen(principal);
	bool		kind_ok = false;

	for (int i = 0; i < lengthof(ps_principal_kinds); i++)
	{
		size_t		plen = strlen(ps_principal_kinds[i]);

		if (len > plen && strncmp(principal, ps_principal_kinds[i], plen) == 0)
			kind_ok = true;
	}
	if (!kind_ok || len > PS_PRINCIPAL_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid principal: it must be db:<role>, user:<sub>, client:<azp>, role:<role> or group:<group>, at most %d characters",
						PS_PRINCIPAL_MAX)));
	for (const char *p = principal; *p; p++)
		if ((unsigned char) *p < 0x20 || *p == 0x7f)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid principal: control characters are not allowed")));
}

/* The permissions array as names; NULL array means every permission. */
static List *
permission_list(FunctionCallInfo fcinfo, int argno, bool null_means_all)
{
	List	   *perms = NIL;
	Datum	   *elems;
	bool	   *nulls;
	int			n;

	if (PG_ARGISNULL(argno))
	{
		if (!null_means_all)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("permissions must not be null")));
		return list_make5("describe", "read", "write", "delete", "manage");
	}
	deconstruct_array(PG_GETARG_ARRAYTYPE_P(argno), TEXTOID, -1, false,
					  TYPALIGN_INT, &elems, &nulls, &n);
	if (n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("permissions must not be empty")));
	for (int i = 0; i < n; i++)
	{
		char	   *name;
		PsPermission perm;

		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("permissions must not contain null")));
		name = TextDatumGetCString(elems[i]);
		perm = ps_permission_from_name(name);
		if (perm == 0 || (perm & PS_PERM_GRANTABLE) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown permission"),
					 errhint("Permissions are describe, read, write, delete and manage.")));
		perms = lappend(perms, (char *) ps_permission_name(perm));
	}
	return perms;
}

/*
 * env/<NAME> (the grammar of env:<NAME>): the one grant that lets a caller
 * resolve env:<NAME>.  Only read means something there (an environment
 * variable has no metadata, and nothing writes or deletes it).  Returns the
 * NAME, or NULL when the target is not an env/ one.
 */
static char *
env_target(const char *target_text)
{
	PsReference ref;
	char	   *as_reference;

	if (strncmp(target_text, "env/", 4) != 0)
		return NULL;
	as_reference = psprintf("env:%s", target_text + 4);
	if (ps_reference_parse(as_reference, strlen(as_reference), &ref) != NULL ||
		ref.kind != PS_REF_ENV)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid target: an env target must be env/<NAME>, <NAME> matching [A-Z_][A-Z0-9_]{0,127}")));
	return pstrdup(ref.name);
}

static List *
env_permissions(List *perms, bool granting)
{
	ListCell   *lc;

	if (!granting && list_length(perms) == 5)
		return list_make1("read");	/* revoke(…, NULL): everything there is */
	foreach(lc, perms)
		if (strcmp(lfirst(lc), "read") != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid permission on an env target: only read can be granted on env/<NAME>")));
	return perms;
}

static void
change_grants(FunctionCallInfo fcinfo, bool granting)
{
	char	   *principal = ps_arg_text(fcinfo, 0, "principal");
	char	   *target_text = ps_arg_text(fcinfo, 1, "target");
	char	   *env_name;
	const char *scope;
	const char *owner;
	PsTarget	target;
	PsTenant	tenant = {0};
	List	   *perms;
	ListCell   *lc;
	PsIdentity	identity;
	Oid			argtypes[5] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	char	   *company;		/* the company the grant row carries */
	int			keyed;
	StringInfoData detail;
	PsAuditEvent event = {0};

	check_principal(principal);
	env_name = env_target(target_text);
	if (env_name == NULL)
		ps_parse_target_or_error(target_text, &target);
	perms = permission_list(fcinfo, 2, !granting);
	if (env_name != NULL)
	{
		/* a tenant's manager must not be able to give himself env: access */
		perms = env_permissions(perms, granting);
		if (!ps_authz_allows_global(PS_PERM_MANAGE))
			ps_authz_deny_env(PS_PERM_MANAGE, env_name, NULL);
		scope = "env";
		owner = env_name;
		company = "~";			/* env grants belong to no tenant */
	}
	else
	{
		tenant = ps_tenant_of(target.scope, target.owner);
		if (!ps_authz_allows(tenant.company, tenant.project, PS_PERM_MANAGE))
			ps_authz_deny(PS_PERM_MANAGE, tenant.company, tenant.project, NULL);
		if (granting)
			ps_tenant_ensure_registered(&tenant);
		scope = ps_scope_name(target.scope);
		owner = target.owner;
		company = ps_tenant_row_company(&tenant);
	}

	ps_identity_enter(PS_ACT_OWNER, &identity);
	SPI_connect();
	keyed = ps_schema_keyed();
	if (granting)
		ps_query_plan(&plan_grant[keyed], keyed ?
					  "INSERT INTO provsecret.access_grant"
					  " (company, principal, scope, target, permission, granted_by)"
					  " VALUES ($5, $1, $2, $3, $4, provsecret.current_principal())"
					  " ON CONFLICT DO NOTHING" :
					  "INSERT INTO provsecret.access_grant"
					  " (principal, scope, target, permission, granted_by)"
					  " VALUES ($1, $2, $3, $4, provsecret.current_principal())"
					  " ON CONFLICT DO NOTHING",
					  keyed ? 5 : 4, argtypes);
	else
		ps_query_plan(&plan_revoke[keyed], keyed ?
					  "DELETE FROM provsecret.access_grant"
					  " WHERE company OPERATOR(pg_catalog.=) $5"
					  "   AND principal OPERATOR(pg_catalog.=) $1"
					  "   AND scope OPERATOR(pg_catalog.=) $2"
					  "   AND target OPERATOR(pg_catalog.=) $3"
					  "   AND permission OPERATOR(pg_catalog.=) $4" :
					  "DELETE FROM provsecret.access_grant"
					  " WHERE principal OPERATOR(pg_catalog.=) $1"
					  "   AND scope OPERATOR(pg_catalog.=) $2"
					  "   AND target OPERATOR(pg_catalog.=) $3"
					  "   AND permission OPERATOR(pg_catalog.=) $4",
					  keyed ? 5 : 4, argtypes);
	foreach(lc, perms)
	{
		Datum		values[5] = {CStringGetTextDatum(principal),
			CStringGetTextDatum(scope),
			CStringGetTextDatum(owner),
			CStringGetTextDatum(lfirst(lc)),
		CStringGetTextDatum(company)};

		ps_query_run(granting ? plan_grant[keyed] : plan_revoke[keyed], values, NULL, false, 0);
	}
	SPI_finish();
	ps_identity_leave(&identity);

	initStringInfo(&detail);
	appendStringInfo(&detail, "%s %s:", granting ? "granted" : "revoked", principal);
	foreach(lc, perms)
		appendStringInfo(&detail, " %s", (char *) lfirst(lc));
	if (env_name != NULL)
	{
		appendStringInfo(&detail, " on env/%s", env_name);
		event.reference = psprintf("env:%s", env_name);
	}
	event.action = "grant.changed";
	event.company = ps_event_company(tenant.company, tenant.project);
	event.project = tenant.project;
	event.outcome = "ok";
	event.detail = detail.data;
	event.count = 1;
	ps_audit_record(&event, false);
}

PG_FUNCTION_INFO_V1(ps_grant);
Datum
ps_grant(PG_FUNCTION_ARGS)
{
	change_grants(fcinfo, true);
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(ps_revoke);
Datum
ps_revoke(PG_FUNCTION_ARGS)
{
	change_grants(fcinfo, false);
	PG_RETURN_VOID();
}

/* SQL: the principal audit events name for the current caller. */
PG_FUNCTION_INFO_V1(ps_current_principal);
Datum
ps_current_principal(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(ps_authz_audit_principal()));
}
