/*
 * audit_forward.h: durable audit events of a hot standby, recorded on the
 * primary.
 *
 * A standby cannot write its own audit_event rows, so a reveal there sends
 * its event over libpq to provsecret.record_forwarded_event() on the primary
 * and returns the value only once the primary has made it durable.
 */
#ifndef PROVSECRET_AUDIT_FORWARD_H
#define PROVSECRET_AUDIT_FORWARD_H

#include "postgres.h"

#include "audit/audit_queue.h"

extern char *ps_audit_primary_conninfo;	/* provsecret.primary_conninfo */

/*
 * Record the event on the primary and wait for its acknowledgement, within
 * provsecret.audit_timeout; raises 55000 when it cannot (fail closed).
 */
extern void ps_audit_forward(const PsAuditRecord *record);

#endif
