/*
 * redact_detect.c: does a piece of SQL call seal() or authenticate()?
 *
 * The decision is made by meaning, on tokens read the way PostgreSQL's
 * scanner reads them, never by matching the spelling: comments are skipped,
 * unquoted identifiers are downcased, quoted identifiers lose their quotes,
 * U&"..." identifiers are de-escaped (with their UESCAPE character).  A call
 * is a name token "seal" or "authenticate" (the last part of any qualified
 * name, in any schema) directly followed by "(": named arguments, a
 * search_path lookup and a call in FROM are all that.  EXECUTE of a prepared
 * statement is a call when the prepared statement's text is one.  String
 * constants (a DO body, a function body, dynamic SQL) and quoted identifiers
 * holding a "(" (the statement PL/pgSQL quotes in an error context) are read
 * again as SQL, up to a few levels deep.
 *
 * This scanner is used from emit_log_hook, where an ERROR would reset the
 * ErrorContext holding the line being logged: it never throws and never
 * allocates.  Malformed input (an unterminated string, a bad escape) is read
 * to its end; a malformed U& name followed by "(" counts as a call.
 */
#include "c.h"

#include "core/redact.h"

#define PS_SCAN_MAX_DEPTH 3
#define PS_NAME_MAX (NAMEDATALEN - 1)	/* as the parser truncates */

typedef enum PsTokKind
{
	PS_TOK_END,
	PS_TOK_IDENT,				/* unquoted name, downcased */
	PS_TOK_QIDENT,				/* "quoted" name, raw body in start/len */
	PS_TOK_UIDENT,				/* U&"quoted" name, raw body in start/len */
	PS_TOK_STRING,				/* any string constant, raw body in start/len */
	PS_TOK_OTHER				/* punctuation (in punct), number, parameter */
} PsTokKind;

typedef struct PsTok
{
	PsTokKind	kind;
	const char *start;			/* body of a quoted token, or the token */
	size_t		len;
	char		punct;
	char		name[PS_NAME_MAX + 1];	/* IDENT, QIDENT, decoded UIDENT */
	bool		name_bad;		/* UIDENT with a malformed escape */
} PsTok;

typedef struct PsScan
{
	const char *p;
	const char *end;
	bool		std_strings;
} PsScan;

static bool scan_text(const char *text, size_t len, int depth,
					  const PsRedactScanOptions *opt);

static bool
ident_start(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80;
}

static bool
ident_cont(unsigned char c)
{
	return ident_start(c) || (c >= '0' && c <= '9') || c == '$';
}

static void
skip_blank(PsScan *s)
{
	while (s->p < s->end)
	{
		char		c = *s->p;

		if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v')
			s->p++;
		else if (c == '-' && s->p + 1 < s->end && s->p[1] == '-')
		{
			while (s->p < s->end && *s->p != '\n')
				s->p++;
		}
		else if (c == '/' && s->p + 1 < s->end && s->p[1] == '*')
		{
			int			depth = 1;

			s->p += 2;
			while (s->p < s->end && depth > 0)
			{
				if (s->p + 1 < s->end && s->p[0] == '/' && s->p[1] == '*')
					depth++, s->p += 2;
				else if (s->p + 1 < s->end && s->p[0] == '*' && s->p[1] == '/')
					depth--, s->p += 2;
				else
					s->p++;
			}
		}
		else
			return;
	}
}

/* 'body' with '' doubled; backslash escapes when asked. */
static void
read_quoted(PsScan *s, char quote, bool backslashes, PsTok *t)
{
	s->p++;						/* opening quote */
	t->start = s->p;
	while (s->p < s->end)
	{
		if (backslashes && *s->p == '\\' && s->p + 1 < s->end)
			s->p += 2;
		else if (*s->p == quote)
		{
			if (s->p + 1 < s->end && s->p[1] == quote)
				s->p += 2;
			else
				break;
		}
		else
			s->p++;
	}
	t->len = s->p - t->start;
	if (s->p < s->end)
		s->p++;					/* closing quote */
}

/* $tag$body$tag$; false when the $ does not open one. */
static bool
read_dollar(PsScan *s, PsTok *t)
{
	const char *q = s->p + 1;
	size_t		taglen;

	if (q < s->end && *q != '$' && !(ident_start((unsigned char) *q)))
		return false;
	while (q < s->end && *q != '$')
	{
		if (!ident_cont((unsigned char) *q) || *q == '$')
			return false;
		q++;
	}
	if (q >= s->end)
		return false;
	taglen = q - s->p + 1;		/* $tag$ */
	t->start = q + 1;
	for (q = t->start; q + taglen <= s->end; q++)
	{
		if (memcmp(q, s->p, taglen) == 0)
		{
			t->len = q - t->start;
			s->p = q + taglen;
			return true;
		}
	}
	t->len = s->end - t->start;
	s->p = s->end;
	return true;
}

static void
copy_name(PsTok *t, const char *from, size_t len, bool downcase, char quote)
{
	size_t		n = 0;

	for (size_t i = 0; i < len; i++)
	{
		char		c = from[i];

		if (quote && c == quote && i + 1 < len && from[i + 1] == quote)
			i++;
		if (n >= PS_NAME_MAX)
			break;
		if (downcase && c >= 'A' && c <= 'Z')
			c += 'a' - 'A';
		t->name[n++] = c;
	}
	t->name[n] = '\0';
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * De-escape a U&"..." body as the parser does: esc esc is esc, esc and four
 * hex digits or esc + and six are a code point.  Only ASCII can spell our
 * names, so anything else decodes to a byte that matches nothing.
 */
static void
decode_uident(PsTok *t, char esc)
{
	size_t		n = 0;
	const char *p = t->start;
	const char *end = t->start + t->len;

	t->name_bad = false;
	while (p < end && n < PS_NAME_MAX)
	{
		long		cp = 0;
		int			digits = 0;

		if (*p == '"' && p + 1 < end && p[1] == '"')
		{
			t->name[n++] = '"';
			p += 2;
			continue;
		}
		if (*p != esc)
		{
			t->name[n++] = *p++;
			continue;
		}
		if (p + 1 < end && p[1] == esc)
		{
			t->name[n++] = esc;
			p += 2;
			continue;
		}
		p++;
		if (p < end && *p == '+')
		{
			digits = 6;
			p++;
		}
		else
			digits = 4;
		for (int i = 0; i < digits; i++)
		{
			int			v = (p < end) ? hexval(*p) : -1;

			if (v < 0)
			{
				t->name_bad = true;
				break;
			}
			cp = cp * 16 + v;
			p++;
		}
		if (t->name_bad)
			break;
		t->name[n++] = (cp > 0 && cp < 0x80) ? (char) cp : (char) 0x80;
	}
	t->name[n] = '\0';
}

static void
next_token(PsScan *s, PsTok *t)
{
	unsigned char c;

	skip_blank(s);
	t->kind = PS_TOK_OTHER;
	t->name[0] = '\0';
	t->name_bad = false;
	t->punct = '\0';
	t->start = s->p;
	t->len = 0;
	if (s->p >= s->end)
	{
		t->kind = PS_TOK_END;
		return;
	}
	c = (unsigned char) *s->p;

	/* U&"name" and U&'string' */
	if ((c == 'u' || c == 'U') && s->p + 2 < s->end && s->p[1] == '&' &&
		(s->p[2] == '"' || s->p[2] == '\''))
	{
		s->p += 2;
		if (*s->p == '"')
		{
			read_quoted(s, '"', false, t);
			t->kind = PS_TOK_UIDENT;
			decode_uident(t, '\\');
		}
		else
		{
			read_quoted(s, '\'', false, t);
			t->kind = PS_TOK_STRING;
		}
		return;
	}
	/* E'...', B'...', X'...', N'...' */
	if (s->p + 1 < s->end && s->p[1] == '\'' &&
		strchr("eEbBxXnN", c) != NULL)
	{
		s->p++;
		read_quoted(s, '\'', c == 'e' || c == 'E', t);
		t->kind = PS_TOK_STRING;
		return;
	}
	if (ident_start(c))
	{
		const char *from = s->p;

		while (s->p < s->end && ident_cont((unsigned char) *s->p))
			s->p++;
		t->kind = PS_TOK_IDENT;
		t->start = from;
		t->len = s->p - from;
		copy_name(t, from, t->len, true, '\0');
		return;
	}
	if (c == '"')
	{
		read_quoted(s, '"', false, t);
		t->kind = PS_TOK_QIDENT;
		copy_name(t, t->start, t->len, false, '"');
		return;
	}
	if (c == '\'')
	{
		read_quoted(s, '\'', !s->std_strings, t);
		t->kind = PS_TOK_STRING;
		return;
	}
	if (c == '$' && read_dollar(s, t))
	{
		t->kind = PS_TOK_STRING;
		return;
	}
	if ((c >= '0' && c <= '9') || c == '$')
	{
		s->p++;
		while (s->p < s->end && (ident_cont((unsigned char) *s->p) || *s->p == '.'))
			s->p++;
		t->len = s->p - t->start;
		return;
	}
	t->punct = (char) c;
	t->len = 1;
	s->p++;
}

static bool
is_name(const PsTok *t)
{
	return t->kind == PS_TOK_IDENT || t->kind == PS_TOK_QIDENT ||
		t->kind == PS_TOK_UIDENT;
}

static bool
is_our_function(const PsTok *t)
{
	return is_name(t) &&
		(strcmp(t->name, "seal") == 0 || strcmp(t->name, "authenticate") == 0);
}

/* A quoted body worth reading as SQL: not a plain word. */
static bool
body_may_hold_sql(const PsTok *t)
{
	return t->len >= 5 && memchr(t->start, '(', t->len) != NULL;
}

static bool
scan_text(const char *text, size_t len, int depth, const PsRedactScanOptions *opt)
{
	PsScan		s = {text, text + len, opt->standard_conforming_strings};
	PsTok		t;
	PsTok		next;
	bool		have_next = false;

	if (depth > PS_SCAN_MAX_DEPTH)
		return false;
	for (;;)
	{
		if (have_next)
			t = next, have_next = false;
		else
			next_token(&s, &t);
		if (t.kind == PS_TOK_END)
			return false;

		if (t.kind == PS_TOK_STRING || t.kind == PS_TOK_QIDENT ||
			t.kind == PS_TOK_UIDENT)
		{
			if (body_may_hold_sql(&t) &&
				scan_text(t.start, t.len, depth + 1, opt))
				return true;
		}
		if (!is_name(&t))
			continue;

		next_token(&s, &next);
		have_next = true;
		if (t.kind == PS_TOK_UIDENT && next.kind == PS_TOK_IDENT &&
			strcmp(next.name, "uescape") == 0)
		{
			next_token(&s, &next);
			if (next.kind == PS_TOK_STRING && next.len >= 1)
				decode_uident(&t, next.start[0]);
			else
				t.name_bad = true;
			next_token(&s, &next);
		}
		if (next.kind == PS_TOK_OTHER && next.punct == '(' &&
			(is_our_function(&t) || (t.kind == PS_TOK_UIDENT && t.name_bad)))
			return true;

		/* EXECUTE name: the prepared statement's own text */
		if (t.kind == PS_TOK_IDENT && strcmp(t.name, "execute") == 0 &&
			(next.kind == PS_TOK_IDENT || next.kind == PS_TOK_QIDENT) &&
			opt->prepared_text != NULL)
		{
			const char *prepared = opt->prepared_text(next.name);

			if (prepared != NULL &&
				scan_text(prepared, strlen(prepared), depth + 1, opt))
				return true;
		}
	}
}

bool
ps_redact_sql_calls_seal(const char *sql, const PsRedactScanOptions *opt)
{
	if (sql == NULL)
		return false;
	return scan_text(sql, strlen(sql), 0, opt);
}

/*
 * An error context quotes statements as SQL statement "<text>" without
 * escaping the quotes inside, so a quoted name in the statement splits it
 * when the whole context is read: the text after each quote is read again.
 */
bool
ps_redact_context_calls_seal(const char *context, const PsRedactScanOptions *opt)
{
	const char *p;
	int			quotes = 0;

	if (context == NULL)
		return false;
	if (scan_text(context, strlen(context), 0, opt))
		return true;
	for (p = context; (p = strchr(p, '"')) != NULL && quotes < 32; quotes++)
	{
		p++;
		if (scan_text(p, strlen(p), 0, opt))
			return true;
	}
	return false;
}
