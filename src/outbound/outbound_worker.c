/*
 * outbound_worker.c: the "provsecret outbound" background worker.
 *
 * One long-lived curl multi handle (outbound_engine.c) carries every call,
 * so connections to a backend are reused across calls and sessions; the
 * loop waits on one WaitEventSet holding the latch, postmaster death and
 * curl's sockets.  A set latch means new calls in the slot table, or a
 * caller that gave up (its transfer is then dropped).  SIGTERM ends the
 * calls in flight (their callers see the queues detached) and exits;
 * SIGHUP reloads the settings (the connection pool size).
 *
 * Host names are resolved with a blocking getaddrinfo in this process, not
 * by curl's threaded resolver: no threads here, and a slow DNS server holds
 * up only this worker's other transfers, never a backend.
 */
#include "postgres.h"

#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "utils/guc.h"
#include "utils/memutils.h"

#include "core/provsecret.h"
#include "outbound/outbound_engine.h"
#include "outbound/outbound_ipc.h"
#include "outbound/outbound_serve.h"
#include "outbound/outbound_worker.h"

bool		ps_outbound_in_worker = false;

static int	max_connections = 32;

void
ps_outbound_register(void)
{
	BackgroundWorker worker;

	DefineCustomIntVariable("provsecret.outbound_max_calls",
							"Outbound HTTP calls (external resolvers, JWKS) that may wait for or run in the outbound worker at once.",
							NULL, &ps_outbound_max_calls, 64, 1, 1024,
							PGC_POSTMASTER, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("provsecret.outbound_max_connections",
							"Connections the outbound worker keeps open (busy and idle for reuse), to all servers together.",
							NULL, &max_connections, 32, 1, 256,
							PGC_SIGHUP, 0, NULL, NULL, NULL);

	memset(&worker, 0, sizeof(worker));
	/* a connection to no database: listed in pg_stat_activity */
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_ConsistentState;
	worker.bgw_restart_time = 1;
	strlcpy(worker.bgw_library_name, "provsecret", BGW_MAXLEN);
	strlcpy(worker.bgw_function_name, "ps_outbound_worker_main", BGW_MAXLEN);
	strlcpy(worker.bgw_name, "provsecret outbound", BGW_MAXLEN);
	strlcpy(worker.bgw_type, "provsecret outbound", BGW_MAXLEN);
	RegisterBackgroundWorker(&worker);
}

/* The calls in progress, by slot. */
static PsOutboundCall **calls;

static void
end_call(PsOutboundEngine *engine, PsOutboundCall *call)
{
	if (call->transfer)
		ps_outbound_engine_finish(engine, call->transfer);
	if (calls[call->slot] == call)
		calls[call->slot] = NULL;
	ps_outbound_serve_release(call);
}

static void
start_calls(PsOutboundEngine *engine, MemoryContext cxt)
{
	PsOutboundCall *call;

	while ((call = ps_outbound_serve_take(cxt)) != NULL)
	{
		PsOutboundResult failed = {0};

		/*
		 * A caller that gave up frees its slot; a new call may take it before
		 * the old one was noticed as abandoned.  The old one is over.
		 */
		if (calls[call->slot] != NULL)
			end_call(engine, calls[call->slot]);
		calls[call->slot] = call;
		call->transfer = ps_outbound_engine_start(engine, &call->req, call,
												  failed.error, sizeof(failed.error));
		/* one frame in an empty ring: sent at once */
		if (call->transfer == NULL && ps_outbound_serve_reply(call, &failed))
			end_call(engine, call);
	}
}

/*
 * Drop the calls whose callers gave up (cancel, timeout, exit); go on with
 * answers the callers have made room for.
 */
static void
drop_abandoned(PsOutboundEngine *engine)
{
	for (int i = 0; i < ps_outbound_max_calls; i++)
	{
		PsOutboundCall *call = calls[i];

		if (call == NULL)
			continue;
		if (ps_outbound_serve_caller_gone(call) ||
			(call->frame && ps_outbound_serve_reply_more(call)))
			end_call(engine, call);
	}
}

static void
answer_finished(PsOutboundEngine *engine)
{
	PsOutboundTransfer *t;
	PsOutboundResult result;
	void	   *owner;

	/* the transfer (its buffer) lives until the whole answer is sent */
	while ((t = ps_outbound_engine_next_done(engine, &result, &owner)) != NULL)
		if (ps_outbound_serve_reply((PsOutboundCall *) owner, &result))
			end_call(engine, (PsOutboundCall *) owner);
}

void
ps_outbound_worker_main(Datum main_arg)
{
	PsOutboundEngine *engine;
	MemoryContext calls_cxt;
	MemoryContext loop_cxt;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	ps_outbound_in_worker = true;

	calls = MemoryContextAllocZero(TopMemoryContext,
								   ps_outbound_max_calls * sizeof(PsOutboundCall *));
	calls_cxt = AllocSetContextCreate(TopMemoryContext, "provsecret outbound calls",
									  ALLOCSET_DEFAULT_SIZES);
	loop_cxt = AllocSetContextCreate(TopMemoryContext, "provsecret outbound loop",
									 ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(TopMemoryContext);
	engine = ps_outbound_engine_create(max_connections);
	ps_outbound_serve_attach_worker();
	/* calls submitted before we attached */
	SetLatch(MyLatch);

	while (!ShutdownRequestPending)
	{
		bool		latch;

		MemoryContextSwitchTo(loop_cxt);
		latch = ps_outbound_engine_wait(engine, -1, PG_WAIT_EXTENSION);
		MemoryContextSwitchTo(TopMemoryContext);
		MemoryContextReset(loop_cxt);
		if (latch)
			ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		if (ShutdownRequestPending)
			break;
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
			ps_outbound_engine_set_pool(engine, max_connections);
		}
		if (latch)
		{
			drop_abandoned(engine);
			start_calls(engine, calls_cxt);
		}
		answer_finished(engine);
	}

	/* callers in flight see the queues detach: "the worker stopped" */
	for (int i = 0; i < ps_outbound_max_calls; i++)
		if (calls[i])
			end_call(engine, calls[i]);
	ps_outbound_engine_destroy(engine);
	/* non-zero: a worker ended by pg_terminate_backend comes back */
	proc_exit(1);
}
