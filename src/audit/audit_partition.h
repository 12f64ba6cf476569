/*
 * audit_partition.h: the monthly partitions of provsecret.audit_event.
 *
 * Partition audit_event_YYYY_MM holds the events whose "at" falls in that
 * month (UTC).  The audit worker creates them: this month and the next two
 * ahead, and the month of any event it is about to write, so no default
 * partition is needed.  They are not members of the extension (pg_dump
 * dumps them with their rows) and carry the write guard, the append-only
 * trigger and the row-level security policy of the parent (a role reading
 * a partition directly, such as a member of pg_read_all_data, sees what it
 * would see through audit_event).
 */
#ifndef PROVSECRET_AUDIT_PARTITION_H
#define PROVSECRET_AUDIT_PARTITION_H

#include "postgres.h"

#include "datatype/timestamp.h"

/* How many months ahead of the current one the worker keeps partitions. */
#define PS_AUDIT_MONTHS_AHEAD 2

/* Months since year 0 (year * 12 + month - 1) of a time, in UTC. */
extern int	ps_audit_month_of(TimestampTz at);

/* First instant of a month. */
extern TimestampTz ps_audit_month_start(int month);

/* "audit_event_YYYY_MM" (palloc'd). */
extern char *ps_audit_partition_name(int month);

/*
 * Create the partition of that month under provsecret.<parent> unless it
 * exists (SPI connected, as a superuser).  True when it was created.
 */
extern bool ps_audit_partition_ensure(const char *parent, int month);

/*
 * The worker's cache of months known to have a partition; forgotten when a
 * batch fails (its CREATE rolled back) or the extension is re-created.
 */
extern void ps_audit_partition_forget(void);
extern void ps_audit_partition_ensure_cached(int month);

#endif
