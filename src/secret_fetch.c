/*
 * secret_fetch.c: resolve's read path.
 *
 * resolve() is the hot path of the product: an index probe here instead of
 * an SPI statement saves the executor start-up, the plan-cache check and the
 * per-row policy evaluation, which cost more than the decryption itself.
 * The policy's rule still decides: resolve checks ps_authz_allows(read)
 * before calling this.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "executor/tuptable.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "provsecret.h"
#include "secret_fetch.h"

#define PS_SECRET_TABLE "ai_provider_secret"
#define PS_SECRET_REFERENCE_INDEX "ai_provider_secret_reference_key"

/*
 * The table's and index's OIDs and the two column numbers, looked up once
 * per backend: four catalog lookups per call were a visible part of a
 * resolve.  Any invalidation of either relation (DROP, ALTER, a reset of
 * the whole relcache) forgets them.
 */
typedef struct SecretTable
{
	Oid			relid;
	Oid			indexid;
	AttrNumber	ciphertext_attnum;
	AttrNumber	version_attnum;
} SecretTable;

static SecretTable secret_table;
static bool callback_registered = false;

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
	if (!OidIsValid(found.relid) || !OidIsValid(found.indexid))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("provsecret's secret table or its reference index is missing")));
	found.ciphertext_attnum = get_attnum(found.relid, "ciphertext");
	found.version_attnum = get_attnum(found.relid, "value_version");
	if (found.ciphertext_attnum == InvalidAttrNumber ||
		found.version_attnum == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("provsecret's secret table lacks its ciphertext or value_version column")));
	secret_table = found;
	return &secret_table;
}

bytea *
ps_secret_fetch(const char *canonical, int32 *value_version,
				MemoryContext context)
{
	SecretTable table = *secret_table_get();
	Relation	rel;
	Relation	index;
	Snapshot	snapshot;
	ScanKeyData key;
	IndexScanDesc scan;
	TupleTableSlot *slot;
	bytea	   *result = NULL;

	/* opening takes in invalidations: a stale OID fails here, not later */
	rel = table_open(table.relid, AccessShareLock);
	index = index_open(table.indexid, AccessShareLock);

	/* as SPI does for a volatile function: see this transaction's writes */
	CommandCounterIncrement();
	snapshot = RegisterSnapshot(GetTransactionSnapshot());

	ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_TEXTEQ,
				CStringGetTextDatum(canonical));
	key.sk_collation = index->rd_indcollation[0];
	slot = table_slot_create(rel, NULL);
	scan = index_beginscan(rel, index, snapshot, 1, 0);
	index_rescan(scan, &key, 1, NULL, 0);
	if (index_getnext_slot(scan, ForwardScanDirection, slot))
	{
		bool		isnull;
		Datum		ciphertext = slot_getattr(slot, table.ciphertext_attnum, &isnull);
		MemoryContext old;

		*value_version = DatumGetInt32(slot_getattr(slot, table.version_attnum, &isnull));
		old = MemoryContextSwitchTo(context);
		result = DatumGetByteaPCopy(ciphertext);
		MemoryContextSwitchTo(old);
	}
	index_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	UnregisterSnapshot(snapshot);
	index_close(index, AccessShareLock);
	table_close(rel, AccessShareLock);
	return result;
}
