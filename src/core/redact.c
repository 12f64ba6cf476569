/*
 * redact.c: values passed to seal() (and tokens passed to authenticate()),
 * and values resolve() returned, never reach the server log or
 * pg_stat_activity.
 *
 * Two kinds of lines are rewritten by the emit_log_hook, which sees every
 * line bound for the server log before it is written (and before it is sent
 * to the client):
 *
 * - lines about a statement that calls seal() or authenticate().  That is
 *   decided by meaning (redact_detect.c reads the text as the scanner does,
 *   so quoted or U&-escaped names, named arguments, search_path lookups,
 *   calls in FROM and EXECUTE of a prepared statement are all seen), for the
 *   client's statement (debug_query_string, read once per statement), for
 *   the error context and internal query of the line, and for every plan
 *   being executed: an ExecutorStart/ExecutorEnd pair remembers the running
 *   plans that call our functions, by OID (the plan's function dependencies:
 *   no spelling, inlined SQL functions included), so auto_explain's plan
 *   output and nested statements, in backends and workers, are covered.
 *   The statement text, parameters, plan, context and internal query are
 *   kept out of the log; PostgreSQL's own errors are logged as their
 *   SQLSTATE only (the client, who sent the value, gets the error).
 *
 * - lines raised by the statement in which resolve() returned a value
 *   (ps_redact_taint()).  PostgreSQL quotes input in its own errors (a
 *   failed cast, a JSON parse error), so every line of the statement that
 *   is not provsecret's own keeps its SQLSTATE and elevel and loses its
 *   text, for the log and the client alike.  Lines that only quote the
 *   client's own statement text (log_statement, durations) are kept.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_proc.h"
#include "commands/prepare.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "nodes/plannodes.h"
#include "parser/parser.h"
#include "pgstat.h"
#include "tcop/tcopprot.h"
#include "utils/backend_status.h"
#include "utils/catcache.h"
#include "utils/elog.h"
#include "utils/inval.h"
#include "utils/syscache.h"

#include "core/provsecret.h"
#include "core/redact.h"

#define PS_REDACTED_STATEMENT "[statement redacted by provsecret: it passes a secret]"
#define PS_REDACTED_PARAMETERS "parameters: [redacted by provsecret]"
#define PS_REDACTED_CONTEXT "[context redacted by provsecret: it quotes a secret]"
#define PS_REDACTED_REST "[redacted by provsecret: it quotes a statement that passes a secret]"
#define PS_WITHHELD_FORMAT "provsecret withheld the text of this message (SQLSTATE %s): the statement handled a resolved secret"

static emit_log_hook_type ps_prev_emit_log_hook = NULL;
static ExecutorStart_hook_type ps_prev_executor_start = NULL;
static ExecutorEnd_hook_type ps_prev_executor_end = NULL;
static bool ps_in_hook = false;

/* --- the functions whose arguments are secret, by OID ------------------- */

#define PS_OUR_FUNCTIONS_MAX 16
static bool ps_functions_known = false;
static int	ps_function_count = 0;
static uint32 ps_function_hash[PS_OUR_FUNCTIONS_MAX];

static void
functions_forget(Datum arg, int cacheid, uint32 hashvalue)
{
	ps_functions_known = false;
}

/*
 * The plan cache hash of every provsecret.seal and provsecret.authenticate:
 * a plan lists the functions it calls (PlanInvalItem) by that hash.
 */
static void
functions_load(void)
{
	static const char *const names[] = {"seal", "authenticate"};
	Oid			nsp = get_namespace_oid("provsecret", true);
	int			count = 0;

	if (OidIsValid(nsp))
	{
		for (int n = 0; n < lengthof(names); n++)
		{
			CatCList   *list = SearchSysCacheList1(PROCNAMEARGSNSP,
												   CStringGetDatum(names[n]));

			for (int i = 0; i < list->n_members; i++)
			{
				Form_pg_proc proc = (Form_pg_proc) GETSTRUCT(&list->members[i]->tuple);

				if (proc->pronamespace == nsp && count < PS_OUR_FUNCTIONS_MAX)
					ps_function_hash[count++] =
						GetSysCacheHashValue1(PROCOID, ObjectIdGetDatum(proc->oid));
			}
			ReleaseSysCacheList(list);
		}
	}
	ps_function_count = count;
	ps_functions_known = true;
}

/* Cheap: the plan's function list is short; nothing is walked. */
static bool
plan_calls_ours(const PlannedStmt *plan)
{
	ListCell   *lc;

	if (plan == NULL || plan->invalItems == NIL)
		return false;
	if (!ps_functions_known)
		functions_load();
	if (ps_function_count == 0)
		return false;
	foreach(lc, plan->invalItems)
	{
		PlanInvalItem *item = lfirst_node(PlanInvalItem, lc);

		if (item->cacheId != PROCOID)
			continue;
		for (int i = 0; i < ps_function_count; i++)
			if (item->hashValue == ps_function_hash[i])
				return true;
	}
	return false;
}

/* --- running plans that call them ----------------------------------------- */

/*
 * Only plans calling our functions are remembered, with the subtransaction
 * that started them: an aborted subtransaction's plans never reach
 * ExecutorEnd.  Pointers are compared, never followed.
 */
typedef struct PsRunning
{
	QueryDesc  *query;
	SubTransactionId subid;
} PsRunning;

#define PS_RUNNING_MAX 32
static PsRunning ps_running[PS_RUNNING_MAX];
static int	ps_running_count = 0;
static int	ps_running_overflow = 0;	/* past the array: until xact end */

static void
executor_start(QueryDesc *query, int eflags)
{
	/* before starting it: an error while it starts is covered too */
	if (plan_calls_ours(query->plannedstmt))
	{
		if (ps_running_count < PS_RUNNING_MAX)
		{
			ps_running[ps_running_count].query = query;
			ps_running[ps_running_count].subid = GetCurrentSubTransactionId();
			ps_running_count++;
		}
		else
			ps_running_overflow++;
	}
	if (ps_prev_executor_start)
		ps_prev_executor_start(query, eflags);
	else
		standard_ExecutorStart(query, eflags);
}

/*
 * The plan is forgotten after the next ExecutorEnd hook has run: auto_explain
 * logs its plan from there, before or after ours depending on the load order.
 */
static void
executor_end(QueryDesc *query)
{
	if (ps_prev_executor_end)
		ps_prev_executor_end(query);
	else
		standard_ExecutorEnd(query);
	for (int i = ps_running_count - 1; i >= 0; i--)
	{
		if (ps_running[i].query == query)
		{
			memmove(&ps_running[i], &ps_running[i + 1],
					(ps_running_count - i - 1) * sizeof(PsRunning));
			ps_running_count--;
			break;
		}
	}
}

static bool
running_ours(void)
{
	return ps_running_count > 0 || ps_running_overflow > 0;
}

/* --- the statement that resolved a value ----------------------------------- */

/*
 * A statement is known by its start time: PostgreSQL sets it for each
 * client message (simple query, or parse, bind, execute of the extended
 * protocol) and the REST worker for each batch.  Processes that never set
 * it (other workers) are cleared at transaction end.
 */
static bool ps_taint_set = false;
static TimestampTz ps_taint_statement;

void
ps_redact_taint(void)
{
	ps_taint_statement = GetCurrentStatementStartTimestamp();
	ps_taint_set = true;
}

static bool
tainted(void)
{
	return ps_taint_set && ps_taint_statement == GetCurrentStatementStartTimestamp();
}

static void
redact_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			ps_running_count = 0;
			ps_running_overflow = 0;
			if (MyBackendType != B_BACKEND)
				ps_taint_set = false;
			break;
		default:
			break;
	}
}

static void
redact_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						SubTransactionId parentSubid, void *arg)
{
	int			kept = 0;

	if (event != SUBXACT_EVENT_ABORT_SUB)
		return;
	/* its plans and those of its children, which have larger ids */
	for (int i = 0; i < ps_running_count; i++)
		if (ps_running[i].subid < mySubid)
			ps_running[kept++] = ps_running[i];
	ps_running_count = kept;
}

/* --- the client's statement ------------------------------------------------- */

static const char *
lookup_prepared_text(const char *name)
{
	PreparedStatement *stmt = FetchPreparedStatement(name, false);

	return stmt != NULL ? stmt->plansource->query_string : NULL;
}

static PsRedactScanOptions
scan_options(void)
{
	PsRedactScanOptions opt;

	opt.standard_conforming_strings = standard_conforming_strings;
	opt.prepared_text = lookup_prepared_text;
	return opt;
}

static bool
calls_ours(const char *text)
{
	PsRedactScanOptions opt = scan_options();

	return ps_redact_sql_calls_seal(text, &opt);
}

/*
 * Does the client's current statement call seal() or authenticate()?  Read
 * once per statement: the decision is kept for the statement's text and
 * start time.
 */
static const char *ps_decided_text = NULL;
static TimestampTz ps_decided_at = 0;
static bool ps_decided = false;

static bool
statement_calls_ours(void)
{
	const char *text = debug_query_string;
	TimestampTz at;

	if (text == NULL || text[0] == '\0')
		return false;
	at = GetCurrentStatementStartTimestamp();
	if (text != ps_decided_text || at != ps_decided_at)
	{
		ps_decided = calls_ours(text);
		ps_decided_text = text;
		ps_decided_at = at;
	}
	return ps_decided;
}

/* --- rewriting a line ---------------------------------------------------- */

/* Replace the statement inside a log message. */
static char *
without_statement(const char *message)
{
	const char *statement = debug_query_string;
	const char *at;

	if (statement != NULL && statement[0] != '\0' &&
		(at = strstr(message, statement)) != NULL)
		return psprintf("%.*s%s%s", (int) (at - message), message,
						PS_REDACTED_STATEMENT, at + strlen(statement));
	return pstrdup(message);
}

static bool
mentions_parameters(const char *text)
{
	return text != NULL && strstr(text, "parameters:") != NULL;
}

/*
 * provsecret's own messages never carry a value (they are built so); they
 * have their own message domain (provsecret.h).  A message that lacks it is
 * only logged more tersely, never leaked.
 */
static bool
is_own_message(const ErrorData *edata)
{
	return edata->domain != NULL && strcmp(edata->domain, TEXTDOMAIN) == 0;
}

/*
 * An error raised by PostgreSQL itself inside a seal() statement may quote
 * the input (a failed cast, a syntax error near a token).  The client, who
 * sent that input, still gets the error; the server log gets a line that
 * names only the SQLSTATE.
 */
static void
log_error_without_text(ErrorData *edata)
{
	edata->output_to_server = false;
	ps_in_hook = true;
	PG_TRY();
	{
		ereport(LOG,
				(errmsg("provsecret: %s with SQLSTATE %s in a statement that passes a secret to provsecret; its text is not logged",
						edata->elevel >= FATAL ? "fatal error" : "error",
						unpack_sql_state(edata->sqlerrcode)),
				 errhidestmt(true),
				 errhidecontext(true)));
	}
	PG_FINALLY();
	{
		ps_in_hook = false;
	}
	PG_END_TRY();
}

/*
 * A line about a statement that passes a secret.  The context goes to the
 * client too (hide_ctx only spares the log): bind parameters quoted by
 * log_parameter_max_length_on_error, or the text of a PL/pgSQL statement
 * calling seal() with a literal.  A quoted statement may span lines, so the
 * whole context is replaced, not single lines.
 */
static void
redact_secret_line(ErrorData *edata, bool own)
{
	edata->hide_stmt = true;
	if (edata->message != NULL)
	{
		char	   *message = without_statement(edata->message);

		if (!own && edata->elevel < ERROR)
		{
			/* plan output (auto_explain) and other text after the first line */
			char	   *eol = strchr(message, '\n');

			if (eol != NULL)
				message = psprintf("%.*s\n%s", (int) (eol - message), message,
								   PS_REDACTED_REST);
			if (calls_ours(message))
				message = pstrdup(PS_REDACTED_REST);
		}
		edata->message = message;
	}
	if (mentions_parameters(edata->detail) || calls_ours(edata->detail))
		edata->detail = pstrdup(PS_REDACTED_PARAMETERS);
	if (mentions_parameters(edata->detail_log) || calls_ours(edata->detail_log))
		edata->detail_log = pstrdup(PS_REDACTED_PARAMETERS);
	if (edata->context != NULL)
	{
		edata->context = pstrdup(PS_REDACTED_CONTEXT);
		edata->hide_ctx = true;
	}
	edata->internalquery = NULL;
	edata->internalpos = 0;
	if (!own && edata->elevel >= ERROR)
		log_error_without_text(edata);
}

/*
 * A line raised while the statement holds a resolved value: the SQLSTATE
 * and elevel stay, the text goes, for the log and the client alike (the
 * client's own logs are logs too).  A LOG line quoting the client's
 * statement (log_statement, durations, auto_explain of that statement)
 * holds only what the client sent and stays.
 */
static void
redact_tainted_line(ErrorData *edata)
{
	const char *statement = debug_query_string;

	if (edata->elevel == LOG && edata->message != NULL && statement != NULL &&
		statement[0] != '\0' && strstr(edata->message, statement) != NULL)
		return;
	edata->message = psprintf(PS_WITHHELD_FORMAT, unpack_sql_state(edata->sqlerrcode));
	edata->detail = NULL;
	edata->detail_log = NULL;
	edata->hint = NULL;
	edata->context = NULL;
	edata->internalquery = NULL;
	edata->internalpos = 0;
}

static void
redact_emit_log(ErrorData *edata)
{
	if (!ps_in_hook && edata->output_to_server)
	{
		PsRedactScanOptions opt = scan_options();
		bool		own = is_own_message(edata);
		bool		statement = statement_calls_ours();

		/*
		 * A statement that fails before seal() runs (syntax error, failed
		 * cast) never reaches its ps_redact_activity() call: its text would
		 * stay in pg_stat_activity while the session is idle.
		 */
		if (statement)
			ps_redact_activity();

		/* first: the client gets the withheld text even if not logged below */
		if (!own && tainted())
			redact_tainted_line(edata);

		if (statement || running_ours() ||
			ps_redact_context_calls_seal(edata->context, &opt) ||
			ps_redact_sql_calls_seal(edata->internalquery, &opt) ||
			(!own && ps_redact_sql_calls_seal(edata->message, &opt)))
			redact_secret_line(edata, own);
	}
	if (ps_prev_emit_log_hook)
		ps_prev_emit_log_hook(edata);
}

void
ps_redact_init(void)
{
	ps_prev_emit_log_hook = emit_log_hook;
	emit_log_hook = redact_emit_log;
	ps_prev_executor_start = ExecutorStart_hook;
	ExecutorStart_hook = executor_start;
	ps_prev_executor_end = ExecutorEnd_hook;
	ExecutorEnd_hook = executor_end;
	RegisterXactCallback(redact_xact_callback, NULL);
	RegisterSubXactCallback(redact_subxact_callback, NULL);
	CacheRegisterSyscacheCallback(PROCOID, functions_forget, (Datum) 0);
	CacheRegisterSyscacheCallback(NAMESPACEOID, functions_forget, (Datum) 0);
}

void
ps_redact_activity(void)
{
	if (debug_query_string != NULL && pgstat_track_activities)
		pgstat_report_activity(STATE_RUNNING, PS_REDACTED_STATEMENT);
}
