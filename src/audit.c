/*
 * audit.c: recording audit events.
 *
 * First cut: the event is inserted in the caller's transaction.  Durable
 * events (reveals, denials) move to the audit worker, which commits them
 * independently; the interface stays the same.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "provsecret.h"
#include "audit.h"
#include "authz.h"
#include "identity.h"
#include "query.h"

static MemoryContext ps_call_context = NULL;
static char *ps_channel = NULL;
static char *ps_client_addr = NULL;
static char *ps_request_id = NULL;

static SPIPlanPtr plan_insert = NULL;

static void
ps_audit_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PARALLEL_COMMIT || event == XACT_EVENT_PARALLEL_ABORT ||
		event == XACT_EVENT_PREPARE)
	{
		if (ps_call_context != NULL)
			MemoryContextReset(ps_call_context);
		ps_channel = ps_client_addr = ps_request_id = NULL;
	}
}

void
ps_audit_set_call_context(const char *channel, const char *client_addr,
						  const char *request_id)
{
	if (ps_call_context == NULL)
	{
		ps_call_context = AllocSetContextCreate(TopMemoryContext,
												"provsecret call context",
												ALLOCSET_SMALL_SIZES);
		RegisterXactCallback(ps_audit_xact_callback, NULL);
	}
	MemoryContextReset(ps_call_context);
	ps_channel = channel ? MemoryContextStrdup(ps_call_context, channel) : NULL;
	ps_client_addr = client_addr ? MemoryContextStrdup(ps_call_context, client_addr) : NULL;
	ps_request_id = request_id ? MemoryContextStrdup(ps_call_context, request_id) : NULL;
}

static Datum
ps_text_or_null(const char *s, char *null_flag)
{
	*null_flag = s ? ' ' : 'n';
	return s ? CStringGetTextDatum(s) : (Datum) 0;
}

void
ps_audit_record(const PsAuditEvent *event, bool durable)
{
	Oid			argtypes[12] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID,
		TEXTOID, TEXTOID, TEXTOID, INT4OID, TEXTOID, INT8OID, TEXTOID};
	Datum		values[12];
	char		nulls[12];
	const char *principal = ps_authz_audit_principal();
	PsIdentity	identity;

	values[0] = ps_text_or_null(event->action, &nulls[0]);
	values[1] = ps_text_or_null(event->reference, &nulls[1]);
	values[2] = ps_text_or_null(event->company, &nulls[2]);
	values[3] = ps_text_or_null(event->project, &nulls[3]);
	values[4] = ps_text_or_null(principal, &nulls[4]);
	values[5] = ps_text_or_null(ps_channel ? ps_channel : "sql", &nulls[5]);
	values[6] = ps_text_or_null(ps_client_addr, &nulls[6]);
	values[7] = ps_text_or_null(ps_request_id, &nulls[7]);
	values[8] = Int32GetDatum(event->value_version);
	nulls[8] = event->value_version > 0 ? ' ' : 'n';
	values[9] = ps_text_or_null(event->outcome, &nulls[9]);
	values[10] = Int64GetDatum(event->count > 0 ? event->count : 1);
	nulls[10] = ' ';
	values[11] = ps_text_or_null(event->detail, &nulls[11]);

	ps_identity_enter(PS_ACT_OWNER, &identity);
	SPI_connect();
	ps_query_plan(&plan_insert,
				  "INSERT INTO provsecret.audit_event"
				  " (action, reference, company, project, principal, channel,"
				  "  client_addr, request_id, value_version, outcome, count, detail)"
				  " VALUES ($1, $2, $3, $4, $5, $6,"
				  "  COALESCE($7::pg_catalog.inet, pg_catalog.inet_client_addr()),"
				  "  $8, $9, $10, $11, $12)",
				  12, argtypes);
	ps_query_run(plan_insert, values, nulls, false, 0);
	SPI_finish();
	ps_identity_leave(&identity);
}
