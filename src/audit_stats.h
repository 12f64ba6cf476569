/*
 * audit_stats.h: per-secret reveal counters (provsecret.audit_reveal_stats),
 * kept by the audit worker in the same commit as the events, so the secrets
 * view shows last reveal and reveal count with one index probe per secret.
 */
#ifndef PROVSECRET_AUDIT_STATS_H
#define PROVSECRET_AUDIT_STATS_H

#include "audit_chain.h"

typedef struct PsRevealStats PsRevealStats;

/* A batch's counters, in CurrentMemoryContext. */
extern PsRevealStats *ps_audit_stats_begin(void);

/* Count the row if it is a successful reveal of a reference. */
extern void ps_audit_stats_add(PsRevealStats *stats, const PsAuditChainRow *row);

/* Upsert the batch's counters (SPI connected, inside the batch's transaction). */
extern void ps_audit_stats_write(PsRevealStats *stats);

#endif
