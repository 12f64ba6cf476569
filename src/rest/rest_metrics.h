/*
 * rest_metrics.h: REST counters in shared memory, so that several listener
 * workers add up, rendered in the Prometheus text format by GET /metrics.
 */
#ifndef PROVSECRET_REST_METRICS_H
#define PROVSECRET_REST_METRICS_H

#include "postgres.h"

#include "lib/stringinfo.h"

#include "rest/rest_parse.h"

/* From provsecret.c's shmem hooks (startup with AddinShmemInitLock held). */
extern void ps_rest_metrics_shmem_request(void);
extern void ps_rest_metrics_shmem_startup(void);

extern void ps_rest_metrics_count_request(PsRestRoute route, int status,
										  double seconds);
extern void ps_rest_metrics_count_reveal(void);
extern void ps_rest_metrics_count_denial(void);
extern void ps_rest_metrics_count_batch(int requests);

extern void ps_rest_metrics_render(StringInfo out);

#endif
