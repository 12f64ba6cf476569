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
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "provsecret.h"
#include "secret_fetch.h"

#define PS_SECRET_TABLE "ai_provider_secret"
#define PS_SECRET_REFERENCE_INDEX "ai_provider_secret_reference_key"

bytea *
ps_secret_fetch(const char *canonical, int32 *value_version,
				MemoryContext context)
{
	Oid			namespace = get_namespace_oid("provsecret", false);
	Oid			relid = get_relname_relid(PS_SECRET_TABLE, namespace);
	Oid			indexid = get_relname_relid(PS_SECRET_REFERENCE_INDEX, namespace);
	Relation	rel;
	Relation	index;
	AttrNumber	ciphertext_attnum;
	AttrNumber	version_attnum;
	Snapshot	snapshot;
	ScanKeyData key;
	IndexScanDesc scan;
	TupleTableSlot *slot;
	bytea	   *result = NULL;

	if (!OidIsValid(relid) || !OidIsValid(indexid))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("provsecret's secret table or its reference index is missing")));
	rel = table_open(relid, AccessShareLock);
	index = index_open(indexid, AccessShareLock);
	ciphertext_attnum = get_attnum(relid, "ciphertext");
	version_attnum = get_attnum(relid, "value_version");
	if (ciphertext_attnum == InvalidAttrNumber || version_attnum == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("provsecret's secret table lacks its ciphertext or value_version column")));

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
		Datum		ciphertext = slot_getattr(slot, ciphertext_attnum, &isnull);
		MemoryContext old;

		*value_version = DatumGetInt32(slot_getattr(slot, version_attnum, &isnull));
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
