/*
 * locked_cache.c: small per-process caches of secrets in locked memory
 * (see locked_cache.h).
 */
#include "postgres.h"

#include <sodium.h>

#include "utils/timestamp.h"

#include "core/provsecret.h"
#include "core/reference.h"
#include "crypto/locked_cache.h"


struct PsLockedEntry
{
	TimestampTz expires;
	char		key[PS_REFERENCE_MAX + 1];
	char		tag[PS_LOCKED_CACHE_TAG_MAX];
	Size		len;
	char		data[FLEXIBLE_ARRAY_MEMBER];
};

static void
entry_drop(PsLockedCache *cache, int i)
{
	sodium_free(cache->slots[i]);
	cache->slots[i] = NULL;
}

char *
ps_locked_cache_get(PsLockedCache *cache, const char *key, const char *tag,
					Size *len)
{
	TimestampTz now = GetCurrentTimestamp();

	for (int i = 0; i < cache->nslots; i++)
	{
		PsLockedEntry *e = cache->slots[i];
		char	   *copy;

		if (e == NULL)
			continue;
		if (e->expires <= now)
		{
			entry_drop(cache, i);
			continue;
		}
		if (strcmp(e->key, key) != 0)
			continue;
		if (strcmp(e->tag, tag) != 0)
		{
			entry_drop(cache, i);
			return NULL;
		}
		copy = palloc(e->len + 1);
		memcpy(copy, e->data, e->len + 1);
		*len = e->len;
		return copy;
	}
	return NULL;
}

void
ps_locked_cache_put(PsLockedCache *cache, const char *key, const char *tag,
					TimestampTz expires, const char *data, Size len)
{
	TimestampTz now = GetCurrentTimestamp();
	int			victim = -1;
	PsLockedEntry *e;

	if (strlen(key) >= sizeof(e->key) || strlen(tag) >= sizeof(e->tag))
		return;
	for (int i = 0; i < cache->nslots; i++)
		if (cache->slots[i] != NULL && (cache->slots[i]->expires <= now ||
										strcmp(cache->slots[i]->key, key) == 0))
			entry_drop(cache, i);
	/* a free slot, else the entry closest to expiry */
	for (int i = 0; i < cache->nslots; i++)
	{
		if (cache->slots[i] == NULL)
		{
			victim = i;
			break;
		}
		if (victim < 0 || cache->slots[i]->expires < cache->slots[victim]->expires)
			victim = i;
	}
	if (cache->slots[victim] != NULL)
		entry_drop(cache, victim);
	e = sodium_malloc(offsetof(PsLockedEntry, data) + len + 1);
	if (e == NULL)
		return;					/* no locked memory left: do not cache */
	e->expires = expires;
	strlcpy(e->key, key, sizeof(e->key));
	strlcpy(e->tag, tag, sizeof(e->tag));
	e->len = len;
	memcpy(e->data, data, len);
	e->data[len] = '\0';
	cache->slots[victim] = e;
}

void
ps_locked_cache_forget(PsLockedCache *cache, const char *key)
{
	for (int i = 0; i < cache->nslots; i++)
		if (cache->slots[i] != NULL && strcmp(cache->slots[i]->key, key) == 0)
			entry_drop(cache, i);
}
