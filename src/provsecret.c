/*
 * provsecret.c: TEMPORARY stand-in for the lead's _PG_init (branch audit
 * only, until main's core lands): wires the audit module alone.
 */
#include "postgres.h"

#include "audit.h"
#include "authz.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "utils/builtins.h"
#include "utils/guc.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;
static char *database = NULL;

static void
request_hook(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	ps_audit_shmem_request();
}

static void
startup_hook(void)
{
	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	ps_audit_shmem_startup();
	LWLockRelease(AddinShmemInitLock);
}

void
_PG_init(void)
{
	if (!process_shared_preload_libraries_in_progress)
		return;
	DefineCustomStringVariable("provsecret.database", "Database of the extension.",
							   NULL, &database, "postgres", PGC_POSTMASTER, 0,
							   NULL, NULL, NULL);
	ps_audit_define_gucs();
	ps_audit_register_worker();
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = request_hook;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = startup_hook;
}

/* Stand-in for authz.c. */
const char *
ps_authz_audit_principal(void)
{
	return psprintf("db:%s", GetUserNameFromId(GetUserId(), false));
}

/* Stand-in for resolve(): records a reveal the way secret.c will. */
PG_FUNCTION_INFO_V1(provsecret_audit_probe);
Datum
provsecret_audit_probe(PG_FUNCTION_ARGS)
{
	PsAuditEvent event = {0};

	event.action = text_to_cstring(PG_GETARG_TEXT_PP(1));
	event.reference = text_to_cstring(PG_GETARG_TEXT_PP(0));
	event.project = "p1";
	event.value_version = 1;
	event.outcome = "ok";
	event.count = 1;
	ps_audit_record(&event, PG_GETARG_BOOL(2));
	PG_RETURN_TEXT_P(cstring_to_text("value"));
}
