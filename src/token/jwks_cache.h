/*
 * jwks_cache.h: the JWKS of this process, loaded from
 * provsecret.jwt_jwks_file (re-read when the file changes or the settings
 * are reloaded) or fetched from provsecret.jwt_jwks_url (cached; refreshed
 * after 5 minutes; refetched on an unknown kid at most once per 10 s).
 */
#ifndef PROVSECRET_JWKS_CACHE_H
#define PROVSECRET_JWKS_CACHE_H

#include "postgres.h"

#include "token/jwks.h"

/*
 * The current key set.  With unknown_kid, the caller has just met a kid the
 * set lacks: fetch again if the rate limit allows.  A different pointer
 * than the previous call's means the set was reloaded.  Raises 55000 when
 * no source is configured and 58030 when none could be loaded.
 */
extern const PsJwks *ps_jwks_cache_get(bool unknown_kid);

/*
 * Changes whenever the set is reset or reloaded, so what was verified with
 * an earlier set (token_cache.c) can be told apart.
 */
extern uint32 ps_jwks_cache_generation(void);

/*
 * Is the cached set current without loading anything (the file unchanged,
 * the URL's keys younger than their refresh age)?  Then *generation is
 * ps_jwks_cache_generation().  Never raises an error.
 */
extern bool ps_jwks_cache_usable(uint32 *generation);

#endif
