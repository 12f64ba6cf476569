/*
 * redact.h: keeping values passed to seal() out of PostgreSQL's own log and
 * activity channels.
 */
#ifndef PROVSECRET_REDACT_H
#define PROVSECRET_REDACT_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Pure: does the text call seal( or authenticate( (any case, quoted or not)?
 */
extern bool ps_text_calls_seal(const char *text);

/* Install the emit_log_hook (from _PG_init). */
extern void ps_redact_init(void);

/* Replace this backend's pg_stat_activity query text (called by seal()). */
extern void ps_redact_activity(void);

#endif
