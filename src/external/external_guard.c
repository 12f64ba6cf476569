/*
 * external_guard.c: where a resolver may point (outbound_policy.c's rules,
 * applied at create and alter), the per-resolver circuit breaker (shared
 * memory) and the per-backend value cache (locked memory, locked_cache.c)
 * of external resolves.
 */
#include "postgres.h"

#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/timestamp.h"

#include "core/provsecret.h"
#include "core/reference.h"
#include "crypto/locked_cache.h"
#include "external/external_guard.h"
#include "outbound/outbound_policy.h"

#define BREAKER_SLOTS 128
#define CACHE_SLOTS 32

typedef struct BreakerSlot
{
	char		resolver[PS_NAME_MAX + 1];	/* "" when free */
	char		tag[PS_LOCKED_CACHE_TAG_MAX];
	int			failures;		/* consecutive */
	TimestampTz open_until;		/* 0 when closed */
	TimestampTz touched;
} BreakerSlot;

typedef struct BreakerShared
{
	slock_t		mutex;
	BreakerSlot slots[BREAKER_SLOTS];
} BreakerShared;

static BreakerShared *breakers = NULL;

void
ps_external_check_target(const char *base_url)
{
	char		rule[256];

	if (!ps_outbound_policy_check_url(base_url, false, rule, sizeof(rule)))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("base_url refused by the outbound policy: %s", rule),
				 errhint("A superuser lists the hosts resolvers may call over plain http:// or at a loopback, private or link-local address in provsecret.outbound_allowed_hosts; the server's own REST and PostgreSQL ports are never allowed.")));
}

void
ps_breaker_shmem_request(void)
{
	RequestAddinShmemSpace(MAXALIGN(sizeof(BreakerShared)));
}

void
ps_breaker_shmem_startup(void)
{
	bool		found;

	breakers = ShmemInitStruct("provsecret resolver breakers",
							   sizeof(BreakerShared), &found);
	if (!found)
	{
		memset(breakers, 0, sizeof(BreakerShared));
		SpinLockInit(&breakers->mutex);
	}
}

/* The resolver's slot (spinlock held); a changed tag starts it afresh. */
static BreakerSlot *
find_slot(const char *resolver, const char *tag, bool create)
{
	BreakerSlot *oldest = NULL;
	BreakerSlot *slot;

	for (int i = 0; i < BREAKER_SLOTS; i++)
	{
		slot = &breakers->slots[i];
		if (strcmp(slot->resolver, resolver) == 0)
		{
			if (strcmp(slot->tag, tag) != 0)
			{
				strlcpy(slot->tag, tag, sizeof(slot->tag));
				slot->failures = 0;
				slot->open_until = 0;
			}
			return slot;
		}
		if (oldest == NULL || slot->touched < oldest->touched)
			oldest = slot;
	}
	if (!create)
		return NULL;
	/* the least recently touched slot: a free one, or a long-quiet resolver */
	slot = oldest;
	strlcpy(slot->resolver, resolver, sizeof(slot->resolver));
	strlcpy(slot->tag, tag, sizeof(slot->tag));
	slot->failures = 0;
	slot->open_until = 0;
	return slot;
}

bool
ps_breaker_admit(const char *resolver, const char *tag, int *retry_in_s)
{
	TimestampTz now = GetCurrentTimestamp();
	BreakerSlot *slot;
	bool		admit = true;

	if (breakers == NULL)
		return true;
	SpinLockAcquire(&breakers->mutex);
	slot = find_slot(resolver, tag, false);
	if (slot != NULL && slot->open_until != 0)
	{
		if (now < slot->open_until)
		{
			admit = false;
			*retry_in_s = (int) ((slot->open_until - now) / USECS_PER_SEC) + 1;
		}
		else
		{
			/* half open: this caller is the trial; others wait one more period */
			slot->open_until = now + (slot->open_until - slot->touched);
			slot->touched = now;
		}
	}
	SpinLockRelease(&breakers->mutex);
	return admit;
}

void
ps_breaker_report(const char *resolver, const char *tag, bool failed,
				  int failures_to_open, int cooldown_s)
{
	TimestampTz now = GetCurrentTimestamp();
	BreakerSlot *slot;

	if (breakers == NULL || failures_to_open <= 0)
		return;
	SpinLockAcquire(&breakers->mutex);
	slot = find_slot(resolver, tag, failed);
	if (slot != NULL)
	{
		slot->touched = now;
		if (!failed)
		{
			slot->failures = 0;
			slot->open_until = 0;
		}
		else if (++slot->failures >= failures_to_open)
			slot->open_until = TimestampTzPlusMilliseconds(now, cooldown_s * 1000);
	}
	SpinLockRelease(&breakers->mutex);
}

PS_LOCKED_CACHE(value_cache, CACHE_SLOTS);

char *
ps_value_cache_get(const char *reference, const char *tag, Size *len)
{
	return ps_locked_cache_get(&value_cache, reference, tag, len);
}

void
ps_value_cache_put(const char *reference, const char *tag, int ttl_s,
				   const char *value, Size len)
{
	ps_locked_cache_put(&value_cache, reference, tag,
						TimestampTzPlusMilliseconds(GetCurrentTimestamp(), ttl_s * 1000),
						value, len);
}
