/*
 * authz.c: permissions and the one authorization function.
 *
 * The caller's principals (core/principal.h) are db:<role> (unless a REST
 * request said token_only) plus those of a bearer token verified in this
 * transaction.  Grants of those principals are cached per backend and
 * dropped when access_grant changes (its trigger sends a relcache
 * invalidation).
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

#include "audit/audit.h"
#include "core/distributed.h"
#include "core/identity.h"
#include "core/principal.h"
#include "core/provsecret.h"
#include "core/query.h"
#include "core/reference.h"
#include "tenancy/authz.h"
#include "tenancy/listing_cache.h"

#define PS_ADMIN_ROLE "provsecret_admin"
#define PS_AUDITOR_ROLE "provsecret_auditor"

/* key of a grant: "company/<c>" or "project/<p>" */
typedef struct PsGrantEntry
{
	char		target[8 + PS_NAME_MAX + 1];
	int			mask;
} PsGrantEntry;

typedef struct PsProjectEntry
{
	char		project[PS_NAME_MAX + 1];
	bool		exists;
	bool		has_company;
	char		company[PS_NAME_MAX + 1];
} PsProjectEntry;

/* projects whose company a backend keeps (bench/scale/README.md) */
#define PS_PROJECT_CACHE_MAX 1024

static MemoryContext ps_authz_context = NULL;	/* caches */

static HTAB *ps_grants = NULL;
static char *ps_grants_key = NULL;	/* principal set the grants belong to */
static bool ps_grants_stale = true;
static HTAB *ps_projects = NULL;
static bool ps_projects_stale = true;
static Oid	ps_grant_relid = InvalidOid;
static Oid	ps_project_relid = InvalidOid;

static SPIPlanPtr plan_grants = NULL;
static SPIPlanPtr plan_project = NULL;

static const struct
{
	const char *name;
	PsPermission perm;
}			ps_permission_names[] = {
	{"describe", PS_PERM_DESCRIBE},
	{"read", PS_PERM_READ},
	{"write", PS_PERM_WRITE},
	{"delete", PS_PERM_DELETE},
	{"manage", PS_PERM_MANAGE},
	{"audit", PS_PERM_AUDIT},
};

PsPermission
ps_permission_from_name(const char *name)
{
	for (int i = 0; i < lengthof(ps_permission_names); i++)
		if (strcmp(name, ps_permission_names[i].name) == 0)
			return ps_permission_names[i].perm;
	return 0;
}

const char *
ps_permission_name(PsPermission perm)
{
	for (int i = 0; i < lengthof(ps_permission_names); i++)
		if (ps_permission_names[i].perm == perm)
			return ps_permission_names[i].name;
	return "unknown";
}

/* What holding perm lets one do: modifying or reading implies describing. */
static int
implied(int granted)
{
	int			mask = granted;

	if (granted & (PS_PERM_READ | PS_PERM_WRITE | PS_PERM_DELETE | PS_PERM_MANAGE))
		mask |= PS_PERM_DESCRIBE;
	if (granted & PS_PERM_MANAGE)
		mask |= PS_PERM_AUDIT;
	return mask;
}

/* moves whenever grants or projects may have changed */
static uint64 ps_authz_epoch = 0;

static void
authz_relcache_callback(Datum arg, Oid relid)
{
	ps_authz_epoch++;
	if (relid == InvalidOid || relid == ps_grant_relid)
		ps_grants_stale = true;
	if (relid == InvalidOid || relid == ps_project_relid)
		ps_projects_stale = true;
}

static void
authz_init(void)
{
	if (ps_authz_context != NULL)
		return;
	ps_authz_context = AllocSetContextCreate(TopMemoryContext,
											 "provsecret authz",
											 ALLOCSET_DEFAULT_SIZES);
	CacheRegisterRelcacheCallback(authz_relcache_callback, (Datum) 0);
}

static Oid
table_relid(const char *name)
{
	return get_relname_relid(name, get_namespace_oid("provsecret", false));
}

static void
load_grants(List *principals, const char *key)
{
	HASHCTL		ctl;
	PsIdentity	identity;
	Datum	   *elems;
	Datum		values[1];
	Oid			argtypes[1] = {TEXTARRAYOID};
	ListCell   *lc;
	int			i = 0;

	if (ps_grants != NULL)
		hash_destroy(ps_grants);
	ps_grants = NULL;
	if (ps_grants_key != NULL)
		pfree(ps_grants_key);
	ps_grants_key = NULL;

	ps_grant_relid = table_relid("access_grant");
	ps_grants_stale = false;

	ctl.keysize = sizeof(((PsGrantEntry *) NULL)->target);
	ctl.entrysize = sizeof(PsGrantEntry);
	ctl.hcxt = ps_authz_context;
	ps_grants = hash_create("provsecret grants", 64, &ctl,
							HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);

	elems = palloc(sizeof(Datum) * list_length(principals));
	foreach(lc, principals)
		elems[i++] = CStringGetTextDatum(lfirst(lc));
	values[0] = PointerGetDatum(construct_array(elems, i, TEXTOID, -1, false,
												TYPALIGN_INT));

	ps_identity_enter(PS_ACT_OWNER, &identity);
	SPI_connect();
	ps_query_plan(&plan_grants,
				  "SELECT scope OPERATOR(pg_catalog.||) '/' OPERATOR(pg_catalog.||) target, permission"
				  "  FROM provsecret.access_grant"
				  " WHERE principal OPERATOR(pg_catalog.=) ANY ($1)",
				  1, argtypes);
	/* the newest committed grants, at every isolation level (see below) */
	ps_query_run_latest(plan_grants, values, NULL, 0);
	for (uint64 row = 0; row < SPI_processed; row++)
	{
		char	   *target = ps_query_text(row, 1);
		PsPermission perm = ps_permission_from_name(ps_query_text(row, 2));
		PsGrantEntry *entry;
		bool		found;

		if (strlen(target) >= sizeof(entry->target))
			continue;
		entry = hash_search(ps_grants, target, HASH_ENTER, &found);
		if (!found)
			entry->mask = 0;
		entry->mask |= implied(perm);
	}
	SPI_finish();
	ps_identity_leave(&identity);

	ps_grants_key = MemoryContextStrdup(ps_authz_context, key);
}

char *
ps_authz_project_company(const char *project, bool *exists)
{
	PsProjectEntry *entry;
	bool		found;

	authz_init();
	AcceptInvalidationMessages();
	/*
	 * Bounded, so a backend's memory does not grow with the number of
	 * projects it has seen: when full, it starts again (a miss is one
	 * index probe).
	 */
	if (ps_projects_stale || ps_projects == NULL ||
		hash_get_num_entries(ps_projects) >= PS_PROJECT_CACHE_MAX)
	{
		HASHCTL		ctl;

		if (ps_projects != NULL)
			hash_destroy(ps_projects);
		ctl.keysize = PS_NAME_MAX + 1;
		ctl.entrysize = sizeof(PsProjectEntry);
		ctl.hcxt = ps_authz_context;
		ps_projects = hash_create("provsecret projects", 256, &ctl,
								  HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
		ps_project_relid = table_relid("project");
		ps_projects_stale = false;
	}
	if (strlen(project) > PS_NAME_MAX)
	{
		*exists = false;
		return NULL;
	}
	entry = hash_search(ps_projects, project, HASH_FIND, &found);
	if (!found)
	{
		PsIdentity	identity;
		Oid			argtypes[1] = {TEXTOID};
		Datum		values[1] = {CStringGetTextDatum(project)};
		bool		row_exists;
		char	   *company = NULL;

		ps_identity_enter(PS_ACT_OWNER, &identity);
		SPI_connect();
		ps_query_plan(&plan_project,
					  "SELECT company FROM provsecret.project"
					  " WHERE project OPERATOR(pg_catalog.=) $1",
					  1, argtypes);
		ps_query_run_latest(plan_project, values, NULL, 1);
		row_exists = SPI_processed > 0;
		if (row_exists)
			company = ps_query_text(0, 1);
		entry = hash_search(ps_projects, project, HASH_ENTER, &found);
		entry->exists = row_exists;
		/* a project without a company: its own is never shown as one */
		entry->has_company = company != NULL && !ps_company_is_own(company);
		if (entry->has_company)
			strlcpy(entry->company, company, sizeof(entry->company));
		SPI_finish();
		ps_identity_leave(&identity);
	}
	*exists = entry->exists;
	return entry->has_company ? pstrdup(entry->company) : NULL;
}

const char *
ps_event_company(const char *company, const char *project)
{
	bool		exists;
	char	   *project_company;

	if (company != NULL || project == NULL)
		return company;
	project_company = ps_authz_project_company(project, &exists);
	if (project_company == NULL)
	{
		char		own[PS_OWN_COMPANY_MAX + 1];

		ps_own_company(project, own, sizeof(own));
		project_company = pstrdup(own);
	}
	return project_company;
}

/* Roles that hold permissions everywhere, by membership. */
static bool
global_allows(Oid caller, PsPermission perm)
{
	Oid			role;

	if (superuser_arg(caller))
		return true;
	role = get_role_oid(PS_ADMIN_ROLE, true);
	if (OidIsValid(role) && has_privs_of_role(caller, role))
		return true;
	role = get_role_oid(PS_AUDITOR_ROLE, true);
	if (OidIsValid(role) && has_privs_of_role(caller, role) &&
		(perm & (PS_PERM_DESCRIBE | PS_PERM_AUDIT)) == perm)
		return true;
	return false;
}

static bool
grant_allows(const char *scope, const char *owner, PsPermission perm)
{
	char		target[8 + PS_NAME_MAX + 1];
	PsGrantEntry *entry;

	if (owner == NULL || strlen(owner) > PS_NAME_MAX)
		return false;
	snprintf(target, sizeof(target), "%s/%s", scope, owner);
	entry = hash_search(ps_grants, target, HASH_FIND, NULL);
	return entry != NULL && (entry->mask & perm) == perm;
}

/* The grants of the current principals, loaded unless already current. */
static void
grants_current(void)
{
	char	   *key;
	List	   *principals;

	/*
	 * A grant or revoke another session committed since this transaction
	 * began counts from the next check on: its invalidation is read here
	 * (PostgreSQL itself reads them only at transaction start and when a
	 * lock is first taken), and the grants are then read with the newest
	 * snapshot, not a REPEATABLE READ transaction's older one.  So a revoke
	 * denies every statement that starts after it commits.
	 */
	AcceptInvalidationMessages();
	principals = ps_principal_current(&key);
	if (ps_grants_stale || ps_grants == NULL || ps_grants_key == NULL ||
		strcmp(key, ps_grants_key) != 0)
		load_grants(principals, key);
}

bool
ps_authz_allows(const char *company, const char *project, PsPermission perm)
{
	char	   *project_company = NULL;

	authz_init();
	if (!ps_principal_token_only() && global_allows(ps_identity_caller(), perm))
		return true;

	grants_current();

	if (project != NULL)
	{
		bool		exists;

		if (grant_allows("project", project, perm))
			return true;
		if (company == NULL)
			company = project_company = ps_authz_project_company(project, &exists);
	}
	if (company != NULL && grant_allows("company", company, perm))
		return true;
	if (project_company != NULL)
		pfree(project_company);
	return false;
}

bool
ps_authz_allows_global(PsPermission perm)
{
	authz_init();
	return !ps_principal_token_only() && global_allows(ps_identity_caller(), perm);
}

/*
 * env/<NAME>: provsecret_admin and superusers (not over REST, where the
 * session role does not count), or a grant on exactly that target.  No
 * company or project grant covers it.
 */
bool
ps_authz_allows_env(const char *name, PsPermission perm)
{
	if (ps_authz_allows_global(perm))
		return true;
	grants_current();
	return grant_allows("env", name, perm);
}

/* The durable access.denied event every denial leaves. */
static void
audit_denial(PsPermission perm, const char *company, const char *project,
			 const char *reference, const char *on)
{
	PsAuditEvent event = {0};

	event.action = "access.denied";
	event.reference = reference;
	event.company = ps_event_company(company, project);
	event.project = project;
	event.outcome = "denied";
	event.detail = on ? psprintf("%s permission required on %s", ps_permission_name(perm), on) :
		psprintf("%s permission required", ps_permission_name(perm));
	event.count = 1;
	ps_audit_record(&event, true);
}

void
ps_authz_deny_env(PsPermission perm, const char *name, const char *reference)
{
	char	   *target = psprintf("env/%s", name);

	audit_denial(perm, NULL, NULL, reference, target);
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("permission denied: %s on %s requires the %s permission",
					ps_authz_audit_principal(), target, ps_permission_name(perm)),
			 perm == PS_PERM_MANAGE ?
			 errhint("Only provsecret_admin or a superuser grants on env/ targets.") :
			 errhint("provsecret.grant('<principal>', '%s', ARRAY['read']) allows it; provsecret.env_allowlist must also list the name.",
					 target)));
}

/*
 * A denial about a resolver that says nothing about it: the same text and
 * SQLSTATE whether the resolver exists or not and whoever owns it.  company
 * and project (NULL when unknown) go to the audit event only.
 */
void
ps_authz_deny_resolver(PsPermission perm, const char *resolver,
					   const char *company, const char *project,
					   const char *reference)
{
	audit_denial(perm, company, project, reference,
					psprintf("the target of resolver %s", resolver));
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("permission denied: %s requires the %s permission on the target of resolver %s",
					ps_authz_audit_principal(), ps_permission_name(perm), resolver)));
}

void
ps_authz_deny(PsPermission perm, const char *company, const char *project,
			  const char *reference)
{
	audit_denial(perm, company, project, reference, NULL);

	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("permission denied: %s on %s/%s requires the %s permission",
					ps_authz_audit_principal(),
					project ? "project" : "company",
					project ? project : (company ? company : "*"),
					ps_permission_name(perm))));
}

/*
 * The last answer of one has_permission call site (fn_extra, so it lives
 * for one execution of one statement): a policy asks the same question for
 * every row of a project's listing, and 10,000 rows asked it 10,000 times
 * (bench/scale/README.md).  Reused only for the same arguments, caller and
 * principals, and while no invalidation of grants or projects arrived.
 */
typedef struct PsPermissionMemo
{
	bool		valid;
	Oid			caller;
	uint64		principals_epoch;
	uint64		authz_epoch;
	bool		has_company;
	bool		has_project;
	char		company[PS_OWN_COMPANY_MAX + 1];
	char		project[PS_NAME_MAX + 1];
	char		perm[16];
	bool		result;
} PsPermissionMemo;

/* Does a text argument equal the memo's string (false if it cannot be kept)? */
static bool
memo_arg_matches(FunctionCallInfo fcinfo, int argno, bool has, const char *kept)
{
	text	   *t;
	Size		len;

	if (PG_ARGISNULL(argno))
		return !has;
	if (!has)
		return false;
	t = PG_GETARG_TEXT_PP(argno);
	len = VARSIZE_ANY_EXHDR(t);
	return strlen(kept) == len && memcmp(VARDATA_ANY(t), kept, len) == 0;
}

static bool
memo_arg_keep(FunctionCallInfo fcinfo, int argno, bool *has, char *buf, Size size)
{
	text	   *t;
	Size		len;

	*has = !PG_ARGISNULL(argno);
	if (!*has)
		return true;
	t = PG_GETARG_TEXT_PP(argno);
	len = VARSIZE_ANY_EXHDR(t);
	if (len >= size)
		return false;
	memcpy(buf, VARDATA_ANY(t), len);
	buf[len] = '\0';
	return true;
}

/* SQL: has_permission(company, project, permission), used by RLS policies. */
PG_FUNCTION_INFO_V1(ps_has_permission);
Datum
ps_has_permission(PG_FUNCTION_ARGS)
{
	PsPermissionMemo *memo = (PsPermissionMemo *) fcinfo->flinfo->fn_extra;
	char	   *company;
	char	   *project;
	PsPermission perm;
	bool		result;

	if (PG_ARGISNULL(2))
		PG_RETURN_BOOL(false);

	/* a revoke committed meanwhile moves the epoch here */
	AcceptInvalidationMessages();
	if (memo != NULL && memo->valid &&
		memo->caller == ps_identity_caller() &&
		memo->principals_epoch == ps_principal_epoch() &&
		memo->authz_epoch == ps_authz_epoch &&
		memo_arg_matches(fcinfo, 0, memo->has_company, memo->company) &&
		memo_arg_matches(fcinfo, 1, memo->has_project, memo->project) &&
		memo_arg_matches(fcinfo, 2, true, memo->perm))
		PG_RETURN_BOOL(memo->result);

	company = PG_ARGISNULL(0) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(0));
	project = PG_ARGISNULL(1) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(1));
	perm = ps_permission_from_name(text_to_cstring(PG_GETARG_TEXT_PP(2)));
	if (perm == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown permission"),
				 errhint("Permissions are describe, read, write, delete and manage.")));
	result = ps_authz_allows(company, project, perm);

	if (memo == NULL)
		memo = fcinfo->flinfo->fn_extra =
			MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(PsPermissionMemo));
	memo->valid = false;
	if (memo_arg_keep(fcinfo, 0, &memo->has_company, memo->company, sizeof(memo->company)) &&
		memo_arg_keep(fcinfo, 1, &memo->has_project, memo->project, sizeof(memo->project)))
	{
		bool		has_perm;

		(void) memo_arg_keep(fcinfo, 2, &has_perm, memo->perm, sizeof(memo->perm));
		memo->caller = ps_identity_caller();
		/* read after the check, which may itself have reloaded caches */
		memo->principals_epoch = ps_principal_epoch();
		memo->authz_epoch = ps_authz_epoch;
		memo->result = result;
		memo->valid = true;
	}
	PG_RETURN_BOOL(result);
}

/* Trigger: tell every backend's caches that grants or projects changed. */
PG_FUNCTION_INFO_V1(ps_invalidate_caches);
Datum
ps_invalidate_caches(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	Oid			logical;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("ps_invalidate_caches must be called as a trigger")));
	CacheInvalidateRelcache(trigdata->tg_relation);
	/* fired on a Citus shard: the caches watch the table it belongs to */
	logical = ps_logical_relation(trigdata->tg_relation);
	if (logical != RelationGetRelid(trigdata->tg_relation))
		CacheInvalidateRelcacheByRelid(logical);
	ps_listing_changed();		/* grants and projects decide listings too */
	return PointerGetDatum(NULL);
}
