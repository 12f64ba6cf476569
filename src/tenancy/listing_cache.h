/*
 * listing_cache.h: answers of the REST listing routes, kept per REST worker
 * while the metadata they show has not changed.
 *
 * A listing (names, descriptions, versions; never a value) depends on the
 * secrets, the bindings and the grants.  Triggers on those tables mark the
 * writing transaction; when it commits, a generation counter in shared
 * memory moves on, after the transaction's invalidation messages are sent.
 * An answer is kept with the generation read before it was computed and is
 * used only while the counter still shows that generation, and never for
 * longer than PS_LISTING_MAX_AGE_S (a write that fired no trigger, such as
 * one made with session_replication_role = replica, or DROP EXTENSION, is
 * seen by then).  A prepared transaction moves the counter when COMMIT
 * PREPARED completes, through a utility hook (ps_listing_install_hook).
 */
#ifndef PROVSECRET_LISTING_CACHE_H
#define PROVSECRET_LISTING_CACHE_H

#include "postgres.h"

#include "nodes/pg_list.h"

#define PS_LISTING_MAX_AGE_S	60

extern void ps_listing_shmem_request(void);
extern void ps_listing_shmem_startup(void);

/* From _PG_init: the ProcessUtility_hook that sees COMMIT PREPARED. */
extern void ps_listing_install_hook(void);

/* A trigger or a C write path changed listed metadata in this transaction. */
extern void ps_listing_changed(void);

/*
 * Begin computing an answer: the generation to store it with, read before
 * the caller's snapshot and after pending invalidations are taken in (see
 * listing_cache.c).  Inside a transaction.  False when the answer must not
 * be cached: this transaction changed listed metadata itself, or it reads
 * with a transaction-wide snapshot.
 */
extern bool ps_listing_begin(uint64 *generation);

/*
 * A kept answer for this route, owner and principal set, or NULL.  Needs
 * no transaction.  The body is the cache's: copy it before anything else
 * may touch the cache.
 */
extern const char *ps_listing_lookup(int route, const char *owner,
									 List *principals, size_t *len);

/* Keep an answer computed since ps_listing_begin() returned generation. */
extern void ps_listing_store(int route, const char *owner, List *principals,
							 uint64 generation, const char *body, size_t len);

#endif
