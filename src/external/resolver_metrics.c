/*
 * resolver_metrics.c: per-resolver and per-kind counters in shared memory.
 *
 * Slots are appended under a spinlock and never change name afterwards, so
 * finding a known resolver's slot takes no lock: read how many are used,
 * then compare names.  Counters are atomics; a scrape reads them one by one.
 */
#include "postgres.h"

#include "port/atomics.h"
#include "storage/shmem.h"
#include "storage/spin.h"

#include "core/provsecret.h"
#include "core/reference.h"
#include "external/resolver.h"
#include "external/resolver_kinds.h"
#include "external/resolver_metrics.h"

#define N_KINDS (PS_KIND_HTTP_JSON + 1)	/* indexed by PsResolverKind; 0 unused */

bool		ps_resolver_metrics_names = false;

/* Upper bounds of the latency histogram, in seconds. */
static const double latency_bounds[] = {
	0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30
};
#define N_BUCKETS (lengthof(latency_bounds) + 1)	/* last: +Inf */

static const char *const outcome_names[PS_OUTCOME_COUNT] = {
	[PS_OUTCOME_OK] = "ok",
	[PS_OUTCOME_NOT_FOUND] = "not_found",
	[PS_OUTCOME_ERROR] = "error",
	[PS_OUTCOME_REJECTED] = "rejected_open_breaker",
	[PS_OUTCOME_CACHE_HIT] = "cache_hit",
};

#define OTHER_NAME "_other"

typedef struct ResolverStats
{
	char		name[PS_NAME_MAX + 1];
	pg_atomic_uint64 outcomes[PS_OUTCOME_COUNT];
	pg_atomic_uint64 latency[N_BUCKETS];	/* not cumulative */
	pg_atomic_uint64 latency_sum_us;
} ResolverStats;

typedef struct ResolverMetricsShared
{
	slock_t		mutex;			/* appending a slot */
	pg_atomic_uint32 used;
	ResolverStats slots[PS_RESOLVER_METRICS_SLOTS + 1];	/* last: _other */
	ResolverStats kinds[N_KINDS];	/* every resolver, by kind */
} ResolverMetricsShared;

static ResolverMetricsShared *shared = NULL;

void
ps_resolver_metrics_shmem_request(void)
{
	RequestAddinShmemSpace(MAXALIGN(sizeof(ResolverMetricsShared)));
}

void
ps_resolver_metrics_shmem_startup(void)
{
	bool		found;

	shared = ShmemInitStruct("provsecret resolver metrics",
							 sizeof(ResolverMetricsShared), &found);
	if (found)
		return;
	memset(shared, 0, sizeof(ResolverMetricsShared));
	SpinLockInit(&shared->mutex);
	pg_atomic_init_u32(&shared->used, 0);
	for (int i = 0; i <= PS_RESOLVER_METRICS_SLOTS + N_KINDS; i++)
	{
		ResolverStats *s = i <= PS_RESOLVER_METRICS_SLOTS ? &shared->slots[i] :
			&shared->kinds[i - PS_RESOLVER_METRICS_SLOTS - 1];

		for (int o = 0; o < PS_OUTCOME_COUNT; o++)
			pg_atomic_init_u64(&s->outcomes[o], 0);
		for (int b = 0; b < (int) N_BUCKETS; b++)
			pg_atomic_init_u64(&s->latency[b], 0);
		pg_atomic_init_u64(&s->latency_sum_us, 0);
	}
	strlcpy(shared->slots[PS_RESOLVER_METRICS_SLOTS].name, OTHER_NAME,
			sizeof(shared->slots[0].name));
	for (int k = PS_KIND_VAULT_KV2; k < N_KINDS; k++)
		strlcpy(shared->kinds[k].name, ps_resolver_kind_name(k),
				sizeof(shared->kinds[0].name));
}

static ResolverStats *
kind_slot(const PsResolver *r)
{
	return r->kind >= PS_KIND_VAULT_KV2 && r->kind < N_KINDS ?
		&shared->kinds[r->kind] : NULL;
}

static ResolverStats *
find(const char *name, uint32 from, uint32 used)
{
	for (uint32 i = from; i < used; i++)
		if (strcmp(shared->slots[i].name, name) == 0)
			return &shared->slots[i];
	return NULL;
}

/* The resolver's slot, appended when new; _other once all are taken. */
static ResolverStats *
slot_of(const char *name)
{
	uint32		used = pg_atomic_read_u32(&shared->used);
	uint32		now_used;
	ResolverStats *s;

	pg_read_barrier();
	if ((s = find(name, 0, used)) != NULL)
		return s;
	SpinLockAcquire(&shared->mutex);
	now_used = pg_atomic_read_u32(&shared->used);
	s = find(name, used, now_used);
	if (s == NULL && now_used < PS_RESOLVER_METRICS_SLOTS)
	{
		s = &shared->slots[now_used];
		strlcpy(s->name, name, sizeof(s->name));
		/* the name is visible before the slot is counted as used */
		pg_write_barrier();
		pg_atomic_write_u32(&shared->used, now_used + 1);
	}
	SpinLockRelease(&shared->mutex);
	return s ? s : &shared->slots[PS_RESOLVER_METRICS_SLOTS];
}

void
ps_resolver_metrics_count(const PsResolver *r, PsResolverOutcome outcome)
{
	ResolverStats *k;

	if (shared == NULL || outcome < 0 || outcome >= PS_OUTCOME_COUNT)
		return;
	pg_atomic_fetch_add_u64(&slot_of(r->name)->outcomes[outcome], 1);
	if ((k = kind_slot(r)) != NULL)
		pg_atomic_fetch_add_u64(&k->outcomes[outcome], 1);
}

static void
observe(ResolverStats *s, int bucket, double seconds)
{
	pg_atomic_fetch_add_u64(&s->latency[bucket], 1);
	pg_atomic_fetch_add_u64(&s->latency_sum_us, (uint64) (seconds * 1e6));
}

void
ps_resolver_metrics_observe(const PsResolver *r, double seconds)
{
	ResolverStats *k;
	int			b = N_BUCKETS - 1;

	if (shared == NULL)
		return;
	if (seconds < 0)
		seconds = 0;
	for (int i = 0; i < (int) lengthof(latency_bounds); i++)
		if (seconds <= latency_bounds[i])
		{
			b = i;
			break;
		}
	observe(slot_of(r->name), b, seconds);
	if ((k = kind_slot(r)) != NULL)
		observe(k, b, seconds);
}

/* A label value as the exposition format wants it: \ " and newline escaped. */
static void
append_label(StringInfo out, const char *value)
{
	for (const char *p = value; *p; p++)
	{
		if (*p == '\\')
			appendStringInfoString(out, "\\\\");
		else if (*p == '"')
			appendStringInfoString(out, "\\\"");
		else if (*p == '\n')
			appendStringInfoString(out, "\\n");
		else
			appendStringInfoChar(out, *p);
	}
}

static bool
slot_is_empty(ResolverStats *s)
{
	for (int o = 0; o < PS_OUTCOME_COUNT; o++)
		if (pg_atomic_read_u64(&s->outcomes[o]) != 0)
			return false;
	for (int b = 0; b < (int) N_BUCKETS; b++)
		if (pg_atomic_read_u64(&s->latency[b]) != 0)
			return false;
	return true;
}

/*
 * The slots to show: by kind, or (provsecret.metrics_resolver_names) those
 * in use, and _other once something went there.
 */
static int
shown_slots(ResolverStats **list)
{
	uint32		used;
	int			n = 0;

	if (!ps_resolver_metrics_names)
	{
		for (int k = PS_KIND_VAULT_KV2; k < N_KINDS; k++)
			list[n++] = &shared->kinds[k];
		return n;
	}
	used = pg_atomic_read_u32(&shared->used);
	pg_read_barrier();
	for (uint32 i = 0; i < used; i++)
		list[n++] = &shared->slots[i];
	if (!slot_is_empty(&shared->slots[PS_RESOLVER_METRICS_SLOTS]))
		list[n++] = &shared->slots[PS_RESOLVER_METRICS_SLOTS];
	return n;
}

void
ps_resolver_metrics_render(StringInfo out)
{
	ResolverStats *list[PS_RESOLVER_METRICS_SLOTS + 1];
	const char *label = ps_resolver_metrics_names ? "resolver" : "kind";
	int			n;

	if (shared == NULL)
		return;
	n = shown_slots(list);
	appendStringInfoString(out,
						   "# HELP provsecret_resolver_requests_total External resolves, writes and deletes by resolver kind (or resolver) and outcome.\n"
						   "# TYPE provsecret_resolver_requests_total counter\n");
	for (int i = 0; i < n; i++)
		for (int o = 0; o < PS_OUTCOME_COUNT; o++)
		{
			appendStringInfo(out, "provsecret_resolver_requests_total{%s=\"", label);
			append_label(out, list[i]->name);
			appendStringInfo(out, "\",outcome=\"%s\"} " UINT64_FORMAT "\n",
							 outcome_names[o],
							 pg_atomic_read_u64(&list[i]->outcomes[o]));
		}

	appendStringInfoString(out,
						   "# HELP provsecret_resolver_request_duration_seconds Time of calls to a resolver's backend (a universal-auth login included).\n"
						   "# TYPE provsecret_resolver_request_duration_seconds histogram\n");
	for (int i = 0; i < n; i++)
	{
		uint64		cumulative = 0;

		for (int b = 0; b < (int) N_BUCKETS; b++)
		{
			cumulative += pg_atomic_read_u64(&list[i]->latency[b]);
			appendStringInfo(out, "provsecret_resolver_request_duration_seconds_bucket{%s=\"", label);
			append_label(out, list[i]->name);
			if (b < (int) lengthof(latency_bounds))
				appendStringInfo(out, "\",le=\"%g\"} " UINT64_FORMAT "\n",
								 latency_bounds[b], cumulative);
			else
				appendStringInfo(out, "\",le=\"+Inf\"} " UINT64_FORMAT "\n", cumulative);
		}
		appendStringInfo(out, "provsecret_resolver_request_duration_seconds_sum{%s=\"", label);
		append_label(out, list[i]->name);
		appendStringInfo(out, "\"} %.6f\n",
						 pg_atomic_read_u64(&list[i]->latency_sum_us) / 1e6);
		appendStringInfo(out, "provsecret_resolver_request_duration_seconds_count{%s=\"", label);
		append_label(out, list[i]->name);
		appendStringInfo(out, "\"} " UINT64_FORMAT "\n", cumulative);
	}
}
