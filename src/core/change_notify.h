/*
 * change_notify.h: NOTIFY provsecret_changes when a secret changes (README,
 * Change notifications).  Off unless provsecret.notify_changes is on: any
 * role may LISTEN on any channel, and the payload names the reference.
 */
#ifndef PROVSECRET_CHANGE_NOTIFY_H
#define PROVSECRET_CHANGE_NOTIFY_H

#include "postgres.h"

#define PS_CHANGE_CHANNEL "provsecret_changes"

/* provsecret.notify_changes (superuser, default off) */
extern bool ps_notify_changes;

/* Define provsecret.notify_changes; called from ps_core_define_gucs(). */
extern void ps_change_notify_define_guc(void);

/*
 * Queue {"reference","value_version","action"} on the channel; PostgreSQL
 * delivers it when the transaction commits, and drops it on rollback
 * (also of a subtransaction).  action is "sealed", "rotated",
 * "rolled_back" or "deleted".  Never a value.  Does nothing when off.
 */
extern void ps_change_notify(const char *reference, int32 value_version,
							 const char *action);

#endif
