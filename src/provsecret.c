/*
 * provsecret.c: module entry point.
 *
 * _PG_init and the one shared-memory hook chain: each part gets its turn to
 * define its GUCs (the core's first: core/settings.c), the root keys are
 * loaded while the postmaster still owns its environment, and the parts
 * register their shared memory (through the chain below), hooks and workers.
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "utils/guc.h"

#include "audit/audit.h"
#include "core/provsecret.h"
#include "core/redact.h"
#include "core/settings.h"
#include "crypto/keyring.h"
#include "external/external_guard.h"
#include "external/resolver_metrics.h"
#include "outbound/outbound_ipc.h"
#include "outbound/outbound_policy.h"
#include "outbound/outbound_worker.h"
#include "rest/rest_metrics.h"
#include "rest/rest_parse.h"
#include "rest/rest_settings.h"
#include "rest/rest_worker.h"
#include "tenancy/listing_cache.h"
#include "token/token_settings.h"
#include "ui/ui_routes.h"
#include "ui/ui_settings.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static void
shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	ps_rest_metrics_shmem_request();
	ps_audit_shmem_request();
	ps_breaker_shmem_request();
	ps_outbound_shmem_request();
	ps_listing_shmem_request();
	ps_resolver_metrics_shmem_request();
}

static void
shmem_startup(void)
{
	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	ps_rest_metrics_shmem_startup();
	ps_audit_shmem_startup();
	ps_breaker_shmem_startup();
	ps_outbound_shmem_startup();
	ps_listing_shmem_startup();
	ps_resolver_metrics_shmem_startup();
	LWLockRelease(AddinShmemInitLock);
}

void
_PG_init(void)
{
	if (!process_shared_preload_libraries_in_progress)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("provsecret must be loaded via shared_preload_libraries"),
				 errhint("Add provsecret to shared_preload_libraries and restart the server.")));

	/*
	 * Before anything parses JSON, in every process: jansson's blocks (which
	 * hold tokens and resolved values) are wiped when freed.
	 */
	ps_rest_json_use_secure_alloc();
	ps_core_define_gucs();
	ps_outbound_policy_define_gucs();
	ps_audit_define_gucs();
	ps_token_define_gucs();
	ps_rest_define_gucs();
	ps_ui_define_gucs();
	ps_ui_register();
	ps_keyring_load();
	ps_redact_init();
	ps_rest_register_workers();

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = shmem_startup;
	ps_listing_install_hook();
	ps_audit_register_worker();
	ps_outbound_register();

	/* last: every part has defined its provsecret.* settings by now */
	MarkGUCPrefixReserved("provsecret");
}
