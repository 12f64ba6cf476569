/*
 * rest_health.c: whether this REST worker can serve: the extension is
 * installed in provsecret.database and a root key is usable.  The worker
 * looks again every few seconds; /healthz and every route read the answer.
 * /readyz adds the audit worker, recovery and a catalog read of its own.
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "commands/extension.h"
#include "pgstat.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "audit/audit_queue.h"
#include "crypto/keyring.h"
#include "rest/rest_health.h"

/* How often the worker looks for the extension (ms), before and after. */
#define READY_RECHECK_MISSING_MS 2000
#define READY_RECHECK_PRESENT_MS 5000

static bool extension_ready = false;
static bool check_failed = false;	/* the last look raised an error */
static const char *not_ready_reason = "the REST worker is starting";
static TimestampTz ready_checked_at = 0;
static char key_problem[256] = "";	/* why no root key is usable, or "" */

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
void
ps_rest_health_check(void)
{
	MemoryContext oldcxt = CurrentMemoryContext;

	PG_TRY();
	{
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		extension_ready = OidIsValid(get_extension_oid("provsecret", true));
		check_failed = false;
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
		check_failed = true;
		not_ready_reason = "could not check for extension provsecret";
	}
	PG_END_TRY();
	MemoryContextSwitchTo(oldcxt);
	pgstat_report_stat(false);
	ready_checked_at = GetCurrentTimestamp();
}

long
ps_rest_health_check_due_ms(void)
{
	long		interval = extension_ready ? READY_RECHECK_PRESENT_MS : READY_RECHECK_MISSING_MS;
	TimestampTz due = TimestampTzPlusMilliseconds(ready_checked_at, interval);
	long		ms = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), due);

	return ms;
}

const char *
ps_rest_not_ready(bool in_transaction, const char **message)
{
	PsAuditQueueStatus audit;

	if (!extension_ready)
	{
		*message = not_ready_reason;
		if (check_failed)
			return "database_unavailable";
		return ready_checked_at == 0 ? "starting" : "extension_missing";
	}
	if (key_problem[0] != '\0')
	{
		*message = "no usable root key";
		return "no_root_key";
	}
	ps_audit_queue_status(&audit);
	if (audit.worker_pid == 0)
	{
		/* reveals would fail closed until it is back (docs/audit.md) */
		*message = "the audit worker is not running";
		return "audit_worker_down";
	}
	if (!in_transaction)
		return NULL;
	if (RecoveryInProgress())
	{
		*message = "this server is a standby";
		return "standby";
	}
	if (!OidIsValid(get_extension_oid("provsecret", true)))
	{
		*message = "extension provsecret is not installed in provsecret.database";
		return "extension_missing";
	}
	return NULL;
}
