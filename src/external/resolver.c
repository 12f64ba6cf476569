/*
 * resolver.c: create_resolver, alter_resolver, drop_resolver, and the
 * lookup behind external: references.
 *
 * A resolver's token is never stored: auth_reference names it, and must be
 * a managed: secret of the resolver's own target or an allow-listed env:
 * variable.  Whoever points a resolver at a URL decides where that token is
 * sent, so setting up a resolver with a token needs read on the target as
 * well as manage, and an env: token read on env/<NAME> (both checked at
 * every create and alter, for the caller doing it).
 */
#include "postgres.h"

#include <stdlib.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "audit/audit.h"
#include "core/identity.h"
#include "core/provsecret.h"
#include "core/query.h"
#include "external/external_guard.h"
#include "external/resolver.h"
#include "outbound/outbound.h"
#include "store/secret_read.h"
#include "tenancy/authz.h"
#include "tenancy/tenant.h"

static SPIPlanPtr plan_lookup = NULL;
static SPIPlanPtr plan_lock = NULL;
static SPIPlanPtr plan_insert = NULL;
static SPIPlanPtr plan_update = NULL;
static SPIPlanPtr plan_delete = NULL;
static SPIPlanPtr plan_bound_to = NULL;

/* A resolver's definition as given to create or alter, checked. */
typedef struct ResolverSpec
{
	char	   *name;
	PsTarget	target;
	PsTenant	tenant;
	PsResolverKind kind;
	char	   *base_url;
	char	   *options_json;	/* canonical, defaults filled */
	char	   *auth_reference; /* canonical, or NULL */
} ResolverSpec;

static void
check_resolver_name(const char *name)
{
	if (!ps_name_is_valid(name, strlen(name)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid resolver name: it must match [A-Za-z0-9][A-Za-z0-9_.-]{0,127}")));
}

static PsResolverKind
parse_kind(const char *kind_name)
{
	PsResolverKind kind;

	if (!ps_resolver_kind_parse(kind_name, &kind))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown resolver kind"),
				 errhint("Kinds are vault-kv2, infisical and http-json.")));
	return kind;
}

static char *
normalize_options(PsResolverKind kind, const char *options_text)
{
	PsResolverOptions opts;
	char		err[256];
	char	   *json;
	char	   *result;

	if (!ps_resolver_options_parse(kind, options_text, strlen(options_text),
								   &opts, err, sizeof(err)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid resolver options: %s", err)));
	json = ps_resolver_options_json(kind, &opts);
	if (json == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	result = pstrdup(json);
	free(json);
	return result;
}

/*
 * A managed: secret of the same target, or an allow-listed env: name the
 * caller may read.
 */
static char *
check_auth_reference(const char *input, const PsTarget *target)
{
	PsReference ref;
	char		canonical[PS_REFERENCE_MAX + 1];

	ps_parse_reference_or_error(input, &ref);
	if (ref.kind == PS_REF_MANAGED)
	{
		if (ref.scope != target->scope || strcmp(ref.owner, target->owner) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("auth_reference must be a managed: secret of the resolver's own target, %s/%s",
							ps_scope_name(target->scope), target->owner)));
	}
	else if (ref.kind == PS_REF_ENV)
	{
		char		env_ref[PS_REFERENCE_MAX + 1];

		/*
		 * Whoever points a resolver at a URL sends it this variable: only a
		 * caller who may read it himself may name it (checked first, so
		 * nothing is said about the allowlist to others).
		 */
		ps_reference_format(&ref, env_ref, sizeof(env_ref));
		if (!ps_authz_allows_env(ref.name, PS_PERM_READ))
			ps_authz_deny_env(PS_PERM_READ, ref.name, env_ref);
		if (!ps_secret_env_allowed(ref.name))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("environment variable %s may not be resolved", ref.name),
					 errhint("A superuser lists resolvable names in provsecret.env_allowlist.")));
	}
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("auth_reference must be a managed: or env: reference")));
	ps_reference_format(&ref, canonical, sizeof(canonical));
	return pstrdup(canonical);
}

static void
check_base_url(const char *url)
{
	char		err[256];

	if (!ps_outbound_base_url_allowed(url, err, sizeof(err)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid base_url: %s", err),
				 errhint("Use an https:// URL (http:// only to hosts listed in provsecret.outbound_allowed_hosts).")));
}

/* universal-auth logs in with auth_reference as the client secret */
static void
check_login_secret(const ResolverSpec *spec)
{
	PsResolverOptions opts;
	char		err[256];

	if (spec->auth_reference != NULL)
		return;
	if (ps_resolver_options_parse(spec->kind, spec->options_json,
								  strlen(spec->options_json), &opts,
								  err, sizeof(err)) &&
		ps_resolver_logs_in(spec->kind, &opts))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("resolver %s has the option client_id (universal-auth) but no auth_reference",
						spec->name),
				 errhint("Name the machine identity's client secret in auth_reference.")));
}

/* manage on the target, and read when a token will be sent to base_url */
static void
authorize_spec(const ResolverSpec *spec)
{
	const PsTenant *t = &spec->tenant;

	if (!ps_authz_allows(t->company, t->project, PS_PERM_MANAGE))
		ps_authz_deny(PS_PERM_MANAGE, t->company, t->project, NULL);
	if (spec->auth_reference != NULL &&
		!ps_authz_allows(t->company, t->project, PS_PERM_READ))
		ps_authz_deny(PS_PERM_READ, t->company, t->project, spec->auth_reference);
}

static void
audit_resolver(const char *action, const ResolverSpec *spec, const char *what)
{
	PsAuditEvent event = {0};

	event.action = action;
	event.company = ps_event_company(spec->tenant.company, spec->tenant.project);
	event.project = spec->tenant.project;
	event.outcome = "ok";
	event.detail = psprintf("resolver %s %s", spec->name, what);
	event.count = 1;
	ps_audit_record(&event, false);
}

static char *
jsonb_arg_text(FunctionCallInfo fcinfo, int argno)
{
	Jsonb	   *jb;

	if (PG_ARGISNULL(argno))
		return NULL;
	jb = PG_GETARG_JSONB_P(argno);
	return JsonbToCString(NULL, &jb->root, VARSIZE(jb));
}

static char *
text_arg_or_null(FunctionCallInfo fcinfo, int argno)
{
	return PG_ARGISNULL(argno) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(argno));
}

static char *
text_in(int col, MemoryContext context)
{
	char	   *v = ps_query_text(0, col);

	return v ? MemoryContextStrdup(context, v) : NULL;
}

/*
 * Read (and with lock, lock) the row, SPI connected and acting as owner;
 * strings are copied into context.  false when there is none.  The caller
 * is authorized afterwards, on the row's target.
 */
static bool
fetch_resolver(const char *name, bool lock, PsResolver *out, MemoryContext context)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(name)};
	const char *sql = "SELECT scope, company, project, kind, base_url,"
		" options::pg_catalog.text, auth_reference, revision, xmin::pg_catalog.text"
		" FROM provsecret.resolver WHERE name OPERATOR(pg_catalog.=) $1";
	char	   *options;
	char		err[256];
	bool		isnull;

	if (lock)
		ps_query_plan(&plan_lock, psprintf("%s FOR UPDATE", sql), 1, argtypes);
	else
		ps_query_plan(&plan_lookup, sql, 1, argtypes);
	ps_query_run(lock ? plan_lock : plan_lookup, values, NULL, false, 1);
	if (SPI_processed == 0)
		return false;

	memset(out, 0, sizeof(*out));
	out->name = MemoryContextStrdup(context, name);
	out->scope = strcmp(ps_query_text(0, 1), "company") == 0 ? PS_SCOPE_COMPANY : PS_SCOPE_PROJECT;
	out->company = text_in(2, context);
	if (ps_company_is_own(out->company))
		out->company = NULL;	/* a project's own: no company */
	out->project = text_in(3, context);
	out->owner = out->scope == PS_SCOPE_COMPANY ? out->company : out->project;
	if (!ps_resolver_kind_parse(ps_query_text(0, 4), &out->kind))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg_internal("resolver %s has an unknown kind", name)));
	out->base_url = text_in(5, context);
	options = ps_query_text(0, 6);
	if (!ps_resolver_options_parse(out->kind, options, strlen(options),
								   &out->options, err, sizeof(err)))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("resolver %s has invalid options: %s", name, err)));
	out->auth_reference = text_in(7, context);
	out->revision = DatumGetInt32(ps_query_datum(0, 8, &isnull));
	out->tag = text_in(9, context);
	return true;
}

bool
ps_resolver_lookup(const char *name, PsResolver *out)
{
	PsIdentity	identity;
	bool		found;
	MemoryContext caller = CurrentMemoryContext;

	ps_identity_enter(PS_ACT_OWNER, &identity);
	SPI_connect();
	found = fetch_resolver(name, false, out, caller);
	SPI_finish();
	ps_identity_leave(&identity);
	return found;
}

static void
write_resolver(const ResolverSpec *spec, bool insert)
{
	Oid			argtypes[9] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID,
	TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		values[9];
	char		nulls[9] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '};

	values[0] = CStringGetTextDatum(spec->name);
	values[1] = CStringGetTextDatum(ps_scope_name(spec->target.scope));
	values[2] = CStringGetTextDatum(ps_tenant_row_company(&spec->tenant));
	values[3] = spec->tenant.project ? CStringGetTextDatum(spec->tenant.project) : (Datum) 0;
	nulls[3] = spec->tenant.project ? ' ' : 'n';
	values[4] = CStringGetTextDatum(ps_resolver_kind_name(spec->kind));
	values[5] = CStringGetTextDatum(spec->base_url);
	values[6] = CStringGetTextDatum(spec->options_json);
	values[7] = spec->auth_reference ? CStringGetTextDatum(spec->auth_reference) : (Datum) 0;
	nulls[7] = spec->auth_reference ? ' ' : 'n';
	values[8] = CStringGetTextDatum(ps_authz_audit_principal());

	if (insert)
	{
		ps_query_plan(&plan_insert,
					  "INSERT INTO provsecret.resolver (name, scope, company, project,"
					  "  kind, base_url, options, auth_reference, created_by, updated_by)"
					  " VALUES ($1, $2, $3, $4, $5, $6, $7::pg_catalog.jsonb, $8, $9, $9)"
					  " ON CONFLICT (name) DO NOTHING",
					  9, argtypes);
		ps_query_run(plan_insert, values, nulls, false, 0);
		if (SPI_processed == 0)
			ereport(ERROR,
					(errcode(ERRCODE_DUPLICATE_OBJECT),
					 errmsg("resolver %s already exists", spec->name)));
	}
	else
	{
		ps_query_plan(&plan_update,
					  "UPDATE provsecret.resolver SET scope = $2, company = $3,"
					  "  project = $4, kind = $5, base_url = $6,"
					  "  options = $7::pg_catalog.jsonb, auth_reference = $8,"
					  "  revision = revision OPERATOR(pg_catalog.+) 1,"
					  "  updated_at = pg_catalog.now(), updated_by = $9"
					  " WHERE name OPERATOR(pg_catalog.=) $1",
					  9, argtypes);
		ps_query_run(plan_update, values, nulls, false, 0);
	}
}

static void
spec_set_target(ResolverSpec *spec, const char *target_text)
{
	ps_parse_target_or_error(target_text, &spec->target);
	spec->tenant = ps_tenant_of(spec->target.scope, spec->target.owner);
}

/* Authorize, write and audit a created or altered resolver. */
static void
store_resolver(ResolverSpec *spec, bool created)
{
	PsIdentity	identity;

	check_login_secret(spec);
	authorize_spec(spec);
	ps_tenant_ensure_registered(&spec->tenant);

	ps_identity_enter(PS_ACT_SERVICE, &identity);
	SPI_connect();
	write_resolver(spec, created);
	SPI_finish();
	ps_identity_leave(&identity);
	audit_resolver(created ? "resolver.created" : "resolver.altered", spec,
				   psprintf("%s: %s at %s", created ? "created" : "altered",
							ps_resolver_kind_name(spec->kind), spec->base_url));
}

PG_FUNCTION_INFO_V1(ps_create_resolver);
Datum
ps_create_resolver(PG_FUNCTION_ARGS)
{
	ResolverSpec spec = {0};
	char	   *options = jsonb_arg_text(fcinfo, 4);
	char	   *auth = text_arg_or_null(fcinfo, 5);

	spec.name = ps_arg_text(fcinfo, 0, "name");
	check_resolver_name(spec.name);
	spec_set_target(&spec, ps_arg_text(fcinfo, 1, "target"));
	spec.kind = parse_kind(ps_arg_text(fcinfo, 2, "kind"));
	spec.base_url = ps_arg_text(fcinfo, 3, "base_url");
	check_base_url(spec.base_url);
	ps_external_check_target(spec.base_url);
	spec.options_json = normalize_options(spec.kind, options ? options : "{}");
	if (auth != NULL && auth[0] != '\0')
		spec.auth_reference = check_auth_reference(auth, &spec.target);

	store_resolver(&spec, true);
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(ps_alter_resolver);
Datum
ps_alter_resolver(PG_FUNCTION_ARGS)
{
	ResolverSpec spec = {0};
	PsResolver	old;
	PsIdentity	identity;
	char	   *target = text_arg_or_null(fcinfo, 1);
	char	   *kind = text_arg_or_null(fcinfo, 2);
	char	   *base_url = text_arg_or_null(fcinfo, 3);
	char	   *options = jsonb_arg_text(fcinfo, 4);
	char	   *auth = text_arg_or_null(fcinfo, 5);
	PsTenant	old_tenant;
	bool		found;
	MemoryContext caller = CurrentMemoryContext;

	spec.name = ps_arg_text(fcinfo, 0, "name");
	check_resolver_name(spec.name);

	ps_identity_enter(PS_ACT_OWNER, &identity);
	SPI_connect();
	found = fetch_resolver(spec.name, true, &old, caller);
	SPI_finish();
	ps_identity_leave(&identity);
	if (!found)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("resolver %s not found", spec.name)));

	/* manage on the current target first: nothing is said to others */
	old_tenant = ps_tenant_of(old.scope, old.owner);
	if (!ps_authz_allows(old_tenant.company, old_tenant.project, PS_PERM_MANAGE))
		ps_authz_deny(PS_PERM_MANAGE, old_tenant.company, old_tenant.project, NULL);

	spec_set_target(&spec, target ? target :
					psprintf("%s/%s", ps_scope_name(old.scope), old.owner));
	spec.kind = kind ? parse_kind(kind) : old.kind;
	spec.base_url = base_url ? base_url : old.base_url;
	check_base_url(spec.base_url);
	if (base_url != NULL)
		ps_external_check_target(spec.base_url);
	if (options != NULL)
		spec.options_json = normalize_options(spec.kind, options);
	else
	{
		char	   *json = ps_resolver_options_json(old.kind, &old.options);

		if (json == NULL)
			ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
		/* a changed kind re-checks the old options against the new one */
		spec.options_json = normalize_options(spec.kind, json);
		free(json);
	}
	if (auth == NULL)
		auth = old.auth_reference;
	if (auth != NULL && auth[0] != '\0')
		spec.auth_reference = check_auth_reference(auth, &spec.target);

	store_resolver(&spec, false);
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(ps_drop_resolver);
Datum
ps_drop_resolver(PG_FUNCTION_ARGS)
{
	ResolverSpec spec = {0};
	PsResolver	old;
	PsIdentity	identity;
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1];
	bool		found;
	MemoryContext caller = CurrentMemoryContext;

	spec.name = ps_arg_text(fcinfo, 0, "name");
	check_resolver_name(spec.name);
	values[0] = CStringGetTextDatum(spec.name);

	ps_identity_enter(PS_ACT_OWNER, &identity);
	SPI_connect();
	found = fetch_resolver(spec.name, true, &old, caller);
	SPI_finish();
	ps_identity_leave(&identity);
	if (!found)
		PG_RETURN_BOOL(false);

	spec.tenant = ps_tenant_of(old.scope, old.owner);
	if (!ps_authz_allows(spec.tenant.company, spec.tenant.project, PS_PERM_MANAGE))
		ps_authz_deny(PS_PERM_MANAGE, spec.tenant.company, spec.tenant.project, NULL);

	/* a clear error rather than the foreign key's */
	ps_identity_enter(PS_ACT_OWNER, &identity);
	SPI_connect();
	ps_query_plan(&plan_bound_to,
				  "SELECT project FROM provsecret.workspace_binding"
				  " WHERE resolver OPERATOR(pg_catalog.=) $1 LIMIT 1",
				  1, argtypes);
	ps_query_run(plan_bound_to, values, NULL, false, 1);
	if (SPI_processed > 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_IN_USE),
				 errmsg("resolver %s is bound to workspace %s", spec.name,
						ps_query_text(0, 1)),
				 errhint("Unbind the workspace with provsecret.unbind_workspace() first.")));
	SPI_finish();
	ps_identity_leave(&identity);

	ps_identity_enter(PS_ACT_SERVICE, &identity);
	SPI_connect();
	ps_query_plan(&plan_delete,
				  "DELETE FROM provsecret.resolver WHERE name OPERATOR(pg_catalog.=) $1",
				  1, argtypes);
	ps_query_run(plan_delete, values, NULL, false, 0);
	SPI_finish();
	ps_identity_leave(&identity);
	audit_resolver("resolver.dropped", &spec, "dropped");
	PG_RETURN_BOOL(true);
}
