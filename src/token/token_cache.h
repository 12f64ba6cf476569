/*
 * token_cache.h: the bearer tokens this process has already verified.
 *
 * Verifying a signature is most of the cost of an authenticated REST
 * request; a client sends the same token until it expires.  Entries are
 * keyed by a keyed BLAKE2b hash of the exact token bytes (the token itself
 * is never kept), hold what verification produced, and are valid only for
 * the epoch they were verified in: the caller's epoch changes whenever the
 * key set or a provsecret.jwt_* setting changes, which empties the cache.
 * exp is checked again on every hit.  Only accepted tokens are cached.
 */
#ifndef PROVSECRET_TOKEN_CACHE_H
#define PROVSECRET_TOKEN_CACHE_H

#include "postgres.h"

#include "nodes/pg_list.h"

/*
 * A hit: *principals (a List of char *) and *subject, palloc'd in
 * CurrentMemoryContext.  now and leeway as for the verifier: an entry is
 * expired, and dropped, once now - leeway >= exp.
 */
extern bool ps_token_cache_lookup(const char *token, size_t len, uint64 epoch,
								  int64 now, int leeway,
								  List **principals, char **subject);

/* Remember a token just verified in this epoch. */
extern void ps_token_cache_store(const char *token, size_t len, uint64 epoch,
								 int64 expires_at, const char *subject,
								 List *principals);

#endif
