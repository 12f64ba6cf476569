/*
 * external_guard.h: what protects callers from a failing external backend
 * and backends from repeated calls: a circuit breaker per resolver in shared
 * memory (after N consecutive failures, calls fail fast for a cool-down,
 * then one trial call decides), and a per-backend TTL cache of values in
 * locked memory (sodium_malloc), wiped when evicted.
 *
 * Both are keyed by the resolver's name and a tag that changes whenever it
 * is altered, dropped or re-created, so a fixed resolver is tried at once
 * and a cached value never outlives its resolver's definition.
 */
#ifndef PROVSECRET_EXTERNAL_GUARD_H
#define PROVSECRET_EXTERNAL_GUARD_H

#include "postgres.h"

/*
 * The breaker's shared memory, from provsecret.c's shmem request and startup
 * hooks (startup runs with AddinShmemInitLock held).
 */
/*
 * Refuse (42501, naming the rule) a base_url the outbound policy does not
 * allow a resolver to call (outbound_policy.h): create_resolver, and
 * alter_resolver when the URL changes.
 */
extern void ps_external_check_target(const char *base_url);

extern void ps_breaker_shmem_request(void);
extern void ps_breaker_shmem_startup(void);

/*
 * May a call to the resolver's backend go ahead?  false while the breaker is
 * open (*retry_in_s says for how long); after the cool-down, one caller is
 * let through as the trial.
 */
extern bool ps_breaker_admit(const char *resolver, const char *tag,
							 int *retry_in_s);

/* The outcome of an admitted call: a backend failure or a healthy answer. */
extern void ps_breaker_report(const char *resolver, const char *tag,
							  bool failed, int failures_to_open,
							  int cooldown_s);

/* A cached value (palloc'd copy, caller wipes) or NULL. */
extern char *ps_value_cache_get(const char *reference, const char *tag,
								Size *len);

/* Keep a value for ttl_s seconds (best effort: skipped if memory is short). */
extern void ps_value_cache_put(const char *reference, const char *tag,
							   int ttl_s, const char *value, Size len);

#endif
