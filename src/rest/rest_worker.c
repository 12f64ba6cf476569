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

#include "audit/audit.h"
#include "core/provsecret.h"
#include "rest/http.h"
#include "rest/rest_batch.h"
#include "rest/rest_health.h"
#include "rest/rest_listen.h"
#include "rest/rest_settings.h"
#include "rest/rest_worker.h"
#include "rest/routes.h"

void
ps_rest_register_workers(void)
{
	BackgroundWorker worker;

	if (!process_shared_preload_libraries_in_progress)
		return;
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
	ps_rest_health_check();

	ps_rest_listen_start();
	signature = MemoryContextStrdup(TopMemoryContext, ps_rest_listen_signature());
	set = build_wait_set();
	loop_cxt = AllocSetContextCreate(TopMemoryContext, "provsecret rest loop",
									 ALLOCSET_DEFAULT_SIZES);

	while (!ShutdownRequestPending)
	{
		WaitEvent	events[8];
		long		timeout = ps_rest_listen_timeout_ms();
		long		ready_ms = ps_rest_health_check_due_ms();

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
		if (ps_rest_health_check_due_ms() <= 0)
			ps_rest_health_check();

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
