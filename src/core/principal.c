/*
 * principal.c: the caller's principals.
 *
 * The caller's principals are db:<role> (unless a REST request said
 * token_only) plus those of a bearer token verified in this transaction.
 * The token's principals live until the end of the transaction; db:<role>
 * is kept per backend while the caller and the role's name stay the same.
 */
#include "postgres.h"

#include "access/xact.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

#include "core/identity.h"
#include "core/principal.h"

static MemoryContext ps_principal_context = NULL;	/* db:<role> */
static MemoryContext ps_token_context = NULL;	/* this transaction's token */
static List *ps_token_principals = NIL;
static bool ps_token_only = false;
static uint64 ps_principals_epoch = 0;	/* moves whenever the set may change */

/* "db:<role>" of the caller, kept (see current_db_principal) */
static Oid	db_principal_role = InvalidOid;
static char *db_principal = NULL;

static void
principal_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PARALLEL_COMMIT || event == XACT_EVENT_PARALLEL_ABORT ||
		event == XACT_EVENT_PREPARE)
	{
		if (ps_token_context != NULL)
			MemoryContextReset(ps_token_context);
		ps_token_principals = NIL;
		ps_token_only = false;
		ps_principals_epoch++;
	}
}

static void
db_principal_forget(Datum arg, int cacheid, uint32 hashvalue)
{
	db_principal_role = InvalidOid;
}

static void
principal_init(void)
{
	if (ps_principal_context != NULL)
		return;
	ps_principal_context = AllocSetContextCreate(TopMemoryContext,
												 "provsecret principal",
												 ALLOCSET_SMALL_SIZES);
	ps_token_context = AllocSetContextCreate(TopMemoryContext,
											 "provsecret token",
											 ALLOCSET_SMALL_SIZES);
	RegisterXactCallback(principal_xact_callback, NULL);
	CacheRegisterSyscacheCallback(AUTHOID, db_principal_forget, (Datum) 0);
}

void
ps_authz_set_token_principals(List *principals, bool token_only)
{
	MemoryContext old;
	ListCell   *lc;

	principal_init();
	MemoryContextReset(ps_token_context);
	ps_token_principals = NIL;
	old = MemoryContextSwitchTo(ps_token_context);
	foreach(lc, principals)
		ps_token_principals = lappend(ps_token_principals, pstrdup(lfirst(lc)));
	MemoryContextSwitchTo(old);
	ps_token_only = token_only;
	ps_principals_epoch++;
}

uint64
ps_principal_epoch(void)
{
	return ps_principals_epoch;
}

bool
ps_principal_token_only(void)
{
	return ps_token_only;
}

/*
 * "db:<role>" of the caller, kept while the caller and the role's name stay
 * the same (every reveal names it twice: authorization and audit).
 */
static char *
current_db_principal(void)
{
	Oid			role = ps_identity_caller();

	principal_init();
	if (role != db_principal_role || db_principal == NULL)
	{
		char	   *name = psprintf("db:%s", GetUserNameFromId(role, false));

		if (db_principal != NULL)
			pfree(db_principal);
		db_principal = MemoryContextStrdup(ps_principal_context, name);
		pfree(name);
		db_principal_role = role;
	}
	return pstrdup(db_principal);	/* the caller's: the kept one may go */
}

const char *
ps_authz_audit_principal(void)
{
	ListCell   *lc;

	foreach(lc, ps_token_principals)
	{
		if (strncmp(lfirst(lc), "user:", 5) == 0)
			return lfirst(lc);
	}
	if (ps_token_principals != NIL)
		return linitial(ps_token_principals);
	if (ps_token_only)
		return "anonymous";
	return current_db_principal();
}

/* The principals that count now, as a list and as one cache key. */
List *
ps_principal_current(char **key)
{
	List	   *principals = NIL;
	StringInfoData buf;
	ListCell   *lc;

	if (!ps_token_only)
		principals = lappend(principals, current_db_principal());
	principals = list_concat(principals, ps_token_principals);
	initStringInfo(&buf);
	foreach(lc, principals)
	{
		appendStringInfoString(&buf, lfirst(lc));
		appendStringInfoChar(&buf, '\n');
	}
	*key = buf.data;
	return principals;
}
