/*
 * binding.c: bind_workspace / unbind_workspace, and the seal, resolve and
 * delete of a bound workspace's secrets in its resolver's backend.
 *
 * The caller (secret.c) has parsed the reference and authorized the
 * operation exactly as for managed storage; here the value goes to the
 * backend instead of ciphertext, and the metadata to bound_secret.  A
 * backend write is not transactional, so it comes last: the metadata row is
 * written (and so locked, which also queues concurrent writers of the same
 * secret) before the backend is called, and an error up to then leaves the
 * backend untouched.  What can still diverge: the transaction failing after
 * the backend answered (its durable audit event, a later statement of the
 * same transaction, the commit); the next seal or delete reconciles.
 */
#include "postgres.h"

#include <stdlib.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"

#include "audit/audit.h"
#include "core/change_notify.h"
#include "core/identity.h"
#include "core/provsecret.h"
#include "core/query.h"
#include "external/binding.h"
#include "external/external.h"
#include "external/external_guard.h"
#include "external/resolver.h"
#include "external/resolver_kinds.h"
#include "external/resolver_metrics.h"
#include "store/secret_fetch.h"
#include "tenancy/authz.h"
#include "tenancy/tenant.h"

static SPIPlanPtr plan_binding = NULL;
static SPIPlanPtr plan_meta = NULL;
/* [ps_schema_keyed()]: before and after 0.5.0's upgrade script */
static SPIPlanPtr plan_upsert[2];
static SPIPlanPtr plan_forget = NULL;
static SPIPlanPtr plan_bind[2];
static SPIPlanPtr plan_others = NULL;
static SPIPlanPtr plan_unbind = NULL;
static SPIPlanPtr plan_forget_all = NULL;

/* Run a one-text-argument query as owner; the first column as text or NULL. */
static char *
owner_lookup(SPIPlanPtr *plan, const char *sql, const char *arg)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(arg)};
	MemoryContext caller = CurrentMemoryContext;
	PsIdentity	identity;
	char	   *result = NULL;

	ps_identity_enter(PS_ACT_OWNER, &identity);
	SPI_connect();
	ps_query_plan(plan, sql, 1, argtypes);
	ps_query_run(*plan, values, NULL, true, 1);
	if (SPI_processed > 0)
	{
		char	   *v = ps_query_text(0, 1);

		result = MemoryContextStrdup(caller, v ? v : "");
	}
	SPI_finish();
	ps_identity_leave(&identity);
	return result;
}

/* The resolver a project is bound to; false when it is not bound. */
static bool
binding_of(const char *project, PsResolver *out)
{
	char	   *name = owner_lookup(&plan_binding,
									"SELECT resolver FROM provsecret.workspace_binding"
									" WHERE project OPERATOR(pg_catalog.=) $1",
									project);

	if (name == NULL)
		return false;
	if (!ps_resolver_lookup(name, out))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg_internal("workspace %s is bound to resolver %s, which does not exist", project, name)));
	return true;
}

bool
ps_binding_is_bound(const char *project)
{
	PsResolver	r;

	return binding_of(project, &r);
}

/* value_version of the bound secret's metadata, 0 when there is none. */
static int32
meta_version(const char *canonical)
{
	char	   *v = owner_lookup(&plan_meta,
								 "SELECT value_version FROM provsecret.bound_secret"
								 " WHERE reference OPERATOR(pg_catalog.=) $1",
								 canonical);

	return v ? pg_strtoint32(v) : 0;
}

/*
 * Where the secret lives in the backend: its name, under the project's
 * name when the resolver belongs to the company (so two workspaces bound
 * to one company resolver do not share keys).
 */
static char *
backend_path(const PsResolver *r, const PsReference *ref)
{
	if (r->scope == PS_SCOPE_COMPANY)
		return psprintf("%s/%s", ref->owner, ref->name);
	return pstrdup(ref->name);
}

/*
 * One write to the backend.  Transport failures, 5xx and refused
 * credentials raise 58030 (audited); any other status is returned.
 */
static long
write_backend(const PsExternalCall *call, const char *project, PsWriteOp op,
			  const char *path, const char *value, Size value_len)
{
	const PsResolver *r = call->resolver;
	char	   *url;
	const char *method;
	char	   *body;
	size_t		body_len;
	char		err[256];
	int			retry_in_s;
	PsOutboundResponse resp;
	volatile bool answered = false;

	if (!ps_resolver_write_request(r->kind, &r->options, r->base_url, path, op,
								   value, value_len, &url, &method, &body,
								   &body_len, err, sizeof(err)))
	{
		if (!ps_resolver_writable(r->kind))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("workspace %s is bound to resolver %s, an %s backend, which is read-only",
							project, r->name, ps_resolver_kind_name(r->kind)),
					 errhint("Bind the workspace to a vault-kv2 or infisical resolver to write its secrets.")));
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("external resolver %s: %s", r->name, err)));
	}
	if (!ps_breaker_admit(r->name, r->tag, &retry_in_s))
	{
		free(url);
		ps_resolver_free_body(body, body_len);
		ps_external_fail_fast(call, retry_in_s);
	}
	PG_TRY();
	{
		answered = ps_external_send(call, method, url, body, body_len, &resp);
	}
	PG_FINALLY();
	{
		free(url);
		ps_resolver_free_body(body, body_len);
	}
	PG_END_TRY();

	if (!answered)
	{
		ps_external_breaker_report(r, true);
		ps_external_fail(call, psprintf("backend call failed (%s)", resp.error));
	}
	/* Infisical echoes the value back */
	explicit_bzero(resp.body, resp.body_len);
	if (ps_external_status_failed(resp.status))
	{
		ps_external_breaker_report(r, true);
		ps_external_fail(call, psprintf("backend answered HTTP %ld", resp.status));
	}
	ps_external_breaker_report(r, false);
	if (resp.status == 401 || resp.status == 403)
		ps_external_fail(call, psprintf("backend refused the credentials (HTTP %ld)",
										resp.status));
	return resp.status;
}

static PsExternalCall
make_call(const PsResolver *r, const PsTenant *tenant, const char *canonical,
		  const char *action, int32 value_version)
{
	PsExternalCall call = {0};

	call.resolver = r;
	call.tenant = *tenant;
	call.reference = canonical;
	call.action = action;
	call.value_version = value_version;
	return call;
}

/* Insert or bump the metadata row; returns the new value_version. */
static int32
meta_upsert(const PsReference *ref, const PsTenant *tenant, const char *resolver,
			const char *description)
{
	Oid			argtypes[6] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		values[6];
	char		nulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};
	PsIdentity	identity;
	bool		isnull;
	int32		version;
	int			keyed;

	values[0] = CStringGetTextDatum(ref->owner);
	values[1] = CStringGetTextDatum(ps_tenant_row_company(tenant));
	values[2] = CStringGetTextDatum(ref->name);
	values[3] = CStringGetTextDatum(resolver);
	values[4] = description ? CStringGetTextDatum(description) : (Datum) 0;
	nulls[4] = description ? ' ' : 'n';
	values[5] = CStringGetTextDatum(ps_authz_audit_principal());

	ps_identity_enter(PS_ACT_SERVICE, &identity);
	SPI_connect();
	keyed = ps_schema_keyed();
	ps_query_plan(&plan_upsert[keyed], keyed ?
				  "INSERT INTO provsecret.bound_secret AS s"
				  " (project, company, name, resolver, description, value_version,"
				  "  created_by, updated_by)"
				  " VALUES ($1, $2, $3, $4, $5, 1, $6, $6)"
				  " ON CONFLICT (company, project, name) DO UPDATE"
				  "   SET value_version = s.value_version OPERATOR(pg_catalog.+) 1,"
				  "       resolver = EXCLUDED.resolver,"
				  "       description = COALESCE(EXCLUDED.description, s.description),"
				  "       updated_at = EXCLUDED.updated_at, updated_by = EXCLUDED.updated_by"
				  " RETURNING value_version" :
				  "INSERT INTO provsecret.bound_secret AS s"
				  " (project, company, name, resolver, description, value_version,"
				  "  created_by, updated_by)"
				  " VALUES ($1, $2, $3, $4, $5, 1, $6, $6)"
				  " ON CONFLICT (project, name) DO UPDATE"
				  "   SET value_version = s.value_version OPERATOR(pg_catalog.+) 1,"
				  "       resolver = EXCLUDED.resolver,"
				  "       description = COALESCE(EXCLUDED.description, s.description),"
				  "       updated_at = EXCLUDED.updated_at, updated_by = EXCLUDED.updated_by"
				  " RETURNING value_version",
				  6, argtypes);
	ps_query_run(plan_upsert[keyed], values, nulls, false, 1);
	version = DatumGetInt32(ps_query_datum(0, 1, &isnull));
	SPI_finish();
	ps_identity_leave(&identity);
	return version;
}

bool
ps_binding_seal(const PsReference *ref, const char *canonical,
				const PsTenant *tenant, const char *value, Size value_len,
				const char *description, PsSealResult *result)
{
	PsResolver	r;
	PsExternalCall call;
	int32		version;
	char	   *path;
	long		status;
	PsWriteOp	op;

	if (!binding_of(ref->owner, &r))
		return false;
	if (ps_secret_fetch(ps_tenant_row_company(tenant), canonical, &version,
						CurrentMemoryContext) != NULL)
		return false;			/* sealed before the binding: stays managed */

	/* metadata first (see the top of the file): the backend is the last step */
	version = meta_upsert(ref, tenant, r.name, description);
	call = make_call(&r, tenant, canonical,
					 version > 1 ? "secret.rotated" : "secret.sealed", version);
	path = backend_path(&r, ref);
	op = version > 1 ? PS_WRITE_UPDATE : PS_WRITE_CREATE;

	status = write_backend(&call, ref->owner, op, path, value, value_len);
	/* metadata and backend disagree (written or deleted elsewhere): the other verb */
	if (ps_resolver_write_retry(r.kind, op, status, &op))
		status = write_backend(&call, ref->owner, op, path, value, value_len);
	if (status < 200 || status >= 300)
		ps_external_fail(&call, psprintf("backend answered HTTP %ld", status));

	result->value_version = version;
	result->created = version == 1;
	result->reference = pstrdup(canonical);
	ps_external_audit(&call, "ok", NULL);
	ps_change_notify(canonical, version, version > 1 ? "rotated" : "sealed");
	return true;
}

char *
ps_binding_resolve(const PsReference *ref, const char *canonical,
				   const PsTenant *tenant, Size *len)
{
	PsResolver	r;
	PsExternalCall call;

	if (!binding_of(ref->owner, &r))
		return NULL;
	call = make_call(&r, tenant, canonical, "secret.revealed", meta_version(canonical));
	return ps_external_fetch(&call, backend_path(&r, ref), len);
}

bool
ps_binding_delete(const PsReference *ref, const char *canonical,
				  const PsTenant *tenant, bool *deleted)
{
	PsResolver	r;
	PsExternalCall call;
	int32		current = 0;
	long		status;
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1];
	PsIdentity	identity;
	bool		isnull;

	if (!binding_of(ref->owner, &r))
		return false;

	/* metadata first (see the top of the file): the backend is the last step */
	values[0] = CStringGetTextDatum(canonical);
	ps_identity_enter(PS_ACT_SERVICE, &identity);
	SPI_connect();
	ps_query_plan(&plan_forget,
				  "DELETE FROM provsecret.bound_secret"
				  " WHERE reference OPERATOR(pg_catalog.=) $1"
				  " RETURNING value_version",
				  1, argtypes);
	ps_query_run(plan_forget, values, NULL, false, 1);
	if (SPI_processed > 0)
		current = DatumGetInt32(ps_query_datum(0, 1, &isnull));
	SPI_finish();
	ps_identity_leave(&identity);

	call = make_call(&r, tenant, canonical, "secret.deleted", current);
	status = write_backend(&call, ref->owner, PS_WRITE_DELETE, backend_path(&r, ref),
						   NULL, 0);
	if (status != 404 && (status < 200 || status >= 300))
		ps_external_fail(&call, psprintf("backend answered HTTP %ld", status));

	/* Vault answers 204 whether or not the secret existed */
	*deleted = current != 0 ||
		(status != 404 && ps_resolver_delete_tells_missing(r.kind));
	if (*deleted)
	{
		ps_external_audit(&call, "ok", NULL);
		ps_change_notify(canonical, current, "deleted");
	}
	else
		ps_resolver_metrics_count(&r, PS_OUTCOME_NOT_FOUND);
	return true;
}

static void
audit_binding(const char *action, const PsTenant *tenant, const char *detail)
{
	PsAuditEvent event = {0};

	event.action = action;
	event.company = ps_event_company(tenant->company, tenant->project);
	event.project = tenant->project;
	event.outcome = "ok";
	event.detail = detail;
	event.count = 1;
	ps_audit_record(&event, false);
}

/* manage on project/<p>; returns its tenant. */
static PsTenant
authorize_project(FunctionCallInfo fcinfo, char **project)
{
	PsTarget	target;
	PsTenant	tenant;

	*project = ps_arg_text(fcinfo, 0, "project");
	ps_parse_target_or_error(psprintf("project/%s", *project), &target);
	tenant = ps_tenant_of(PS_SCOPE_PROJECT, target.owner);
	if (!ps_authz_allows(tenant.company, tenant.project, PS_PERM_MANAGE))
		ps_authz_deny(PS_PERM_MANAGE, tenant.company, tenant.project, NULL);
	return tenant;
}

/*
 * The resolver a project is to be bound to, when the caller may use it:
 * the project's reads and writes would go to its backend with its token, so
 * a resolver of another target (its company) needs manage there too.  A
 * caller who may not gets the same 42501 whether the resolver exists or
 * not; only a global role learns that it is missing.
 */
static void
authorize_resolver(const char *name, const char *project, PsResolver *r)
{
	PsTenant	owner;

	if (!ps_resolver_lookup(name, r))
	{
		/* no target: only a global role passes; grants load as they would */
		if (ps_authz_allows(NULL, NULL, PS_PERM_DESCRIBE))
			ereport(ERROR,
					(errcode(ERRCODE_NO_DATA_FOUND),
					 errmsg("resolver %s not found", name)));
		ps_authz_deny_resolver(PS_PERM_MANAGE, name, NULL, NULL, NULL);
	}
	if (r->scope == PS_SCOPE_PROJECT && strcmp(r->owner, project) == 0)
		return;					/* the project's own: manage there is checked */
	owner = ps_tenant_of(r->scope, r->owner);
	if (!ps_authz_allows(owner.company, owner.project, PS_PERM_MANAGE))
		ps_authz_deny_resolver(PS_PERM_MANAGE, r->name, owner.company,
							   owner.project, NULL);
}

PG_FUNCTION_INFO_V1(ps_bind_workspace);
Datum
ps_bind_workspace(PG_FUNCTION_ARGS)
{
	char	   *project;
	PsTenant	tenant = authorize_project(fcinfo, &project);
	char	   *name = ps_arg_text(fcinfo, 1, "resolver");
	PsResolver	r;
	Oid			argtypes[4] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		values[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};
	PsIdentity	identity;
	char	   *others;
	int			keyed;

	if (!ps_name_is_valid(name, strlen(name)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid resolver name: it must match [A-Za-z0-9][A-Za-z0-9_.-]{0,127}")));
	authorize_resolver(name, project, &r);
	if (!(r.scope == PS_SCOPE_PROJECT && strcmp(r.owner, project) == 0) &&
		!(r.scope == PS_SCOPE_COMPANY && tenant.company != NULL &&
		  strcmp(r.owner, tenant.company) == 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("resolver %s belongs to %s/%s, neither project %s nor its company",
						r.name, ps_scope_name(r.scope), r.owner, project)));
	others = owner_lookup(&plan_others,
						  "SELECT resolver FROM provsecret.bound_secret"
						  " WHERE project OPERATOR(pg_catalog.=) $1 LIMIT 1",
						  project);
	if (others != NULL && strcmp(others, r.name) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("workspace %s has secrets in resolver %s", project, others),
				 errhint("Delete them, or unbind the workspace, before binding it to another resolver.")));
	ps_tenant_ensure_registered(&tenant);

	values[0] = CStringGetTextDatum(project);
	values[1] = CStringGetTextDatum(ps_tenant_row_company(&tenant));
	values[2] = CStringGetTextDatum(r.name);
	values[3] = CStringGetTextDatum(ps_authz_audit_principal());
	ps_identity_enter(PS_ACT_SERVICE, &identity);
	SPI_connect();
	keyed = ps_schema_keyed();
	/*
	 * EXCLUDED.bound_at is the column default, now(): Citus, which runs
	 * the update on a shard, accepts only immutable functions there.
	 */
	ps_query_plan(&plan_bind[keyed], keyed ?
				  "INSERT INTO provsecret.workspace_binding AS b"
				  " (project, company, resolver, bound_by)"
				  " VALUES ($1, $2, $3, $4)"
				  " ON CONFLICT (company, project) DO UPDATE SET resolver = EXCLUDED.resolver,"
				  "   bound_at = EXCLUDED.bound_at, bound_by = EXCLUDED.bound_by" :
				  "INSERT INTO provsecret.workspace_binding AS b"
				  " (project, company, resolver, bound_by)"
				  " VALUES ($1, $2, $3, $4)"
				  " ON CONFLICT (project) DO UPDATE SET resolver = EXCLUDED.resolver,"
				  "   bound_at = EXCLUDED.bound_at, bound_by = EXCLUDED.bound_by",
				  4, argtypes);
	ps_query_run(plan_bind[keyed], values, nulls, false, 0);
	SPI_finish();
	ps_identity_leave(&identity);
	audit_binding("workspace.bound", &tenant, psprintf("resolver %s", r.name));
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(ps_unbind_workspace);
Datum
ps_unbind_workspace(PG_FUNCTION_ARGS)
{
	char	   *project;
	PsTenant	tenant = authorize_project(fcinfo, &project);
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(project)};
	PsIdentity	identity;
	char	   *resolver = NULL;
	uint64		forgotten;

	ps_identity_enter(PS_ACT_SERVICE, &identity);
	SPI_connect();
	ps_query_plan(&plan_unbind,
				  "DELETE FROM provsecret.workspace_binding"
				  " WHERE project OPERATOR(pg_catalog.=) $1 RETURNING resolver",
				  1, argtypes);
	ps_query_run(plan_unbind, values, NULL, false, 0);
	if (SPI_processed > 0)
		resolver = pstrdup(ps_query_text(0, 1));
	ps_query_plan(&plan_forget_all,
				  "DELETE FROM provsecret.bound_secret"
				  " WHERE project OPERATOR(pg_catalog.=) $1",
				  1, argtypes);
	ps_query_run(plan_forget_all, values, NULL, false, 0);
	forgotten = SPI_processed;
	SPI_finish();
	ps_identity_leave(&identity);

	if (resolver == NULL)
		PG_RETURN_BOOL(false);
	audit_binding("workspace.unbound", &tenant,
				  psprintf("resolver %s; metadata of " UINT64_FORMAT
						   " secrets forgotten, their values left in the backend",
						   resolver, forgotten));
	PG_RETURN_BOOL(true);
}
