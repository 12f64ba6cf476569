/*
 * rest_batch.c: one transaction per wake-up, one subtransaction per request.
 *
 * An error in one request rolls back its subtransaction only and becomes
 * that request's HTTP answer; the worker and the other requests go on.
 */
#include "postgres.h"

#include "access/transam.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "pgstat.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"

#include "audit/audit.h"
#include "audit/audit_queue.h"
#include "core/principal.h"
#include "core/provsecret.h"
#include "rest/http.h"
#include "rest/rest_batch.h"
#include "rest/rest_metrics.h"
#include "rest/routes.h"
#include "rest/vault_routes.h"

/* Conflicts with a concurrent batch (another worker) are tried again. */
#define MAX_RETRIES 3

/* SQLSTATE to HTTP status; messages of 5xx never leave the server. */
static void
answer_error(PsHttpRequest *req, ErrorData *edata)
{
	int			status;

	if ((edata->sqlerrcode == ERRCODE_T_R_DEADLOCK_DETECTED ||
		 edata->sqlerrcode == ERRCODE_T_R_SERIALIZATION_FAILURE ||
		 edata->sqlerrcode == ERRCODE_UNIQUE_VIOLATION) &&
		req->retries < MAX_RETRIES)
	{
		req->retries++;
		req->retry = true;
		return;
	}
	switch (edata->sqlerrcode)
	{
		case ERRCODE_INSUFFICIENT_PRIVILEGE:
			status = 403;
			break;
		case ERRCODE_INVALID_PARAMETER_VALUE:
		case ERRCODE_STRING_DATA_RIGHT_TRUNCATION:
		case ERRCODE_FEATURE_NOT_SUPPORTED:	/* a write to a read-only binding */
			status = 400;
			break;
		case ERRCODE_NO_DATA_FOUND:
			status = 404;
			break;
		case ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE:
		case ERRCODE_LOCK_NOT_AVAILABLE:	/* lock_timeout, see rest_worker.c */
			status = 503;
			break;
		case ERRCODE_IO_ERROR:
			status = 502;
			break;
		case ERRCODE_PS_VERSION_MISMATCH:	/* If-Match, see routes.c */
			status = 412;
			break;
		case ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION:
			status = 401;
			break;
		default:
			status = 500;
			break;
	}
	if (status == 403)
		ps_rest_metrics_count_denial();
	if (status == 500)
	{
		/* the text might quote data: log where, not what */
		ereport(LOG,
				(errmsg("provsecret rest: request %s failed with SQLSTATE %s at %s:%d",
						req->request_id, unpack_sql_state(edata->sqlerrcode),
						edata->filename ? edata->filename : "?", edata->lineno),
				 errhidestmt(true)));
		ps_http_set_error(req, 500, "internal error");
	}
	else
		ps_http_set_error(req, status, edata->message ? edata->message : "error");
}

static void
run_one(PsHttpRequest *req)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(req->cxt);
	PG_TRY();
	{
		PushActiveSnapshot(GetTransactionSnapshot());
		ps_audit_set_call_context(req->dialect ? req->dialect->channel :
								  req->vault ? "vault" : "rest",
								  req->client_addr[0] ? req->client_addr : NULL,
								  req->request_id);
		/* no principals of the previous request may linger */
		ps_authz_set_token_principals(NIL, true);
		if (req->dialect)
			req->dialect->execute(req);
		else if (req->vault)
			ps_vault_execute(req);
		else
			ps_routes_execute(req);
		PopActiveSnapshot();
		ReleaseCurrentSubTransaction();
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(req->cxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(req->cxt);
		answer_error(req, edata);
		FreeErrorData(edata);
	}
	PG_END_TRY();
	MemoryContextSwitchTo(oldcxt);
	CurrentResourceOwner = oldowner;
}

void
ps_rest_run_batch(void)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	dlist_mutable_iter iter;
	volatile bool committed = false;
	volatile int count = 0;
	bool		wrote;

	if (dlist_is_empty(&ps_http_pending))
		return;

	PG_TRY();
	{
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		pgstat_report_activity(STATE_RUNNING, "provsecret rest batch");
		dlist_foreach_modify(iter, &ps_http_pending)
		{
			PsHttpRequest *req = dlist_container(PsHttpRequest, node, iter.cur);

			run_one(req);
			count++;
		}
		wrote = TransactionIdIsValid(GetTopTransactionIdIfAny());
		CommitTransactionCommand();
		committed = true;
		/*
		 * The commit's wait for the synchronous standbys ends early on
		 * postmaster death (ProcDiePending) or a cancel, the commit then
		 * local only: a reveal answered now (its event is in this commit)
		 * or a write could be lost in a failover.  Without a postmaster,
		 * end before any answer leaves; after a cancel, answer 503.
		 */
		if (ProcDiePending)
			proc_exit(1);
		if (wrote && !ps_audit_sync_confirmed(XactLastCommitEnd))
			committed = false;
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(oldcxt);
		EmitErrorReport();
		FlushErrorState();
		AbortCurrentTransaction();
	}
	PG_END_TRY();
	MemoryContextSwitchTo(oldcxt);
	pgstat_report_activity(STATE_IDLE, NULL);
	pgstat_report_stat(false);
	ps_rest_metrics_count_batch(count);

	dlist_foreach_modify(iter, &ps_http_pending)
	{
		PsHttpRequest *req = dlist_container(PsHttpRequest, node, iter.cur);

		if (req->retry && committed)
		{
			/* its subtransaction left nothing behind: stays pending */
			req->retry = false;
			continue;
		}
		/* nothing may be told as done unless it was committed */
		if (!committed)
		{
			MemoryContext c = MemoryContextSwitchTo(req->cxt);

			ps_http_set_error(req, 503, "could not commit the request");
			MemoryContextSwitchTo(c);
		}
		ps_http_resume(req);
	}
}
