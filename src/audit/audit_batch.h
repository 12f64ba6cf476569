/*
 * audit_batch.h: one batch of the audit worker, appended to the chains.
 *
 * Each row goes to its company's chain (the global chain, '', for events
 * without a company; on a schema older than 0.5.0 every row goes to the
 * single chain).  A chain's head is read when the batch first touches it
 * (audit_chain_head, by its key), so a batch costs the same however many
 * companies there are; the heads move with the rows, in the batch's
 * transaction.  Rows reach audit_event INSERT_ROWS at a time.
 */
#ifndef PROVSECRET_AUDIT_BATCH_H
#define PROVSECRET_AUDIT_BATCH_H

#include "postgres.h"

#include "audit/audit_chain.h"
#include "audit/audit_queue.h"

typedef struct PsAuditBatch PsAuditBatch;

/* Start a batch (SPI connected, in the worker's transaction). */
extern PsAuditBatch *ps_audit_batch_begin(bool legacy);

/* Append committed pending events, queued events and summary counters. */
extern void ps_audit_batch_move_pending(PsAuditBatch *batch);
extern void ps_audit_batch_append_records(PsAuditBatch *batch,
										  const PsAuditRecord *records, int n);

/*
 * Insert what is buffered and write the heads.  Returns how many rows the
 * batch appended; *legacy_seq, *last_id: the single chain's head on a legacy
 * schema (0 otherwise) and the id of the last row appended.
 */
extern int64 ps_audit_batch_finish(PsAuditBatch *batch, int64 *legacy_seq,
								   int64 *last_id);

/* Forget plans and the chain key (extension re-created, or a failed batch). */
extern void ps_audit_batch_reset(bool plans_too);

/* Keep the chain key out of swap (worker start). */
extern void ps_audit_batch_lock_key(void);

/* Wipe the chain key (worker exit). */
extern void ps_audit_batch_wipe_key(int code, Datum arg);

#endif
