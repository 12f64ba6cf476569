/*
 * audit.c: the audit API used by the secret operations.
 *
 * Durable events (reveals, denials) go through the shared-memory queue to the
 * audit worker and are committed before ps_audit_record returns.  Events that
 * describe the caller's own changes are inserted into
 * provsecret.audit_pending in the caller's transaction, so they exist exactly
 * when the change does; the worker moves committed ones into the chain.
 */
#include "postgres.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/inet.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "audit/audit.h"
#include "audit/audit_forward.h"
#include "audit/audit_queue.h"
#include "audit/audit_summary.h"
#include "audit/audit_worker.h"
#include "core/distributed.h"
#include "core/identity.h"
#include "core/principal.h"
#include "core/provsecret.h"
#include "core/query.h"

typedef enum PsAuditLevel
{
	PS_AUDIT_LEVEL_ALL,
	PS_AUDIT_LEVEL_SUMMARY
} PsAuditLevel;

static const struct config_enum_entry audit_level_options[] = {
	{"all", PS_AUDIT_LEVEL_ALL, false},
	{"summary", PS_AUDIT_LEVEL_SUMMARY, false},
	{NULL, 0, false}
};

static int	audit_level = PS_AUDIT_LEVEL_ALL;

/* Call context of the current transaction (TopMemoryContext copies). */
static char *context_channel = NULL;
static char *context_client_addr = NULL;
static char *context_request_id = NULL;
static bool context_callback_registered = false;
static bool pending_inserted = false;

static SPIPlanPtr pending_plan = NULL;

void
ps_audit_define_gucs(void)
{
	DefineCustomEnumVariable("provsecret.audit_level",
							 "all: one event per reveal; summary: SQL reveals counted per secret, principal and minute.",
							 NULL, &audit_level, PS_AUDIT_LEVEL_ALL,
							 audit_level_options, PGC_SUSET, 0,
							 NULL, NULL, NULL);
	DefineCustomIntVariable("provsecret.audit_timeout",
							"How long a reveal waits for its audit event to be committed before failing.",
							NULL, &ps_audit_timeout_ms, 5000, 10, 600000,
							PGC_SUSET, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("provsecret.audit_queue_size",
							"Slots in the shared-memory audit queue.",
							NULL, &ps_audit_queue_size, 1024, 16, 65536,
							PGC_POSTMASTER, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("provsecret.audit_summary_entries",
							"Reveal counters held in shared memory for audit_level = summary; the worker writes them early when three quarters are in use.",
							NULL, &ps_audit_summary_entries_max, 16384, 64, 1048576,
							PGC_POSTMASTER, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("provsecret.audit_summary_interval",
							"How often the audit worker writes summary counters.",
							NULL, &ps_audit_summary_interval_ms, 10000, 100, 3600000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomStringVariable("provsecret.primary_conninfo",
							   "On a hot standby: where reveal events are recorded; empty means primary_conninfo.",
							   NULL, &ps_audit_primary_conninfo, "",
							   PGC_SIGHUP, GUC_SUPERUSER_ONLY, NULL, NULL, NULL);
}

void
ps_audit_register_worker(void)
{
	BackgroundWorker worker;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = 1;
	strlcpy(worker.bgw_library_name, "provsecret", BGW_MAXLEN);
	strlcpy(worker.bgw_function_name, "ps_audit_worker_main", BGW_MAXLEN);
	strlcpy(worker.bgw_name, "provsecret audit", BGW_MAXLEN);
	strlcpy(worker.bgw_type, "provsecret audit", BGW_MAXLEN);
	RegisterBackgroundWorker(&worker);
}

void
ps_audit_shmem_request(void)
{
	ps_audit_queue_request_lock();
	ps_audit_summary_request_lock();
	RequestAddinShmemSpace(add_size(ps_audit_queue_shmem_size(),
									ps_audit_summary_shmem_size()));
}

/* Called with AddinShmemInitLock held by the hook chain. */
void
ps_audit_shmem_startup(void)
{
	ps_audit_queue_shmem_init();
	ps_audit_summary_shmem_init();
}

static void
reset_call_context(void)
{
	if (context_channel)
		pfree(context_channel);
	if (context_client_addr)
		pfree(context_client_addr);
	if (context_request_id)
		pfree(context_request_id);
	context_channel = context_client_addr = context_request_id = NULL;
}

static void
audit_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
			if (pending_inserted)
				ps_audit_queue_wake_worker(true);
			/* FALLTHROUGH */
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			/* prepared: its events are the prepared transaction's now */
		case XACT_EVENT_PREPARE:
			pending_inserted = false;
			reset_call_context();
			break;
		default:
			break;
	}
}

static void
ensure_xact_callback(void)
{
	if (!context_callback_registered)
	{
		RegisterXactCallback(audit_xact_callback, NULL);
		context_callback_registered = true;
	}
}

void
ps_audit_set_call_context(const char *channel, const char *client_addr,
						  const char *request_id)
{
	ensure_xact_callback();
	reset_call_context();
	context_channel = channel ? MemoryContextStrdup(TopMemoryContext, channel) : NULL;
	context_client_addr = client_addr ? MemoryContextStrdup(TopMemoryContext, client_addr) : NULL;
	context_request_id = request_id ? MemoryContextStrdup(TopMemoryContext, request_id) : NULL;
}

/* The SQL session's client address; NULL over a Unix socket. */
static const char *
session_client_addr(void)
{
	LOCAL_FCINFO(fcinfo, 0);
	Datum		addr;

	InitFunctionCallInfoData(*fcinfo, NULL, 0, InvalidOid, NULL, NULL);
	addr = inet_client_addr(fcinfo);
	if (fcinfo->isnull)
		return NULL;
	return DatumGetCString(DirectFunctionCall1(inet_out, addr));
}

/*
 * audit_event.client_addr is inet: store the canonical text the column will
 * give back (the chain hashes it), NULL when it is no address, so a bad
 * address from a caller can never fail the worker's whole batch.
 */
static const char *
canonical_addr(const char *addr)
{
	unsigned char buf[16];
	int			family;
	int			bits;

	if (addr == NULL || strlen(addr) >= PS_AUDIT_ADDR_LEN)
		return NULL;
	family = strchr(addr, ':') ? AF_INET6 : AF_INET;
	bits = pg_inet_net_pton(family, addr, buf, -1);
	if (bits < 0 || bits > (family == AF_INET ? 32 : 128))
		return NULL;
	return DatumGetCString(DirectFunctionCall1(inet_out,
											   DirectFunctionCall1(inet_in, CStringGetDatum(addr))));
}

/*
 * The session's own address in canonical form, worked out once: it cannot
 * change, and formatting and re-parsing it cost more than the rest of a
 * summarized reveal.
 */
static const char *
session_addr_canonical(void)
{
	static bool known = false;
	static char *canonical = NULL;

	if (!known)
	{
		const char *addr = canonical_addr(session_client_addr());

		canonical = addr ? MemoryContextStrdup(TopMemoryContext, addr) : NULL;
		known = true;
	}
	return canonical;
}

static void
fill_record(PsAuditRecord *r, const PsAuditEvent *event)
{
	const char *client_addr;

	if (context_client_addr == NULL && context_channel == NULL)
		client_addr = session_addr_canonical();
	else
		client_addr = canonical_addr(context_client_addr);

	memset(r, 0, sizeof(*r));
	r->at = GetCurrentTimestamp();
	r->value_version = event->value_version;
	r->count = event->count > 0 ? event->count : 1;
	ps_audit_copy_field(r->action, PS_AUDIT_ACTION_LEN, event->action);
	ps_audit_copy_field(r->reference, PS_AUDIT_REFERENCE_LEN, event->reference);
	ps_audit_copy_field(r->company, PS_AUDIT_NAME_LEN, event->company);
	ps_audit_copy_field(r->project, PS_AUDIT_NAME_LEN, event->project);
	ps_audit_copy_field(r->principal, PS_AUDIT_PRINCIPAL_LEN, ps_authz_audit_principal());
	ps_audit_copy_field(r->channel, PS_AUDIT_CHANNEL_LEN,
						context_channel ? context_channel : "sql");
	ps_audit_copy_field(r->client_addr, PS_AUDIT_ADDR_LEN, client_addr);
	ps_audit_copy_field(r->request_id, PS_AUDIT_REQUEST_ID_LEN, context_request_id);
	ps_audit_copy_field(r->outcome, PS_AUDIT_OUTCOME_LEN,
						event->outcome ? event->outcome : "ok");
	ps_audit_copy_field(r->detail, PS_AUDIT_DETAIL_LEN, event->detail);
}

static Datum
nullable_text(const char *s, char *null_flag)
{
	if (s[0] == '\0')
	{
		*null_flag = 'n';
		return (Datum) 0;
	}
	*null_flag = ' ';
	return CStringGetTextDatum(s);
}

/* Insert into audit_pending as the extension owner (callers hold no grant). */
static void
insert_pending(const PsAuditRecord *r)
{
	Oid			types[13] = {TIMESTAMPTZOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID,
		TEXTOID, TEXTOID, TEXTOID, TEXTOID, INT4OID, TEXTOID, INT8OID, TEXTOID};
	Datum		values[13];
	char		nulls[14];
	PsIdentity	identity;

	memset(nulls, ' ', sizeof(nulls));
	nulls[13] = '\0';
	values[0] = TimestampTzGetDatum(r->at);
	values[1] = CStringGetTextDatum(r->action);
	values[2] = nullable_text(r->reference, &nulls[2]);
	values[3] = nullable_text(r->company, &nulls[3]);
	values[4] = nullable_text(r->project, &nulls[4]);
	values[5] = CStringGetTextDatum(r->principal);
	values[6] = CStringGetTextDatum(r->channel);
	values[7] = nullable_text(r->client_addr, &nulls[7]);
	values[8] = nullable_text(r->request_id, &nulls[8]);
	values[9] = Int32GetDatum(r->value_version);
	nulls[9] = r->value_version == 0 ? 'n' : ' ';
	values[10] = CStringGetTextDatum(r->outcome);
	values[11] = Int64GetDatum(r->count);
	values[12] = nullable_text(r->detail, &nulls[12]);

	ps_identity_enter(PS_ACT_OWNER, &identity);
	SPI_connect();
	ps_query_plan(&pending_plan,
				  "INSERT INTO provsecret.audit_pending"
				  " (at, action, reference, company, project, principal, channel,"
				  "  client_addr, request_id, value_version, outcome, count, detail)"
				  " VALUES ($1, $2, $3, $4, $5, $6, $7, $8::pg_catalog.inet, $9, $10,"
				  "  $11, $12, $13)",
				  13, types);
	ps_query_run(pending_plan, values, nulls, false, 0);
	SPI_finish();
	ps_identity_leave(&identity);
	pending_inserted = true;
}

/* see ps_audit_answers_after_commit() */
static bool answers_after_commit = false;

/*
 * audit_level = summary: a successful SQL reveal goes to its counter,
 * without building the queue's record.  False when it was not counted.
 */
static bool
count_in_summary(const PsAuditEvent *event)
{
	PsSummaryReveal reveal;
	bool		wake_worker;
	bool		counted;

	if (audit_level != PS_AUDIT_LEVEL_SUMMARY ||
		(context_channel != NULL && strcmp(context_channel, "sql") != 0) ||
		strcmp(event->action, "secret.revealed") != 0 ||
		(event->outcome != NULL && strcmp(event->outcome, "ok") != 0))
		return false;
	reveal.at = GetCurrentTimestamp();
	reveal.reference = event->reference ? event->reference : "";
	reveal.principal = ps_authz_audit_principal();
	reveal.company = event->company ? event->company : "";
	reveal.project = event->project ? event->project : "";
	reveal.value_version = event->value_version;
	counted = ps_audit_summary_count(&reveal, &wake_worker);
	if (wake_worker)
		ps_audit_queue_wake_worker(false);
	return counted;
}

void
ps_audit_record(const PsAuditEvent *event, bool durable)
{
	PsAuditRecord record;

	ensure_xact_callback();

	/*
	 * Under Citus the audit trail lives on the coordinator only (docs/
	 * citus.md): an event recorded on a worker node would never reach it,
	 * so nothing audited is done there.
	 */
	if (ps_tables_distributed() && ps_citus_worker_node())
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("provsecret runs on the Citus coordinator, not on a worker node"),
				 errdetail("Its audit trail is kept on the coordinator."),
				 errhint("Connect to the coordinator.")));

	/*
	 * A standby writes nothing: its durable events are recorded by the
	 * primary (summary counters could never be written here either); a
	 * change event fails below with the usual read-only error.
	 */
	if (durable && RecoveryInProgress())
	{
		fill_record(&record, event);
		ps_audit_forward(&record);
		return;
	}
	if (count_in_summary(event))
		return;

	fill_record(&record, event);
	if (durable && !(answers_after_commit &&
					 strcmp(record.action, "secret.revealed") == 0 &&
					 strcmp(record.outcome, "ok") == 0))
		ps_audit_queue_submit(&record);
	else
		insert_pending(&record);
}

void
ps_audit_answers_after_commit(void)
{
	answers_after_commit = true;
}
