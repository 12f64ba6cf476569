/*
 * provsecret.c: module entry point.
 *
 * Defines the GUCs of the core, loads the root keys while the postmaster
 * still owns its environment, and hands the other parts their turn to
 * register GUCs, shared memory and workers.
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "utils/guc.h"

#include "core/provsecret.h"
#include "audit/audit.h"
#include "external/external_guard.h"
#include "external/resolver_metrics.h"
#include "crypto/keyring.h"
#include "tenancy/listing_cache.h"
#include "outbound/outbound_ipc.h"
#include "outbound/outbound_policy.h"
#include "outbound/outbound_worker.h"
#include "core/redact.h"
#include "rest/rest_metrics.h"
#include "rest/rest_parse.h"
#include "rest/rest_settings.h"
#include "rest/rest_worker.h"
#include "token/token_settings.h"

PG_MODULE_MAGIC;

int			ps_mode = PS_MODE_DEPLOYED;
char	   *ps_database = NULL;
char	   *ps_env_allowlist = NULL;
int			ps_keep_versions = 3;

static const struct config_enum_entry ps_mode_options[] = {
	{"local", PS_MODE_LOCAL, false},
	{"deployed", PS_MODE_DEPLOYED, false},
	{NULL, 0, false}
};

void		_PG_init(void);

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static void
ps_shmem_request(void)
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
ps_shmem_startup(void)
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

static void
ps_define_core_gucs(void)
{
	DefineCustomEnumVariable("provsecret.mode",
							 "local allows the built-in development key; deployed requires a root key.",
							 NULL,
							 &ps_mode,
							 PS_MODE_DEPLOYED,
							 ps_mode_options,
							 PGC_POSTMASTER,
							 0,
							 NULL, NULL, NULL);

	DefineCustomStringVariable("provsecret.database",
							   "Database in which the provsecret workers run.",
							   NULL,
							   &ps_database,
							   "postgres",
							   PGC_POSTMASTER,
							   0,
							   NULL, NULL, NULL);

	DefineCustomStringVariable("provsecret.env_allowlist",
							   "Comma-separated environment variable names that env: references may resolve.",
							   NULL,
							   &ps_env_allowlist,
							   "",
							   PGC_SUSET,
							   0,
							   NULL, NULL, NULL);

	DefineCustomStringVariable("provsecret.outbound_allowed_hosts",
							   "Comma-separated hosts (name, IP address, optionally :port) that resolvers may call over plain http:// or at a loopback, private or link-local address.",
							   NULL,
							   &ps_outbound_allowed_hosts,
							   "",
							   PGC_SUSET,
							   0,
							   ps_outbound_allowed_hosts_check,
							   ps_outbound_allowed_hosts_assign,
							   NULL);

	DefineCustomBoolVariable("provsecret.metrics_resolver_names",
							 "Label the resolver series of /metrics with resolver names instead of kinds (the page needs no token).",
							 NULL,
							 &ps_resolver_metrics_names,
							 false,
							 PGC_SIGHUP,
							 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("provsecret.keep_versions",
							"Number of earlier versions kept for each secret.",
							NULL,
							&ps_keep_versions,
							3,
							0,
							1000,
							PGC_SUSET,
							0,
							NULL, NULL, NULL);
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
	ps_define_core_gucs();
	ps_audit_define_gucs();
	ps_token_define_gucs();
	ps_rest_define_gucs();
	ps_keyring_load();
	ps_redact_init();
	ps_rest_register_workers();

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = ps_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = ps_shmem_startup;
	ps_audit_register_worker();
	ps_outbound_register();

	/* last: every part has defined its provsecret.* settings by now */
	MarkGUCPrefixReserved("provsecret");
}
