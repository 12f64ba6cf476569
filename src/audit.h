/*
 * audit.h: audit events.
 *
 * Events never carry a value or ciphertext.  Reveals and denials must be
 * recorded durably, independently of the caller's transaction, before the
 * value is returned (fail closed); other events describe changes made in the
 * caller's transaction.
 */
#ifndef PROVSECRET_AUDIT_H
#define PROVSECRET_AUDIT_H

#include "postgres.h"

typedef struct PsAuditEvent
{
	const char *action;			/* "secret.revealed", "secret.sealed", ... */
	const char *reference;		/* may be NULL */
	const char *company;		/* may be NULL */
	const char *project;		/* may be NULL */
	int32		value_version;	/* 0 when not applicable */
	const char *outcome;		/* "ok", "denied", "not_found", "error" */
	int64		count;			/* 1, or the summary count */
	const char *detail;			/* what changed, e.g. for grants; no values */
} PsAuditEvent;

/*
 * Record an event.  The principal, channel, client address and request id
 * come from the call context (ps_audit_set_call_context, authz).  With
 * durable, the event is committed before this returns whatever the caller's
 * transaction does later; an event that cannot be recorded raises an error.
 */
extern void ps_audit_record(const PsAuditEvent *event, bool durable);

/*
 * Channel ("sql" or "rest"), client address and request id for the events of
 * the current transaction; reset to the SQL defaults at transaction end.
 * Strings are copied.
 */
extern void ps_audit_set_call_context(const char *channel,
									  const char *client_addr,
									  const char *request_id);

#endif
