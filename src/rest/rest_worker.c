/*
 * rest_worker.c: the "provsecret rest" background workers.
 *
 * Each worker connects to provsecret.database, opens its libmicrohttpd
 * daemons (rest_listen.c) and runs one loop: wait on the latch and the
 * daemons' epoll descriptors, let MHD read and write, then run every request
 * that became ready in one transaction (rest_batch.c) and release the
 * answers.  No thread, so a crash or a signal behaves as in any backend.
 */
#include "postgres.h"

#include <sys/resource.h>

#include "access/xact.h"
#include "commands/extension.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "rest/http.h"
#include "crypto/keyring.h"
#include "audit/audit.h"
#include "core/provsecret.h"
#include "rest/rest_batch.h"
#include "rest/rest_listen.h"
#include "rest/rest_metrics.h"
#include "rest/rest_worker.h"
#include "rest/routes.h"

char	   *ps_rest_listen_addresses = NULL;
int			ps_rest_port = 8787;
int			ps_rest_workers = 1;
int			ps_rest_max_connections = 512;
int			ps_rest_idle_timeout = 10;
int			ps_rest_max_body = 65536;
char	   *ps_rest_tls_cert_file = NULL;
char	   *ps_rest_tls_key_file = NULL;
bool		ps_rest_allow_plain_http = false;

/* How often the worker looks for the extension (ms), before and after. */
#define READY_RECHECK_MISSING_MS 2000
#define READY_RECHECK_PRESENT_MS 5000

static bool extension_ready = false;
static const char *not_ready_reason = "the REST worker is starting";
static TimestampTz ready_checked_at = 0;
static char key_problem[256] = "";	/* why no root key is usable, or "" */

void
ps_rest_define_gucs(void)
{
	DefineCustomStringVariable("provsecret.rest_listen_addresses",
							   "Addresses the REST listener binds (comma-separated; empty disables REST).",
							   NULL, &ps_rest_listen_addresses, "127.0.0.1",
							   PGC_SIGHUP, GUC_LIST_INPUT, NULL, NULL, NULL);
	DefineCustomIntVariable("provsecret.rest_port",
							"TCP port of the REST listener.",
							NULL, &ps_rest_port, 8787, 1, 65535,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("provsecret.rest_workers",
							"Number of REST listener workers (they share the port with SO_REUSEPORT).",
							NULL, &ps_rest_workers, 1, 1, 64,
							PGC_POSTMASTER, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("provsecret.rest_max_connections",
							"Most open REST connections per listener.",
							NULL, &ps_rest_max_connections, 512, 1, 100000,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("provsecret.rest_idle_timeout",
							"Seconds a REST connection may stay idle or slow before it is closed.",
							NULL, &ps_rest_idle_timeout, 10, 1, 3600,
							PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("provsecret.rest_max_body",
							"Largest REST request body.",
							NULL, &ps_rest_max_body, 65536, 1024, 64 * 1024 * 1024,
							PGC_SIGHUP, GUC_UNIT_BYTE, NULL, NULL, NULL);
	DefineCustomStringVariable("provsecret.rest_tls_cert_file",
							   "PEM certificate (chain) of the REST listener; enables TLS with rest_tls_key_file.",
							   NULL, &ps_rest_tls_cert_file, "",
							   PGC_SIGHUP, GUC_SUPERUSER_ONLY, NULL, NULL, NULL);
	DefineCustomStringVariable("provsecret.rest_tls_key_file",
							   "PEM private key of the REST listener.",
							   NULL, &ps_rest_tls_key_file, "",
							   PGC_SIGHUP, GUC_SUPERUSER_ONLY, NULL, NULL, NULL);
	DefineCustomBoolVariable("provsecret.rest_allow_plain_http",
							 "Allow plain HTTP on non-loopback REST listen addresses.",
							 NULL, &ps_rest_allow_plain_http, false,
							 PGC_SIGHUP, 0, NULL, NULL, NULL);
}

void
ps_rest_register_workers(void)
{
	BackgroundWorker worker;

	if (!process_shared_preload_libraries_in_progress)
		return;
	ps_rest_metrics_init();
	for (int i = 0; i < ps_rest_workers; i++)
	{
		memset(&worker, 0, sizeof(worker));
		worker.bgw_flags = BGWORKER_SHMEM_ACCESS |
			BGWORKER_BACKEND_DATABASE_CONNECTION;
		worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
		worker.bgw_restart_time = 1;
		strlcpy(worker.bgw_library_name, "provsecret", BGW_MAXLEN);
		strlcpy(worker.bgw_function_name, "ps_rest_worker_main", BGW_MAXLEN);
		snprintf(worker.bgw_name, BGW_MAXLEN, "provsecret rest %d", i + 1);
		strlcpy(worker.bgw_type, "provsecret rest", BGW_MAXLEN);
		worker.bgw_main_arg = Int32GetDatum(i);
		RegisterBackgroundWorker(&worker);
	}
}

bool
ps_rest_healthy(const char **reason)
{
	if (!ps_rest_ready(reason))
		return false;
	if (key_problem[0] != '\0')
	{
		*reason = key_problem;
		return false;
	}
	return true;
}

bool
ps_rest_ready(const char **reason)
{
	if (!extension_ready && reason)
		*reason = not_ready_reason;
	return extension_ready;
}

/* Look for the extension in our database; a failed look is "not ready". */
static void
check_ready(void)
{
	MemoryContext oldcxt = CurrentMemoryContext;

	PG_TRY();
	{
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		extension_ready = OidIsValid(get_extension_oid("provsecret", true));
		key_problem[0] = '\0';
		PG_TRY();
		{
			(void) ps_keyring_current();
		}
		PG_CATCH();
		{
			ErrorData  *edata;

			MemoryContextSwitchTo(oldcxt);
			edata = CopyErrorData();
			FlushErrorState();
			/* the keyring's messages name variables, never key material */
			strlcpy(key_problem, edata->message ? edata->message : "no usable root key",
					sizeof(key_problem));
			FreeErrorData(edata);
		}
		PG_END_TRY();
		CommitTransactionCommand();
		not_ready_reason = "extension provsecret is not installed in provsecret.database (run CREATE EXTENSION provsecret)";
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(oldcxt);
		EmitErrorReport();
		FlushErrorState();
		AbortCurrentTransaction();
		extension_ready = false;
		not_ready_reason = "could not check for extension provsecret";
	}
	PG_END_TRY();
	MemoryContextSwitchTo(oldcxt);
	pgstat_report_stat(false);
	ready_checked_at = GetCurrentTimestamp();
}

static long
ms_until_ready_check(void)
{
	long		interval = extension_ready ? READY_RECHECK_PRESENT_MS : READY_RECHECK_MISSING_MS;
	TimestampTz due = TimestampTzPlusMilliseconds(ready_checked_at, interval);
	long		ms = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), due);

	return ms;
}

static WaitEventSet *
build_wait_set(void)
{
	WaitEventSet *set = CreateWaitEventSet(TopMemoryContext,
										   2 + ps_rest_listen_count());

	AddWaitEventToSet(set, WL_LATCH_SET, PGINVALID_SOCKET, MyLatch, NULL);
	AddWaitEventToSet(set, WL_EXIT_ON_PM_DEATH, PGINVALID_SOCKET, NULL, NULL);
	for (int i = 0; i < ps_rest_listen_count(); i++)
		AddWaitEventToSet(set, WL_SOCKET_READABLE, ps_rest_listen_epoll_fd(i),
						  NULL, NULL);
	return set;
}

/* 1,000 idle clients need more descriptors than a backend usually gets. */
static void
raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max)
	{
		rl.rlim_cur = rl.rlim_max;
		(void) setrlimit(RLIMIT_NOFILE, &rl);
	}
}

void
ps_rest_worker_main(Datum main_arg)
{
	char	   *signature;
	WaitEventSet *set;
	MemoryContext loop_cxt;
	long		limits_ms = -1;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
	BackgroundWorkerUnblockSignals();
	raise_fd_limit();

	BackgroundWorkerInitializeConnection(ps_database, NULL, 0);
	pgstat_report_appname("provsecret rest");
	/* answers leave only after their batch commits (rest_batch.c) */
	ps_audit_answers_after_commit();
	/*
	 * Batches of two workers can wait on each other's row locks; find such
	 * a cycle quickly (the losing request is run again in the next batch).
	 */
	SetConfigOption("deadlock_timeout", "50ms", PGC_SUSET, PGC_S_OVERRIDE);
	/*
	 * One process serves every client: a request that would wait long for a
	 * lock (a seal behind a rotation batch left open) answers 503 instead of
	 * holding up everyone else's.
	 */
	SetConfigOption("lock_timeout", "2s", PGC_SUSET, PGC_S_OVERRIDE);
	ps_routes_init();
	check_ready();

	ps_rest_listen_start();
	signature = MemoryContextStrdup(TopMemoryContext, ps_rest_listen_signature());
	set = build_wait_set();
	loop_cxt = AllocSetContextCreate(TopMemoryContext, "provsecret rest loop",
									 ALLOCSET_DEFAULT_SIZES);

	while (!ShutdownRequestPending)
	{
		WaitEvent	events[8];
		long		timeout = ps_rest_listen_timeout_ms();
		long		ready_ms = ms_until_ready_check();

		if (timeout < 0 || timeout > ready_ms)
			timeout = Max(ready_ms, 0);
		if (limits_ms >= 0 && limits_ms < timeout)
			timeout = limits_ms;
		if (!dlist_is_empty(&ps_http_pending))
			timeout = 0;
		(void) WaitEventSetWait(set, timeout, events, lengthof(events),
								PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		if (ShutdownRequestPending)
			break;
		if (ConfigReloadPending)
		{
			char	   *now;

			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
			now = ps_rest_listen_signature();
			if (strcmp(now, signature) != 0)
			{
				/* MHD refuses to stop with suspended connections */
				while (!dlist_is_empty(&ps_http_pending))
				{
					ps_rest_run_batch();
					ps_rest_listen_run();
				}
				ps_rest_listen_stop();
				ps_rest_listen_start();
				pfree(signature);
				signature = MemoryContextStrdup(TopMemoryContext, now);
				FreeWaitEventSet(set);
				set = build_wait_set();
			}
			pfree(now);
		}
		if (ms_until_ready_check() <= 0)
			check_ready();

		MemoryContextSwitchTo(loop_cxt);
		ps_rest_listen_run();
		limits_ms = ps_http_enforce_limits(ps_rest_max_connections,
										   ps_rest_idle_timeout);
		/* resumed connections answer in MHD_run; new ones may arrive too */
		for (int round = 0; round < 16 && !dlist_is_empty(&ps_http_pending); round++)
		{
			ps_rest_run_batch();
			ps_rest_listen_run();
		}
		MemoryContextSwitchTo(TopMemoryContext);
		MemoryContextReset(loop_cxt);
	}
	while (!dlist_is_empty(&ps_http_pending))
	{
		ps_rest_run_batch();
		ps_rest_listen_run();
	}
	ps_rest_listen_stop();
	/* non-zero: a worker ended by pg_terminate_backend comes back */
	proc_exit(1);
}
