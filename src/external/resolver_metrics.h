/*
 * resolver_metrics.h: counters of external calls in shared memory,
 * rendered on the REST /metrics page (Prometheus text format), which needs
 * no token:
 *
 *   provsecret_resolver_requests_total{kind,outcome}   counter
 *   provsecret_resolver_request_duration_seconds{kind} histogram
 *
 * Resolver names are chosen by tenants, so the page shows them only when a
 * superuser sets provsecret.metrics_resolver_names: the series are then
 * labelled resolver="<name>" instead of kind.  The first
 * PS_RESOLVER_METRICS_SLOTS resolver names seen since the server started
 * get series of their own; later ones are summed under resolver="_other"
 * (no resolver name starts with "_").  Slots are never reused, so a series
 * never changes meaning while the server runs.
 */
#ifndef PROVSECRET_RESOLVER_METRICS_H
#define PROVSECRET_RESOLVER_METRICS_H

#include "postgres.h"

#include "lib/stringinfo.h"

#include "external/resolver.h"

#define PS_RESOLVER_METRICS_SLOTS 64

extern bool ps_resolver_metrics_names;	/* provsecret.metrics_resolver_names */

typedef enum PsResolverOutcome
{
	PS_OUTCOME_OK,
	PS_OUTCOME_NOT_FOUND,
	PS_OUTCOME_ERROR,
	PS_OUTCOME_REJECTED,		/* the circuit breaker was open */
	PS_OUTCOME_CACHE_HIT,
	PS_OUTCOME_COUNT
} PsResolverOutcome;

/* From provsecret.c's shmem hooks (startup with AddinShmemInitLock held). */
extern void ps_resolver_metrics_shmem_request(void);
extern void ps_resolver_metrics_shmem_startup(void);

/* One resolve, write or delete through the resolver ended this way. */
extern void ps_resolver_metrics_count(const PsResolver *r,
									  PsResolverOutcome outcome);

/* One call to the resolver's backend took this long. */
extern void ps_resolver_metrics_observe(const PsResolver *r, double seconds);

/* Append the series to a /metrics page. */
extern void ps_resolver_metrics_render(StringInfo out);

#endif
