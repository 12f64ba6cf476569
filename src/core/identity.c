/*
 * identity.c: switching to the service or owner role and back.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "commands/trigger.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/rel.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"
#include "access/htup_details.h"
#include "catalog/pg_namespace.h"

#include "core/distributed.h"
#include "core/identity.h"
#include "core/provsecret.h"

#define PS_SERVICE_ROLE "provsecret_service"

PG_FUNCTION_INFO_V1(provsecret_write_guard);

static Oid	ps_caller = InvalidOid;
static bool ps_callbacks_registered = false;

/*
 * How many of the extension's own code paths are open in this backend: the
 * write guard admits a write only while it is above zero.  Raised and
 * restored by ps_identity_enter()/leave() and ps_identity_writes_begin()/
 * end(), which only C code calls; put back by the (sub)transaction
 * callbacks below when an error unwinds past them, so an error in the
 * middle never leaves it raised.
 */
static int	ps_write_depth = 0;

/* caller and write depth as they were when each open subtransaction started */
typedef struct PsSubxactEntry
{
	SubTransactionId subid;
	Oid			caller;
	int			write_depth;
} PsSubxactEntry;

static PsSubxactEntry *ps_subxact_stack = NULL;
static int	ps_subxact_capacity = 0;
static int	ps_subxact_depth = 0;

static void
identity_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT ||
		event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT ||
		event == XACT_EVENT_PREPARE)
	{
		ps_caller = InvalidOid;
		ps_write_depth = 0;
		ps_subxact_depth = 0;
	}
}

/*
 * An error caught by a subtransaction must not leave a stale caller or an
 * open write path.  The stack grows as needed: when it cannot, the entry is
 * missing and an abort closes every write path (fail closed).
 */
static void
identity_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						  SubTransactionId parentSubid, void *arg)
{
	switch (event)
	{
		case SUBXACT_EVENT_START_SUB:
			if (ps_subxact_depth >= ps_subxact_capacity)
			{
				int			capacity = Max(64, ps_subxact_capacity * 2);
				PsSubxactEntry *grown;

				grown = ps_subxact_stack == NULL
					? MemoryContextAllocExtended(TopMemoryContext,
												 sizeof(PsSubxactEntry) * capacity,
												 MCXT_ALLOC_NO_OOM)
					: repalloc_extended(ps_subxact_stack,
										sizeof(PsSubxactEntry) * capacity,
										MCXT_ALLOC_NO_OOM);
				if (grown != NULL)
				{
					ps_subxact_stack = grown;
					ps_subxact_capacity = capacity;
				}
			}
			if (ps_subxact_depth < ps_subxact_capacity)
			{
				ps_subxact_stack[ps_subxact_depth].subid = mySubid;
				ps_subxact_stack[ps_subxact_depth].caller = ps_caller;
				ps_subxact_stack[ps_subxact_depth].write_depth = ps_write_depth;
			}
			ps_subxact_depth++;
			break;
		case SUBXACT_EVENT_ABORT_SUB:
		case SUBXACT_EVENT_COMMIT_SUB:
			if (ps_subxact_depth > 0)
			{
				ps_subxact_depth--;
				if (event == SUBXACT_EVENT_ABORT_SUB)
				{
					if (ps_subxact_depth < ps_subxact_capacity &&
						ps_subxact_stack[ps_subxact_depth].subid == mySubid)
					{
						ps_caller = ps_subxact_stack[ps_subxact_depth].caller;
						ps_write_depth = ps_subxact_stack[ps_subxact_depth].write_depth;
					}
					else
						ps_write_depth = 0;
				}
			}
			break;
		default:
			break;
	}
}

static void
identity_register_callbacks(void)
{
	if (!ps_callbacks_registered)
	{
		RegisterXactCallback(identity_xact_callback, NULL);
		RegisterSubXactCallback(identity_subxact_callback, NULL);
		ps_callbacks_registered = true;
	}
}

static Oid
owner_oid(void)
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

	identity_register_callbacks();

	/*
	 * Under Citus, row-level security runs on the worker nodes, in sessions
	 * that know neither the caller nor its principals: provsecret_service
	 * would see no rows there.  The owner (a superuser: the extension needs
	 * one to be created) passes those policies; the caller's permission is
	 * checked here, by ps_authz_allows(), before any statement runs.
	 */
	if (role == PS_ACT_SERVICE && ps_tables_distributed())
		role = PS_ACT_OWNER;
	target = role == PS_ACT_OWNER ? owner_oid()
		: get_role_oid(PS_SERVICE_ROLE, false);

	GetUserIdAndSecContext(&save->saved_user, &save->saved_sec_context);
	save->saved_caller = ps_caller;
	save->saved_write_depth = ps_write_depth;
	if (!OidIsValid(ps_caller))
		ps_caller = save->saved_user;
	SetUserIdAndSecContext(target,
						   save->saved_sec_context | SECURITY_LOCAL_USERID_CHANGE);
	ps_write_depth++;
}

void
ps_identity_leave(const PsIdentity *save)
{
	SetUserIdAndSecContext(save->saved_user, save->saved_sec_context);
	ps_caller = save->saved_caller;
	ps_write_depth = save->saved_write_depth;
}

void
ps_identity_writes_begin(void)
{
	identity_register_callbacks();
	ps_write_depth++;
}

void
ps_identity_writes_end(void)
{
	if (ps_write_depth > 0)
		ps_write_depth--;
}

Oid
ps_identity_caller(void)
{
	return OidIsValid(ps_caller) ? ps_caller : GetUserId();
}

/*
 * write_guard(): BEFORE INSERT OR UPDATE OR DELETE and BEFORE TRUNCATE, FOR
 * EACH STATEMENT, ENABLE ALWAYS, on every table of the extension.  A write
 * passes only from inside the extension's own C code paths (see
 * ps_write_depth) or from a superuser (pg_restore, and a superuser could
 * disable the trigger anyway; the audit hash chain shows what changed).
 * Every other role is refused, whatever its table privileges: members of
 * pg_write_all_data, provsecret_service, provsecret_admin, the owner.
 */
Datum
provsecret_write_guard(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo) ||
		!TRIGGER_FIRED_BEFORE(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_STATEMENT(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("provsecret.write_guard() must be fired BEFORE, FOR EACH STATEMENT")));
	if (ps_write_depth > 0 || superuser())
		PG_RETURN_POINTER(NULL);
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("table provsecret.%s accepts no direct writes",
					RelationGetRelationName(trigdata->tg_relation)),
			 errdetail("Writes to provsecret's tables go through provsecret's functions only."),
			 errhint("Use the provsecret SQL functions or the REST API instead.")));
	PG_RETURN_NULL();
}
