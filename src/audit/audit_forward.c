/*
 * audit_forward.c: a hot standby's durable audit events go to the primary.
 *
 * The revealing backend itself sends the event: it already waits for the
 * outcome, and a per-backend connection needs no shared state.  libpq is
 * driven asynchronously (PQconnectPoll, PQsendQueryParams) under
 * WaitLatchOrSocket, as libpqwalreceiver does, so the wait honours
 * provsecret.audit_timeout, cancels and postmaster death.  The connection is
 * kept for the next reveal of the same backend.
 */
#include "postgres.h"

#include "libpq-fe.h"
#include "access/xlog.h"
#include "access/xlogrecovery.h"
#include "common/string.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "storage/latch.h"
#include "utils/builtins.h"
#include "utils/inet.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#include "audit/audit_forward.h"
#include "core/provsecret.h"

char	   *ps_audit_primary_conninfo = NULL;

static PGconn *primary_conn = NULL;

static void
drop_connection(void)
{
	if (primary_conn != NULL)
		PQfinish(primary_conn);
	primary_conn = NULL;
}

static void
forward_failed(const char *why, const char *libpq_message)
{
	char	   *detail = libpq_message ? pstrdup(libpq_message) : NULL;

	drop_connection();
	if (detail)
	{
		size_t		len = strlen(detail);

		while (len > 0 && (detail[len - 1] == '\n' || detail[len - 1] == ' '))
			detail[--len] = '\0';
		pg_clean_ascii(detail);
	}
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("audit event could not be recorded: %s", why),
			 detail ? errdetail_internal("%s", detail) : 0,
			 errhint("This server is a standby; its reveals are recorded on the primary, and the value was not returned.")));
}

/* Wait until the socket is ready for io (WL_SOCKET_*); false on timeout. */
static bool
wait_socket(int io, TimestampTz deadline)
{
	for (;;)
	{
		long		ms = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), deadline);
		int			rc;

		if (ms <= 0)
			return false;
		rc = WaitLatchOrSocket(MyLatch,
							   WL_EXIT_ON_PM_DEATH | WL_LATCH_SET | WL_TIMEOUT | io,
							   PQsocket(primary_conn), ms, PG_WAIT_EXTENSION);
		if (rc & WL_LATCH_SET)
		{
			ResetLatch(MyLatch);
			CHECK_FOR_INTERRUPTS();
		}
		if (rc & io)
			return true;
	}
}

static void
connect_primary(TimestampTz deadline)
{
	const char *conninfo = ps_audit_primary_conninfo;
	const char *keys[5];
	const char *vals[5];
	PostgresPollingStatusType status = PGRES_POLLING_WRITING;

	if (conninfo == NULL || conninfo[0] == '\0')
		conninfo = PrimaryConnInfo;
	if (conninfo == NULL || conninfo[0] == '\0')
		forward_failed("no primary to forward it to (set primary_conninfo or provsecret.primary_conninfo)", NULL);

	/* The first dbname is expanded as a connection string; the second wins. */
	keys[0] = "dbname";
	vals[0] = conninfo;
	keys[1] = "dbname";
	vals[1] = ps_database;
	keys[2] = "fallback_application_name";
	vals[2] = "provsecret audit forwarder";
	keys[3] = "client_encoding";
	vals[3] = GetDatabaseEncodingName();
	keys[4] = NULL;
	vals[4] = NULL;

	primary_conn = PQconnectStartParams(keys, vals, true);
	if (primary_conn == NULL)
		forward_failed("out of memory connecting to the primary", NULL);
	if (PQstatus(primary_conn) == CONNECTION_BAD)
		forward_failed("the primary could not be reached", PQerrorMessage(primary_conn));
	while (status != PGRES_POLLING_OK && status != PGRES_POLLING_FAILED)
	{
		if (!wait_socket(status == PGRES_POLLING_READING
						 ? WL_SOCKET_READABLE : WL_SOCKET_WRITEABLE, deadline))
			forward_failed("the primary did not answer within provsecret.audit_timeout", NULL);
		status = PQconnectPoll(primary_conn);
	}
	if (PQstatus(primary_conn) != CONNECTION_OK)
		forward_failed("the primary could not be reached", PQerrorMessage(primary_conn));
}

/* Send the event and wait for the primary's answer; NULL when it acknowledged. */
static char *
send_event(const PsAuditRecord *r, TimestampTz deadline, bool *lost)
{
	const char *params[13];
	char		at[32];
	char		version[16];
	char		count[32];
	PGresult   *res;
	char	   *error = NULL;

	*lost = false;
	/* Microseconds since the Unix epoch: independent of DateStyle. */
	snprintf(at, sizeof(at), INT64_FORMAT,
			 (int64) (r->at + (int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * USECS_PER_DAY));
	snprintf(version, sizeof(version), "%d", r->value_version);
	snprintf(count, sizeof(count), INT64_FORMAT, r->count);
#define NULLABLE(s) ((s)[0] ? (s) : NULL)
	params[0] = at;
	params[1] = r->action;
	params[2] = NULLABLE(r->reference);
	params[3] = NULLABLE(r->company);
	params[4] = NULLABLE(r->project);
	params[5] = r->principal;
	params[6] = r->channel;
	params[7] = NULLABLE(r->client_addr);
	params[8] = NULLABLE(r->request_id);
	params[9] = r->value_version ? version : NULL;
	params[10] = r->outcome;
	params[11] = count;
	params[12] = NULLABLE(r->detail);
#undef NULLABLE

	if (!PQsendQueryParams(primary_conn,
						   "SELECT provsecret.record_forwarded_event("
						   "pg_catalog.to_timestamp($1::pg_catalog.int8 / 1000000.0),"
						   " $2, $3, $4, $5, $6, $7, $8::pg_catalog.inet, $9,"
						   " $10::pg_catalog.int4, $11, $12::pg_catalog.int8, $13)",
						   13, NULL, params, NULL, NULL, 0))
	{
		*lost = true;
		return pstrdup(PQerrorMessage(primary_conn));
	}
	while (PQisBusy(primary_conn))
	{
		if (!wait_socket(WL_SOCKET_READABLE, deadline))
			forward_failed("the primary did not acknowledge it within provsecret.audit_timeout", NULL);
		if (!PQconsumeInput(primary_conn))
		{
			*lost = true;
			return pstrdup(PQerrorMessage(primary_conn));
		}
	}
	while ((res = PQgetResult(primary_conn)) != NULL)
	{
		if (PQresultStatus(res) != PGRES_TUPLES_OK && error == NULL)
			error = pstrdup(PQresultErrorMessage(res));
		PQclear(res);
	}
	if (error == NULL && PQstatus(primary_conn) != CONNECTION_OK)
	{
		*lost = true;
		error = pstrdup(PQerrorMessage(primary_conn));
	}
	return error;
}

void
ps_audit_forward(const PsAuditRecord *record)
{
	TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
													   ps_audit_timeout_ms);

	PG_TRY();
	{
		bool		reused = primary_conn != NULL &&
			PQstatus(primary_conn) == CONNECTION_OK;
		bool		lost;
		char	   *error;

		if (!reused)
		{
			drop_connection();
			connect_primary(deadline);
		}
		error = send_event(record, deadline, &lost);
		/*
		 * A kept connection may have been closed by the primary since (a
		 * restart); try once on a fresh one.  At worst the event is recorded
		 * twice, never lost.
		 */
		if (error != NULL && lost && reused)
		{
			drop_connection();
			connect_primary(deadline);
			error = send_event(record, deadline, &lost);
		}
		if (error != NULL)
			forward_failed(lost ? "the connection to the primary was lost"
						   : "the primary refused it", error);
	}
	PG_CATCH();
	{
		/* Interrupted mid-exchange: the connection state is unknown. */
		drop_connection();
		PG_RE_THROW();
	}
	PG_END_TRY();
}

/*
 * provsecret.record_forwarded_event(...): on the primary, record a standby's
 * durable event and return once it is durable.  Callable only by members of
 * provsecret_forwarder (the standby's connection role): the principal is
 * taken as given.
 */
PG_FUNCTION_INFO_V1(ps_record_forwarded_event);
Datum
ps_record_forwarded_event(PG_FUNCTION_ARGS)
{
	PsAuditRecord r;
	const char *action;
	int			i;

	for (i = 0; i < 13; i++)
	{
		/* only reference, company, project, client_addr, request_id,
		 * value_version and detail may be NULL */
		if (PG_ARGISNULL(i) && !(i == 2 || i == 3 || i == 4 || i == 7 ||
								 i == 8 || i == 9 || i == 12))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("argument %d of record_forwarded_event must not be null", i + 1)));
	}
	if (RecoveryInProgress())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("audit events can only be forwarded to a primary, and this server is a standby")));
	action = text_to_cstring(PG_GETARG_TEXT_PP(1));
	if (strcmp(action, "secret.revealed") != 0 && strcmp(action, "secret.used") != 0 &&
		strcmp(action, "access.denied") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("only secret.revealed, secret.used and access.denied events are forwarded")));

#define TEXT_ARG(n) (PG_ARGISNULL(n) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(n)))
	memset(&r, 0, sizeof(r));
	r.at = PG_GETARG_TIMESTAMPTZ(0);
	ps_audit_copy_field(r.action, PS_AUDIT_ACTION_LEN, action);
	ps_audit_copy_field(r.reference, PS_AUDIT_REFERENCE_LEN, TEXT_ARG(2));
	ps_audit_copy_field(r.company, PS_AUDIT_NAME_LEN, TEXT_ARG(3));
	ps_audit_copy_field(r.project, PS_AUDIT_NAME_LEN, TEXT_ARG(4));
	ps_audit_copy_field(r.principal, PS_AUDIT_PRINCIPAL_LEN, TEXT_ARG(5));
	ps_audit_copy_field(r.channel, PS_AUDIT_CHANNEL_LEN, TEXT_ARG(6));
	if (!PG_ARGISNULL(7))
		ps_audit_copy_field(r.client_addr, PS_AUDIT_ADDR_LEN,
							DatumGetCString(DirectFunctionCall1(inet_out, PG_GETARG_DATUM(7))));
	ps_audit_copy_field(r.request_id, PS_AUDIT_REQUEST_ID_LEN, TEXT_ARG(8));
	r.value_version = PG_ARGISNULL(9) ? 0 : PG_GETARG_INT32(9);
	ps_audit_copy_field(r.outcome, PS_AUDIT_OUTCOME_LEN, TEXT_ARG(10));
	r.count = Max(PG_GETARG_INT64(11), 1);
	/* a denial's detail (the permission required) keeps its origin too */
	ps_audit_copy_field(r.detail, PS_AUDIT_DETAIL_LEN,
						PG_ARGISNULL(12) ? "forwarded by a standby"
						: psprintf("%s; forwarded by a standby", TEXT_ARG(12)));
#undef TEXT_ARG

	ps_audit_queue_submit(&r);
	PG_RETURN_VOID();
}
