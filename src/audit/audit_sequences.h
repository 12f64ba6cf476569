/*
 * audit_sequences.h: the audit worker's repair of set-back sequences.
 */
#ifndef PROVSECRET_AUDIT_SEQUENCES_H
#define PROVSECRET_AUDIT_SEQUENCES_H

#include "postgres.h"

/*
 * Move audit_event_id_seq past every id in audit_event and audit_pending
 * (WARNING when it had been set back).  Inside the batch's transaction, with
 * SPI connected and a snapshot.
 */
extern void ps_audit_repair_id_sequence(int64 high_water);

/*
 * The same for every sequence a column of the extension's tables owns, in a
 * transaction of its own; errors are reported and swallowed.
 */
extern void ps_audit_check_owned_sequences(void);

/* Forget the prepared check (the extension was re-created). */
extern void ps_audit_forget_id_sequence_plan(void);

#endif
