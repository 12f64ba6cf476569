/*
 * redact.c: values passed to seal() (and tokens passed to authenticate())
 * never reach the server log or pg_stat_activity.
 *
 * A statement that calls seal() may carry the value as a literal or a bind
 * parameter, and PostgreSQL logs statements (log_statement,
 * log_min_duration_statement, log_min_error_statement), their parameters,
 * auto_explain's query text and error contexts before or after our function
 * runs.  The emit_log_hook sees every line first: when the current statement
 * or the line itself calls seal(), the statement text, parameters and
 * context are replaced and STATEMENT: is suppressed.  Other lines are left
 * as they are.
 */
#include "postgres.h"

#include "provsecret.h"
#include "pgstat.h"
#include "tcop/tcopprot.h"
#include "utils/backend_status.h"
#include "utils/elog.h"

#include "redact.h"

#define PS_REDACTED_STATEMENT "[statement redacted by provsecret: it passes a secret]"
#define PS_REDACTED_PARAMETERS "parameters: [redacted by provsecret]"

static emit_log_hook_type ps_prev_emit_log_hook = NULL;
static bool ps_in_hook = false;

static bool
ps_ident_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		(c >= '0' && c <= '9') || c == '_';
}

bool
ps_text_calls_seal(const char *text)
{
	if (text == NULL)
		return false;
	for (const char *p = text; *p; p++)
	{
		const char *q;

		size_t		len;

		if (pg_strncasecmp(p, "seal", 4) == 0)
			len = 4;
		else if (pg_strncasecmp(p, "authenticate", 12) == 0)
			len = 12;			/* its argument is a bearer token */
		else
			continue;
		/* a whole identifier, possibly quoted: seal, "seal", provsecret.seal */
		if (p > text && ps_ident_char(p[-1]))
			continue;
		q = p + len;
		if (*q == '"')
			q++;
		while (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r')
			q++;
		if (*q == '(')
			return true;
	}
	return false;
}

/* Replace the statement inside a log message, or the whole message. */
static char *
ps_redact_message(const char *message)
{
	const char *statement = debug_query_string;
	const char *at;

	if (statement != NULL && statement[0] != '\0' &&
		(at = strstr(message, statement)) != NULL)
		return psprintf("%.*s%s%s", (int) (at - message), message,
						PS_REDACTED_STATEMENT, at + strlen(statement));
	return pstrdup(PS_REDACTED_STATEMENT);
}

static bool
ps_mentions_parameters(const char *text)
{
	return text != NULL && strstr(text, "parameters:") != NULL;
}

/*
 * provsecret's own messages never carry a value (they are built so); they
 * have their own message domain (provsecret.h).  A message that lacks it is
 * only logged more tersely, never leaked.
 */
static bool
ps_is_own_message(const ErrorData *edata)
{
	return edata->domain != NULL && strcmp(edata->domain, TEXTDOMAIN) == 0;
}

/*
 * An error raised by PostgreSQL itself inside a seal() statement may quote
 * the input (a failed cast, a syntax error near a token).  The client, who
 * sent that input, still gets the full error; the server log gets a line
 * that names only the SQLSTATE.
 */
static void
ps_log_error_without_text(ErrorData *edata)
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

static void
ps_redact_emit_log(ErrorData *edata)
{
	bool		statement_calls_seal;
	bool		message_calls_seal;

	if (ps_in_hook)
	{
		if (ps_prev_emit_log_hook)
			ps_prev_emit_log_hook(edata);
		return;
	}
	statement_calls_seal = ps_text_calls_seal(debug_query_string);
	message_calls_seal = ps_text_calls_seal(edata->message);

	if (statement_calls_seal && edata->elevel >= ERROR &&
		edata->output_to_server && !ps_is_own_message(edata))
		ps_log_error_without_text(edata);

	if (statement_calls_seal || message_calls_seal)
	{
		edata->hide_stmt = true;
		if (message_calls_seal ||
			(edata->message && debug_query_string && debug_query_string[0] &&
			 strstr(edata->message, debug_query_string) != NULL))
			edata->message = ps_redact_message(edata->message);
		if (ps_mentions_parameters(edata->detail))
			edata->detail = pstrdup(PS_REDACTED_PARAMETERS);
		if (ps_mentions_parameters(edata->detail_log))
			edata->detail_log = pstrdup(PS_REDACTED_PARAMETERS);
		if (edata->context != NULL &&
			(ps_mentions_parameters(edata->context) ||
			 ps_text_calls_seal(edata->context)))
			edata->hide_ctx = true;
		if (edata->internalquery != NULL && ps_text_calls_seal(edata->internalquery))
			edata->internalquery = NULL;
	}
	else if (edata->context != NULL && ps_text_calls_seal(edata->context))
		edata->hide_ctx = true;

	if (ps_prev_emit_log_hook)
		ps_prev_emit_log_hook(edata);
}

void
ps_redact_init(void)
{
	ps_prev_emit_log_hook = emit_log_hook;
	emit_log_hook = ps_redact_emit_log;
}

void
ps_redact_activity(void)
{
	if (debug_query_string != NULL && pgstat_track_activities)
		pgstat_report_activity(STATE_RUNNING, PS_REDACTED_STATEMENT);
}
