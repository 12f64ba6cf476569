/*
 * redact.h: keeping values passed to seal() and values returned by
 * resolve() out of PostgreSQL's own log and activity channels.
 */
#ifndef PROVSECRET_REDACT_H
#define PROVSECRET_REDACT_H

#include <stdbool.h>
#include <stddef.h>

/* How redact_detect.c reads SQL text (redact.c fills it from the session). */
typedef struct PsRedactScanOptions
{
	bool		standard_conforming_strings;
	/* the text of a prepared statement of this session, or NULL */
	const char *(*prepared_text) (const char *name);
} PsRedactScanOptions;

/*
 * Does the SQL text call seal() or authenticate(), however spelled?  Never
 * throws, never allocates (it runs inside emit_log_hook).
 */
extern bool ps_redact_sql_calls_seal(const char *sql, const PsRedactScanOptions *opt);

/* The same for an error context, which quotes statements unescaped. */
extern bool ps_redact_context_calls_seal(const char *context,
										 const PsRedactScanOptions *opt);

/* Install the log and executor hooks (from _PG_init). */
extern void ps_redact_init(void);

/* Replace this backend's pg_stat_activity query text (called by seal()). */
extern void ps_redact_activity(void);

/*
 * The current statement now holds a resolved value: until it ends, lines
 * it raises lose their text (called after resolve() has a value).
 */
extern void ps_redact_taint(void);

#endif
