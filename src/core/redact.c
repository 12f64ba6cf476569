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

#include "core/provsecret.h"
#include "commands/prepare.h"
#include "pgstat.h"
#include "tcop/tcopprot.h"
#include "utils/backend_status.h"
#include "utils/elog.h"

#include "core/redact.h"

#define PS_REDACTED_STATEMENT "[statement redacted by provsecret: it passes a secret]"
#define PS_REDACTED_PARAMETERS "parameters: [redacted by provsecret]"
#define PS_REDACTED_CONTEXT "[context redacted by provsecret: it quotes a secret]"

static emit_log_hook_type ps_prev_emit_log_hook = NULL;
static bool ps_in_hook = false;

static bool
ps_ident_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		(c >= '0' && c <= '9') || c == '_';
}

/* Skip white space and comments (-- to end of line, nested slash-star). */
static const char *
ps_skip_blank(const char *q)
{
	for (;;)
	{
		if (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r' || *q == '\f')
			q++;
		else if (q[0] == '-' && q[1] == '-')
		{
			while (*q && *q != '\n')
				q++;
		}
		else if (q[0] == '/' && q[1] == '*')
		{
			int			depth = 0;

			do
			{
				if (q[0] == '/' && q[1] == '*')
					depth++, q += 2;
				else if (q[0] == '*' && q[1] == '/')
					depth--, q += 2;
				else
					q++;
			} while (*q && depth > 0);
		}
		else
			return q;
	}
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
		q = ps_skip_blank(q);
		if (*q == '(')
			return true;
	}
	return false;
}

static bool
ps_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/*
 * Does the text run SQL-level EXECUTE of a prepared statement that calls
 * seal()?  "EXECUTE p('ref', 'value')" carries the value as a literal
 * argument, but only the PREPARE text names seal.  The name is read as the
 * parser would (downcased unless quoted) and looked up in this session.
 */
static bool
ps_text_executes_seal(const char *text)
{
	if (text == NULL)
		return false;
	for (const char *p = text; *p; p++)
	{
		char		name[NAMEDATALEN];
		int			len = 0;
		const char *q;
		PreparedStatement *stmt;

		if (pg_strncasecmp(p, "execute", 7) != 0 ||
			(p > text && ps_ident_char(p[-1])) || !ps_space(p[7]))
			continue;
		for (q = p + 7; ps_space(*q); q++)
			;
		if (*q == '"')
		{
			for (q++; *q && len < NAMEDATALEN - 1; q++)
			{
				if (*q == '"' && q[1] != '"')
					break;
				if (*q == '"')
					q++;
				name[len++] = *q;
			}
		}
		else
		{
			for (; (ps_ident_char(*q) || *q == '$' || IS_HIGHBIT_SET(*q)) &&
				 len < NAMEDATALEN - 1; q++)
				name[len++] = pg_ascii_tolower((unsigned char) *q);
		}
		name[len] = '\0';
		if (len == 0)
			continue;
		stmt = FetchPreparedStatement(name, false);
		if (stmt != NULL && ps_text_calls_seal(stmt->plansource->query_string))
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

/*
 * The context goes to the client too (hide_ctx only spares the log): bind
 * parameters quoted by log_parameter_max_length_on_error, or the text of a
 * PL/pgSQL statement calling seal() with a literal.  A quoted statement may
 * span lines, so the whole context is replaced, not single lines.
 */
static void
ps_redact_context(ErrorData *edata)
{
	edata->context = pstrdup(PS_REDACTED_CONTEXT);
	edata->hide_ctx = true;
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
	statement_calls_seal = ps_text_calls_seal(debug_query_string) ||
		ps_text_executes_seal(debug_query_string);
	message_calls_seal = ps_text_calls_seal(edata->message);

	if (statement_calls_seal && edata->elevel >= ERROR &&
		edata->output_to_server && !ps_is_own_message(edata))
		ps_log_error_without_text(edata);

	/*
	 * A statement that fails before seal() runs (syntax error, failed cast)
	 * never reaches its ps_redact_activity() call: its text would stay in
	 * pg_stat_activity while the session is idle.
	 */
	if (statement_calls_seal)
		ps_redact_activity();

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
			ps_redact_context(edata);
		if (edata->internalquery != NULL && ps_text_calls_seal(edata->internalquery))
			edata->internalquery = NULL;
	}
	else if (edata->context != NULL && ps_text_calls_seal(edata->context))
		ps_redact_context(edata);

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
