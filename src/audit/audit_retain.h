/*
 * audit_retain.h: retention of the audit chains by whole monthly
 * partitions.
 *
 * Every partition whose month ends at or before the cut is dropped.  Each
 * chain with events in them gets a checkpoint: its newest dropped position
 * and hash (where the chain continues), how many of its events were
 * dropped, and how many of its older events live on in newer partitions
 * (events are chained when written, so an event recorded just before a
 * month's end can follow, in its chain, one recorded just after), MAC-ed by
 * the chain key.
 */
#ifndef PROVSECRET_AUDIT_RETAIN_H
#define PROVSECRET_AUDIT_RETAIN_H

#include "postgres.h"

#include "datatype/timestamp.h"

/*
 * Drop the partitions that end at or before cutoff (as the extension
 * owner; the caller authorizes).  Returns the events dropped; *partitions
 * and *chains: how many partitions went and how many chains got a
 * checkpoint.
 */
extern int64 ps_audit_retain_partitions(TimestampTz cutoff, int *partitions,
										int *chains);

#endif
