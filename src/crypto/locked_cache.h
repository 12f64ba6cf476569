/*
 * locked_cache.h: small per-process caches of secrets (resolved values,
 * access tokens) in locked memory.
 *
 * Each entry is its own sodium_malloc'd block: locked in RAM (never
 * swapped), guard pages around it, wiped by sodium_free.  An entry names a
 * key, the tag of the definition it came from (a resolver's revision: an
 * altered resolver must not serve old entries) and when it stops being
 * served.  A full cache evicts the entry closest to expiry.
 */
#ifndef PROVSECRET_LOCKED_CACHE_H
#define PROVSECRET_LOCKED_CACHE_H

#include "postgres.h"

#include "datatype/timestamp.h"

/* Room for a tag, terminator included: a put with a longer one keeps nothing. */
#define PS_LOCKED_CACHE_TAG_MAX 32

typedef struct PsLockedEntry PsLockedEntry;

typedef struct PsLockedCache
{
	int			nslots;
	PsLockedEntry **slots;
} PsLockedCache;

/* A static cache of n entries. */
#define PS_LOCKED_CACHE(name, n) \
	static PsLockedEntry *name##_slots[n]; \
	static PsLockedCache name = {n, name##_slots}

/*
 * The entry for key, as a palloc'd copy (the caller wipes it), or NULL.
 * Expired entries, and key's entry when its tag differs, are dropped.
 */
extern char *ps_locked_cache_get(PsLockedCache *cache, const char *key,
								 const char *tag, Size *len);

/* Keep data for key until expires; best effort (no locked memory: no entry). */
extern void ps_locked_cache_put(PsLockedCache *cache, const char *key,
								const char *tag, TimestampTz expires,
								const char *data, Size len);

/* Drop key's entry, if any. */
extern void ps_locked_cache_forget(PsLockedCache *cache, const char *key);

#endif
