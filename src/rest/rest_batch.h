/*
 * rest_batch.h: group commit of REST requests.
 *
 * Every request that is ready when the worker wakes up runs inside one
 * transaction, each in its own subtransaction, so N reveals cost one commit
 * (and at most one WAL flush) instead of N.  Answers are released only after
 * that commit.
 */
#ifndef PROVSECRET_REST_BATCH_H
#define PROVSECRET_REST_BATCH_H

/* Run everything in ps_http_pending and resume those connections. */
extern void ps_rest_run_batch(void);

#endif
