/*
 * provsecret.h: settings and limits shared by every part of the extension.
 */
#ifndef PROVSECRET_H
#define PROVSECRET_H

#include "postgres.h"

/*
 * Our ereports carry their own message domain (ErrorData.domain), so the log
 * hook (redact.c) can tell provsecret's messages, which never carry values,
 * from PostgreSQL's.  Every file that reports errors includes this header.
 */
#undef TEXTDOMAIN
#define TEXTDOMAIN PG_TEXTDOMAIN("provsecret")

/* Longest value accepted by seal(), in characters. */
#define PS_VALUE_MAX_CHARS 10000

/* How much of a rejected input an error message may quote. */
#define PS_ECHO_MAX 64

/*
 * A check-and-set whose expected version does not match (REST If-Match,
 * answered 412).  Class PS is provsecret's own; PostgreSQL has no code for
 * a failed precondition, and 40001 would invite blind retries.
 */
#define ERRCODE_PS_VERSION_MISMATCH MAKE_SQLSTATE('P','S','4','1','2')

typedef enum PsMode
{
	PS_MODE_LOCAL,
	PS_MODE_DEPLOYED
} PsMode;

/* GUC variables (core/settings.c) */
extern int	ps_mode;
extern char *ps_database;
extern char *ps_env_allowlist;
extern int	ps_keep_versions;

#endif
