/*
 * identity.c: switching to the service or owner role and back.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "core/provsecret.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
#include "access/htup_details.h"
#include "catalog/pg_namespace.h"

#include "core/identity.h"

#define PS_SERVICE_ROLE "provsecret_service"
#define PS_SUBXACT_DEPTH 64

static Oid	ps_caller = InvalidOid;
static bool ps_callbacks_registered = false;

/* caller as it was when each open subtransaction started */
static struct
{
	SubTransactionId subid;
	Oid			caller;
}			ps_subxact_stack[PS_SUBXACT_DEPTH];
static int	ps_subxact_depth = 0;

static void
ps_identity_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT ||
		event == XACT_EVENT_COMMIT || event == XACT_EVENT_PREPARE)
	{
		ps_caller = InvalidOid;
		ps_subxact_depth = 0;
	}
}

/* An error caught by a subtransaction must not leave a stale caller. */
static void
ps_identity_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
							 SubTransactionId parentSubid, void *arg)
{
	switch (event)
	{
		case SUBXACT_EVENT_START_SUB:
			if (ps_subxact_depth < PS_SUBXACT_DEPTH)
			{
				ps_subxact_stack[ps_subxact_depth].subid = mySubid;
				ps_subxact_stack[ps_subxact_depth].caller = ps_caller;
			}
			ps_subxact_depth++;
			break;
		case SUBXACT_EVENT_ABORT_SUB:
		case SUBXACT_EVENT_COMMIT_SUB:
			if (ps_subxact_depth > 0)
			{
				ps_subxact_depth--;
				if (event == SUBXACT_EVENT_ABORT_SUB &&
					ps_subxact_depth < PS_SUBXACT_DEPTH &&
					ps_subxact_stack[ps_subxact_depth].subid == mySubid)
					ps_caller = ps_subxact_stack[ps_subxact_depth].caller;
			}
			break;
		default:
			break;
	}
}

static Oid
ps_owner_oid(void)
{
	Oid			nsp = get_namespace_oid("provsecret", true);
	HeapTuple	tup;
	Oid			owner;

	if (!OidIsValid(nsp))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("extension provsecret is not installed in this database")));
	tup = SearchSysCache1(NAMESPACEOID, ObjectIdGetDatum(nsp));
	if (!HeapTupleIsValid(tup))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg_internal("cache lookup failed for namespace %u", nsp)));
	owner = ((Form_pg_namespace) GETSTRUCT(tup))->nspowner;
	ReleaseSysCache(tup);
	return owner;
}

void
ps_identity_enter(PsActingRole role, PsIdentity *save)
{
	Oid			target;

	if (!ps_callbacks_registered)
	{
		RegisterXactCallback(ps_identity_xact_callback, NULL);
		RegisterSubXactCallback(ps_identity_subxact_callback, NULL);
		ps_callbacks_registered = true;
	}
	target = role == PS_ACT_OWNER ? ps_owner_oid()
		: get_role_oid(PS_SERVICE_ROLE, false);

	GetUserIdAndSecContext(&save->saved_user, &save->saved_sec_context);
	save->saved_caller = ps_caller;
	if (!OidIsValid(ps_caller))
		ps_caller = save->saved_user;
	SetUserIdAndSecContext(target,
						   save->saved_sec_context | SECURITY_LOCAL_USERID_CHANGE);
}

void
ps_identity_leave(const PsIdentity *save)
{
	SetUserIdAndSecContext(save->saved_user, save->saved_sec_context);
	ps_caller = save->saved_caller;
}

Oid
ps_identity_caller(void)
{
	return OidIsValid(ps_caller) ? ps_caller : GetUserId();
}
