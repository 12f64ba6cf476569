/*
 * rest_metrics.c: REST counters in shared memory.
 *
 * Plain atomics, no lock: each listener worker adds to the same counters and
 * a scrape reads them one by one (Prometheus tolerates the tiny skew).
 */
#include "postgres.h"

#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/ipc.h"
#include "storage/shmem.h"

#include "audit/audit_queue.h"
#include "core/provsecret.h"
#include "external/resolver_metrics.h"
#include "rest/rest_metrics.h"

static const int status_codes[] = {
	200, 201, 204, 400, 401, 403, 404, 405, 413, 500, 502, 503
};
#define N_STATUS (lengthof(status_codes) + 1)	/* last: any other */

/* Upper bounds of the latency histogram, in seconds. */
static const double latency_bounds[] = {
	0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5
};
#define N_BUCKETS (lengthof(latency_bounds) + 1)	/* last: +Inf */

typedef struct PsRestMetricsShared
{
	pg_atomic_uint64 requests[PS_ROUTE_COUNT][N_STATUS];
	pg_atomic_uint64 latency[N_BUCKETS];	/* not cumulative */
	pg_atomic_uint64 latency_sum_us;
	pg_atomic_uint64 reveals;
	pg_atomic_uint64 denials;
	pg_atomic_uint64 batches;
	pg_atomic_uint64 batched_requests;
} PsRestMetricsShared;

static PsRestMetricsShared *metrics = NULL;

void
ps_rest_metrics_shmem_request(void)
{
	RequestAddinShmemSpace(MAXALIGN(sizeof(PsRestMetricsShared)));
}

void
ps_rest_metrics_shmem_startup(void)
{
	bool		found;

	metrics = ShmemInitStruct("provsecret rest metrics",
							  sizeof(PsRestMetricsShared), &found);
	if (!found)
	{
		pg_atomic_uint64 *c = (pg_atomic_uint64 *) metrics;

		for (size_t i = 0; i < sizeof(PsRestMetricsShared) / sizeof(pg_atomic_uint64); i++)
			pg_atomic_init_u64(&c[i], 0);
	}
}

void
ps_rest_metrics_count_request(PsRestRoute route, int status, double seconds)
{
	int			s = N_STATUS - 1;
	int			b = N_BUCKETS - 1;

	if (metrics == NULL || route < 0 || route >= PS_ROUTE_COUNT)
		return;
	for (int i = 0; i < (int) lengthof(status_codes); i++)
		if (status_codes[i] == status)
			s = i;
	for (int i = 0; i < (int) lengthof(latency_bounds); i++)
		if (seconds <= latency_bounds[i])
		{
			b = i;
			break;
		}
	pg_atomic_fetch_add_u64(&metrics->requests[route][s], 1);
	pg_atomic_fetch_add_u64(&metrics->latency[b], 1);
	pg_atomic_fetch_add_u64(&metrics->latency_sum_us, (uint64) (seconds * 1e6));
}

void
ps_rest_metrics_count_reveal(void)
{
	if (metrics)
		pg_atomic_fetch_add_u64(&metrics->reveals, 1);
}

void
ps_rest_metrics_count_denial(void)
{
	if (metrics)
		pg_atomic_fetch_add_u64(&metrics->denials, 1);
}

void
ps_rest_metrics_count_batch(int requests)
{
	if (metrics == NULL)
		return;
	pg_atomic_fetch_add_u64(&metrics->batches, 1);
	pg_atomic_fetch_add_u64(&metrics->batched_requests, requests);
}

void
ps_rest_metrics_render(StringInfo out)
{
	uint64		cumulative = 0;

	if (metrics == NULL)
		return;
	appendStringInfoString(out,
						   "# HELP provsecret_rest_requests_total REST requests by route and status.\n"
						   "# TYPE provsecret_rest_requests_total counter\n");
	for (int r = 0; r < PS_ROUTE_COUNT; r++)
		for (int s = 0; s < (int) N_STATUS; s++)
		{
			uint64		n = pg_atomic_read_u64(&metrics->requests[r][s]);
			char		status[16];

			if (n == 0)
				continue;
			if (s < (int) lengthof(status_codes))
				snprintf(status, sizeof(status), "%d", status_codes[s]);
			else
				strlcpy(status, "other", sizeof(status));
			appendStringInfo(out,
							 "provsecret_rest_requests_total{route=\"%s\",status=\"%s\"} " UINT64_FORMAT "\n",
							 ps_rest_route_label(r), status, n);
		}

	appendStringInfoString(out,
						   "# HELP provsecret_rest_request_duration_seconds REST request latency.\n"
						   "# TYPE provsecret_rest_request_duration_seconds histogram\n");
	for (int b = 0; b < (int) N_BUCKETS; b++)
	{
		cumulative += pg_atomic_read_u64(&metrics->latency[b]);
		if (b < (int) lengthof(latency_bounds))
			appendStringInfo(out,
							 "provsecret_rest_request_duration_seconds_bucket{le=\"%g\"} " UINT64_FORMAT "\n",
							 latency_bounds[b], cumulative);
		else
			appendStringInfo(out,
							 "provsecret_rest_request_duration_seconds_bucket{le=\"+Inf\"} " UINT64_FORMAT "\n",
							 cumulative);
	}
	appendStringInfo(out,
					 "provsecret_rest_request_duration_seconds_sum %.6f\n"
					 "provsecret_rest_request_duration_seconds_count " UINT64_FORMAT "\n",
					 pg_atomic_read_u64(&metrics->latency_sum_us) / 1e6, cumulative);

	appendStringInfo(out,
					 "# HELP provsecret_rest_reveals_total Secret values returned over REST.\n"
					 "# TYPE provsecret_rest_reveals_total counter\n"
					 "provsecret_rest_reveals_total " UINT64_FORMAT "\n"
					 "# HELP provsecret_rest_denials_total REST requests refused for lack of permission.\n"
					 "# TYPE provsecret_rest_denials_total counter\n"
					 "provsecret_rest_denials_total " UINT64_FORMAT "\n"
					 "# HELP provsecret_rest_batches_total Transactions run for batches of REST requests.\n"
					 "# TYPE provsecret_rest_batches_total counter\n"
					 "provsecret_rest_batches_total " UINT64_FORMAT "\n"
					 "# HELP provsecret_rest_batched_requests_total Requests run inside those batches.\n"
					 "# TYPE provsecret_rest_batched_requests_total counter\n"
					 "provsecret_rest_batched_requests_total " UINT64_FORMAT "\n",
					 pg_atomic_read_u64(&metrics->reveals),
					 pg_atomic_read_u64(&metrics->denials),
					 pg_atomic_read_u64(&metrics->batches),
					 pg_atomic_read_u64(&metrics->batched_requests));

	/* the audit worker's queue: a growing depth means reveals will wait */
	{
		PsAuditQueueStatus audit;

		ps_audit_queue_status(&audit);
		appendStringInfo(out,
						 "# HELP provsecret_audit_queue_depth Audit events queued for the audit worker, not yet taken.\n"
						 "# TYPE provsecret_audit_queue_depth gauge\n"
						 "provsecret_audit_queue_depth %d\n"
						 "# HELP provsecret_audit_in_flight Audit events taken by the audit worker, commit pending.\n"
						 "# TYPE provsecret_audit_in_flight gauge\n"
						 "provsecret_audit_in_flight %d\n"
						 "# HELP provsecret_audit_events_written_total Audit events the audit worker has committed.\n"
						 "# TYPE provsecret_audit_events_written_total counter\n"
						 "provsecret_audit_events_written_total " INT64_FORMAT "\n",
						 audit.queue_depth, audit.in_flight, audit.events_written);
	}
	ps_resolver_metrics_render(out);
}
