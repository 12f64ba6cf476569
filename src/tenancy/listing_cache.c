/*
 * listing_cache.c: kept answers of the REST listing routes (rules in
 * listing_cache.h).
 *
 * Why the order of events makes a kept answer safe.  A writer commits
 * (its rows become visible), sends its invalidation messages, and only
 * then, in a resource-release callback that runs after both, moves the
 * shared generation on; all of that happens before its client hears
 * "committed".  A reader computing an answer reads the generation G first,
 * then takes in invalidation messages (so the grants cache is current),
 * then takes its snapshot.  If a writer's move happened before G was read,
 * its messages were already sent and its rows are in the snapshot; if not,
 * the move comes later and retires G.  Either way an answer kept under G
 * is served only while it is true, and any request sent after a writer's
 * commit was acknowledged sees the new generation.
 *
 * Two-phase commit.  PREPARE TRANSACTION makes nothing visible, so it
 * moves nothing: the writer's mark is dropped when it prepares.  COMMIT
 * PREPARED, in whichever session runs it, passes through the utility hook
 * below.  FinishPreparedTransaction writes the commit, takes the
 * transaction out of the proc array (its rows become visible) and sends the
 * invalidation messages kept with it, then returns; the hook then moves the
 * generation on, and only after that does the client hear the command
 * completed.  That is the writer's order above, so the same argument holds.
 * PostgreSQL keeps every pending invalidation of a transaction in its
 * two-phase state at PREPARE, the grants caches' relcache invalidations
 * among them, and sends them at COMMIT PREPARED; nothing of ours needs to
 * travel with it.  Any COMMIT PREPARED retires every kept answer: it is
 * rare, and a spare move only costs a recomputation.
 *
 * No other path commits a prepared transaction while answers are kept.  A
 * prepared transaction survives a restart as prepared and is committed by
 * a later COMMIT PREPARED statement.  The startup process replays COMMIT
 * PREPARED records only during recovery, and the REST workers start when
 * recovery ends, with nothing kept.  The logical replication apply worker
 * (subscriptions with two_phase) calls FinishPreparedTransaction itself,
 * but it runs with session_replication_role = replica, so its changes fire
 * none of our triggers at all and are bounded by PS_LISTING_MAX_AGE_S like
 * any write that fires none.
 */
#include "postgres.h"

#include <sodium.h>

#include "access/xact.h"
#include "commands/trigger.h"
#include "fmgr.h"
#include "port/atomics.h"
#include "storage/shmem.h"
#include "tcop/utility.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/timestamp.h"

#include "audit/audit_queue.h"
#include "core/distributed.h"
#include "core/provsecret.h"
#include "tenancy/listing_cache.h"

#define LISTING_MAX_ENTRIES		512
#define LISTING_MAX_BYTES		(8 * 1024 * 1024)
#define LISTING_KEY_LEN			32

typedef struct ListingShared
{
	pg_atomic_uint64 generation;
} ListingShared;

typedef struct ListingEntry
{
	unsigned char key[LISTING_KEY_LEN];	/* hash of route, owner, principals */
	uint64		generation;
	TimestampTz stored_at;
	char	   *body;
	size_t		len;
} ListingEntry;

static ListingShared *shared = NULL;
static bool xact_changed = false;
static bool callback_registered = false;
static ProcessUtility_hook_type prev_process_utility = NULL;

static HTAB *entries = NULL;
static MemoryContext listing_cxt = NULL;
static size_t entries_bytes = 0;

void
ps_listing_shmem_request(void)
{
	RequestAddinShmemSpace(MAXALIGN(sizeof(ListingShared)));
}

void
ps_listing_shmem_startup(void)
{
	bool		found;

	shared = ShmemInitStruct("provsecret listing generation",
							 sizeof(ListingShared), &found);
	if (!found)
		pg_atomic_init_u64(&shared->generation, 1);
}

/* After AtEOXact_Inval: the last step of a commit that touches listings. */
static void
listing_release_callback(ResourceReleasePhase phase, bool isCommit,
						 bool isTopLevel, void *arg)
{
	if (phase != RESOURCE_RELEASE_AFTER_LOCKS || !isTopLevel || !xact_changed)
		return;
	xact_changed = false;
	/* an abort changed nothing others can see */
	if (isCommit && shared != NULL)
		pg_atomic_fetch_add_u64(&shared->generation, 1);
}

/*
 * A prepared transaction releases its resources as if it committed, but
 * nothing is visible before COMMIT PREPARED, which moves the generation
 * itself (listing_process_utility).
 */
static void
listing_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_PREPARE)
		xact_changed = false;
}

void
ps_listing_changed(void)
{
	if (!callback_registered)
	{
		RegisterResourceReleaseCallback(listing_release_callback, NULL);
		RegisterXactCallback(listing_xact_callback, NULL);
		callback_registered = true;
	}
	xact_changed = true;
}

/*
 * After COMMIT PREPARED, or after it failed (a failure may come once the
 * commit is done), retire every kept answer; see the file's header.
 */
static void
listing_process_utility(PlannedStmt *pstmt, const char *queryString,
						bool readOnlyTree, ProcessUtilityContext context,
						ParamListInfo params, QueryEnvironment *queryEnv,
						DestReceiver *dest, QueryCompletion *qc)
{
	Node	   *stmt = pstmt->utilityStmt;
	bool		commit_prepared;

	commit_prepared = IsA(stmt, TransactionStmt) &&
		((TransactionStmt *) stmt)->kind == TRANS_STMT_COMMIT_PREPARED;
	PG_TRY();
	{
		if (prev_process_utility)
			prev_process_utility(pstmt, queryString, readOnlyTree, context,
								 params, queryEnv, dest, qc);
		else
			standard_ProcessUtility(pstmt, queryString, readOnlyTree, context,
									params, queryEnv, dest, qc);
	}
	PG_FINALLY();
	{
		if (commit_prepared && shared != NULL)
			pg_atomic_fetch_add_u64(&shared->generation, 1);
	}
	PG_END_TRY();
	/* its audit events are committed: the audit worker chains them now */
	if (commit_prepared)
		ps_audit_queue_wake_worker(true);
}

void
ps_listing_install_hook(void)
{
	prev_process_utility = ProcessUtility_hook;
	ProcessUtility_hook = listing_process_utility;
}

bool
ps_listing_begin(uint64 *generation)
{
	/*
	 * Under Citus the listed tables' triggers fire on the workers' shards,
	 * so a write would not retire a kept answer here: keep none.
	 */
	if (shared == NULL || xact_changed || IsolationUsesXactSnapshot() ||
		ps_tables_distributed())
		return false;
	*generation = pg_atomic_read_u64(&shared->generation);
	pg_memory_barrier();
	AcceptInvalidationMessages();
	return true;
}

static void
listing_reset(void)
{
	HASHCTL		ctl;

	if (listing_cxt == NULL)
		listing_cxt = AllocSetContextCreate(TopMemoryContext,
											"provsecret listings",
											ALLOCSET_DEFAULT_SIZES);
	MemoryContextReset(listing_cxt);
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = LISTING_KEY_LEN;
	ctl.entrysize = sizeof(ListingEntry);
	ctl.hcxt = listing_cxt;
	entries = hash_create("provsecret listings", 64, &ctl,
						  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	entries_bytes = 0;
}

/* Unambiguous: each part is length-prefixed before it is hashed. */
static void
listing_key(int route, const char *owner, List *principals, unsigned char *out)
{
	crypto_generichash_state st;
	ListCell   *lc;
	uint32		n;

	crypto_generichash_init(&st, NULL, 0, LISTING_KEY_LEN);
	n = (uint32) route;
	crypto_generichash_update(&st, (const unsigned char *) &n, sizeof(n));
	n = (uint32) strlen(owner);
	crypto_generichash_update(&st, (const unsigned char *) &n, sizeof(n));
	crypto_generichash_update(&st, (const unsigned char *) owner, n);
	foreach(lc, principals)
	{
		const char *p = lfirst(lc);

		n = (uint32) strlen(p);
		crypto_generichash_update(&st, (const unsigned char *) &n, sizeof(n));
		crypto_generichash_update(&st, (const unsigned char *) p, n);
	}
	crypto_generichash_final(&st, out, LISTING_KEY_LEN);
}

const char *
ps_listing_lookup(int route, const char *owner, List *principals, size_t *len)
{
	unsigned char key[LISTING_KEY_LEN];
	ListingEntry *e;

	if (entries == NULL || shared == NULL || xact_changed)
		return NULL;
	listing_key(route, owner, principals, key);
	e = hash_search(entries, key, HASH_FIND, NULL);
	if (e == NULL)
		return NULL;
	pg_memory_barrier();
	if (e->generation != pg_atomic_read_u64(&shared->generation) ||
		TimestampDifferenceExceeds(e->stored_at, GetCurrentTimestamp(),
								   PS_LISTING_MAX_AGE_S * 1000))
	{
		entries_bytes -= e->len;
		pfree(e->body);
		(void) hash_search(entries, key, HASH_REMOVE, NULL);
		return NULL;
	}
	*len = e->len;
	return e->body;
}

void
ps_listing_store(int route, const char *owner, List *principals,
				 uint64 generation, const char *body, size_t len)
{
	unsigned char key[LISTING_KEY_LEN];
	ListingEntry *e;
	char	   *copy;
	bool		found;

	if (shared == NULL || xact_changed || len > LISTING_MAX_BYTES / 8)
		return;
	if (entries == NULL || hash_get_num_entries(entries) >= LISTING_MAX_ENTRIES ||
		entries_bytes + len > LISTING_MAX_BYTES)
		listing_reset();
	listing_key(route, owner, principals, key);
	copy = MemoryContextAlloc(listing_cxt, len + 1);
	memcpy(copy, body, len);
	copy[len] = '\0';
	e = hash_search(entries, key, HASH_ENTER, &found);
	if (found)
	{
		entries_bytes -= e->len;
		pfree(e->body);
	}
	e->generation = generation;
	e->stored_at = GetCurrentTimestamp();
	e->body = copy;
	e->len = len;
	entries_bytes += len;
}

PG_FUNCTION_INFO_V1(ps_invalidate_listings);

/* Statement trigger on the tables listings are made of. */
Datum
ps_invalidate_listings(PG_FUNCTION_ARGS)
{
	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("ps_invalidate_listings must be called as a trigger")));
	ps_listing_changed();
	return PointerGetDatum(NULL);
}
