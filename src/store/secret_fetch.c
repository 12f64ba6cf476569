/*
 * secret_fetch.c: resolve's read path.
 *
 * resolve() is the hot path of the product: an index probe here instead of
 * an SPI statement saves the executor start-up, the plan-cache check and the
 * per-row policy evaluation, which cost more than the decryption itself.
 * The policy's rule still decides: resolve checks ps_authz_allows(read)
 * before calling this.
 *
 * Each backend also remembers where it last found a reference (its heap
 * TID).  The next resolve of that reference fetches that tuple directly
 * and uses it only if it is visible to the snapshot and still carries the
 * same reference; anything else (a rotation moved it, VACUUM reused the
 * slot, the table was rewritten) falls back to the index probe.  The
 * unique index allows one visible version per reference, so a tuple that
 * passes is the one the probe would have found, for a B-tree descent less.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "common/hashfn.h"
#include "executor/tuptable.h"
#include "storage/bufmgr.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "core/distributed.h"
#include "core/identity.h"
#include "core/provsecret.h"
#include "core/query.h"
#include "store/secret_fetch.h"

#define PS_SECRET_TABLE "ai_provider_secret"
#define PS_SECRET_REFERENCE_INDEX "ai_provider_secret_company_reference_key"
/* before 0.5.0's upgrade script has run: the index of reference alone */
#define PS_SECRET_LEGACY_INDEX "ai_provider_secret_reference_key"

/*
 * The table's and index's OIDs and three column numbers, looked up once
 * per backend: four catalog lookups per call were a visible part of a
 * resolve.  Any invalidation of either relation (DROP, ALTER, a reset of
 * the whole relcache) forgets them.
 */
typedef struct SecretTable
{
	Oid			relid;
	Oid			indexid;
	bool		keyed;			/* indexid leads with company */
	AttrNumber	reference_attnum;
	AttrNumber	ciphertext_attnum;
	AttrNumber	version_attnum;
} SecretTable;

static SecretTable secret_table;
static bool callback_registered = false;

/*
 * Where references were last found: a four-way set-associative table keyed
 * by a hash of the reference, most recently used way first, so references
 * sharing a set rarely evict each other (512 kB at most, touched as used).
 * A wrong or stale TID costs one heap fetch and is never trusted (see
 * above), so nothing here is forgotten on invalidations: the checks alone
 * keep it right, and test 098 exercises them.
 */
#define TID_SETS 8192
#define TID_WAYS 4

typedef struct TidSlot
{
	uint32		tag;			/* high half of the reference's hash */
	ItemPointerData tid;
	Buffer		buffer;			/* where its block was, to skip a size check */
} TidSlot;

static TidSlot tid_slots[TID_SETS][TID_WAYS];

static void
secret_table_invalidate(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == secret_table.relid ||
		relid == secret_table.indexid)
		memset(&secret_table, 0, sizeof(secret_table));
}

static const SecretTable *
secret_table_get(void)
{
	Oid			namespace;
	SecretTable found;

	if (OidIsValid(secret_table.relid))
		return &secret_table;
	if (!callback_registered)
	{
		CacheRegisterRelcacheCallback(secret_table_invalidate, (Datum) 0);
		callback_registered = true;
	}
	namespace = get_namespace_oid("provsecret", false);
	found.relid = get_relname_relid(PS_SECRET_TABLE, namespace);
	found.indexid = get_relname_relid(PS_SECRET_REFERENCE_INDEX, namespace);
	found.keyed = OidIsValid(found.indexid);
	if (!found.keyed)
		found.indexid = get_relname_relid(PS_SECRET_LEGACY_INDEX, namespace);
	if (!OidIsValid(found.relid) || !OidIsValid(found.indexid))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("provsecret's secret table or its reference index is missing")));
	found.reference_attnum = get_attnum(found.relid, "reference");
	found.ciphertext_attnum = get_attnum(found.relid, "ciphertext");
	found.version_attnum = get_attnum(found.relid, "value_version");
	if (found.reference_attnum == InvalidAttrNumber ||
		found.ciphertext_attnum == InvalidAttrNumber ||
		found.version_attnum == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("provsecret's secret table lacks its reference, ciphertext or value_version column")));
	secret_table = found;
	return &secret_table;
}

/*
 * The tuple at a remembered TID, if visible and of this reference.  Its
 * block must still be inside the table: pinning the buffer it was last
 * read through proves that without asking the kernel for the size (a
 * truncation drops the buffers of the blocks it removes, and our lock
 * keeps one from starting).
 */
static bool
fetch_remembered(Relation rel, const SecretTable *table, Snapshot snapshot,
				 const TidSlot *remembered, const char *canonical,
				 size_t canonical_len, TupleTableSlot *slot)
{
	BlockNumber block = ItemPointerGetBlockNumber(&remembered->tid);
	bool		pinned;
	bool		found;
	bool		isnull;
	text	   *reference;

	pinned = BufferIsValid(remembered->buffer) &&
		ReadRecentBuffer(rel->rd_node, MAIN_FORKNUM, block, remembered->buffer);
	if (!pinned && block >= RelationGetNumberOfBlocks(rel))
		return false;
	found = table_tuple_fetch_row_version(rel, (ItemPointer) &remembered->tid,
										  snapshot, slot);
	if (pinned)
		ReleaseBuffer(remembered->buffer);
	if (!found)
		return false;
	reference = DatumGetTextPP(slot_getattr(slot, table->reference_attnum, &isnull));
	return !isnull &&
		VARSIZE_ANY_EXHDR(reference) == canonical_len &&
		memcmp(VARDATA_ANY(reference), canonical, canonical_len) == 0;
}

/* Where a reference was last found, or NULL. */
static const TidSlot *
remembered_slot(const TidSlot *set, uint32 tag)
{
	int			way;

	for (way = 0; way < TID_WAYS; way++)
		if (set[way].tag == tag && ItemPointerIsValid(&set[way].tid))
			return &set[way];
	return NULL;
}

/*
 * Remember where a reference was found, as the set's most recent way: the
 * ways before its old one (or all but the last) move down one.
 */
static void
remember_slot(TidSlot *set, uint32 tag, const TupleTableSlot *slot)
{
	int			way = 0;

	while (way < TID_WAYS - 1 && set[way].tag != tag)
		way++;
	memmove(&set[1], &set[0], way * sizeof(TidSlot));
	set[0].tag = tag;
	set[0].tid = slot->tts_tid;
	set[0].buffer = TTS_IS_BUFFERTUPLE(slot) ?
		((const BufferHeapTupleTableSlot *) slot)->buffer : InvalidBuffer;
}

/*
 * The index probe of (company, reference), one company's rows (of reference
 * alone on a schema not yet updated to 0.5.0): true and the tuple in slot
 * when the reference exists.
 */
static bool
fetch_by_index(Relation rel, const SecretTable *table, Snapshot snapshot,
			   const char *company, const char *canonical, TupleTableSlot *slot)
{
	Relation	index = index_open(table->indexid, AccessShareLock);
	ScanKeyData key[2];
	IndexScanDesc scan;
	bool		found;

	int			nkeys = 0;

	if (table->keyed)
	{
		ScanKeyInit(&key[nkeys], 1, BTEqualStrategyNumber, F_TEXTEQ,
					CStringGetTextDatum(company));
		key[nkeys].sk_collation = index->rd_indcollation[0];
		nkeys++;
	}
	ScanKeyInit(&key[nkeys], nkeys + 1, BTEqualStrategyNumber, F_TEXTEQ,
				CStringGetTextDatum(canonical));
	key[nkeys].sk_collation = index->rd_indcollation[nkeys];
	nkeys++;
	scan = index_beginscan(rel, index, snapshot, nkeys, 0);
	index_rescan(scan, key, nkeys, NULL, 0);
	found = index_getnext_slot(scan, ForwardScanDirection, slot);
	index_endscan(scan);
	index_close(index, NoLock);
	return found;
}

/*
 * On a Citus coordinator the table here is an empty shell (its rows are in
 * the workers' shards, and rows it held before it was distributed are still
 * on disk, no longer current): ask through the planner, which routes the
 * probe of (company, reference) to the one shard of that company.
 */
static bytea *
fetch_distributed(const char *company, const char *canonical,
				  int32 *value_version, MemoryContext context)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[2] = {TEXTOID, TEXTOID};
	Datum		values[2];
	PsIdentity	identity;
	bytea	   *result = NULL;
	bool		isnull;

	values[0] = CStringGetTextDatum(company);
	values[1] = CStringGetTextDatum(canonical);
	ps_identity_enter(PS_ACT_OWNER, &identity);
	SPI_connect();
	ps_query_plan(&plan,
				  "SELECT ciphertext, value_version FROM provsecret.ai_provider_secret"
				  " WHERE company OPERATOR(pg_catalog.=) $1"
				  "   AND reference OPERATOR(pg_catalog.=) $2",
				  2, argtypes);
	ps_query_run(plan, values, NULL, false, 1);
	if (SPI_processed > 0)
	{
		result = ps_query_bytea_copy(0, 1, context);
		*value_version = DatumGetInt32(ps_query_datum(0, 2, &isnull));
	}
	SPI_finish();
	ps_identity_leave(&identity);
	return result;
}

bytea *
ps_secret_fetch(const char *company, const char *canonical,
				int32 *value_version, MemoryContext context)
{
	SecretTable table;
	size_t		canonical_len = strlen(canonical);
	uint64		reference_hash;
	uint32		tag;
	TidSlot    *set;
	const TidSlot *remembered;
	Relation	rel;
	Snapshot	snapshot;
	TupleTableSlot *slot;
	bytea	   *result = NULL;

	if (ps_tables_distributed())
		return fetch_distributed(company, canonical, value_version, context);
	table = *secret_table_get();
	reference_hash = hash_bytes_extended((const unsigned char *) canonical,
										 canonical_len, 0);
	set = tid_slots[reference_hash % TID_SETS];
	tag = (uint32) (reference_hash >> 32);
	remembered = remembered_slot(set, tag);

	/* opening takes in invalidations: a stale OID fails here, not later */
	rel = table_open(table.relid, AccessShareLock);

	/* as SPI does for a volatile function: see this transaction's writes */
	CommandCounterIncrement();
	snapshot = RegisterSnapshot(GetTransactionSnapshot());
	slot = table_slot_create(rel, NULL);

	if ((remembered != NULL &&
		 fetch_remembered(rel, &table, snapshot, remembered, canonical,
						  canonical_len, slot)) ||
		fetch_by_index(rel, &table, snapshot, company, canonical, slot))
	{
		bool		isnull;
		Datum		ciphertext = slot_getattr(slot, table.ciphertext_attnum, &isnull);
		MemoryContext old;

		*value_version = DatumGetInt32(slot_getattr(slot, table.version_attnum, &isnull));
		old = MemoryContextSwitchTo(context);
		result = DatumGetByteaPCopy(ciphertext);
		MemoryContextSwitchTo(old);
		remember_slot(set, tag, slot);
	}
	ExecDropSingleTupleTableSlot(slot);
	UnregisterSnapshot(snapshot);
	/* locks stay until the transaction ends, as the executor's do */
	table_close(rel, NoLock);
	return result;
}
