/*
 * distributed.c: is provsecret running on a Citus coordinator?
 *
 * Citus records every distributed or reference table in its catalog
 * pg_catalog.pg_dist_partition (logicalrelid).  provsecret does not link
 * against Citus: the catalog is found by name, and its absence means no
 * Citus.
 */
#include "postgres.h"

#include <ctype.h>

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_namespace.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "core/distributed.h"

#define PS_CITUS_CATALOG "pg_dist_partition"
#define PS_CITUS_RELID_COLUMN "logicalrelid"
#define PS_DISTRIBUTED_PROBE "ai_provider_secret"
#define PS_CITUS_LOCAL_GROUP "pg_dist_local_group"
#define PS_CITUS_GROUP_COLUMN "groupid"

typedef enum DistributedState
{
	DISTRIBUTED_UNKNOWN,
	DISTRIBUTED_NO,
	DISTRIBUTED_YES
} DistributedState;

static DistributedState state = DISTRIBUTED_UNKNOWN;
static Oid	probe_relid = InvalidOid;
static bool callback_registered = false;

static void
distributed_invalidate(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == probe_relid)
		state = DISTRIBUTED_UNKNOWN;
}

/* Is relid a row of Citus's pg_dist_partition (catalog oid given)? */
static bool
citus_catalog_lists(Oid catalog, Oid relid)
{
	Relation	rel = table_open(catalog, AccessShareLock);
	AttrNumber	attnum = get_attnum(catalog, PS_CITUS_RELID_COLUMN);
	ScanKeyData key;
	SysScanDesc scan;
	bool		listed;

	if (attnum == InvalidAttrNumber)
	{
		table_close(rel, AccessShareLock);
		return false;
	}
	/* a few rows per distributed table: a sequential scan is enough */
	ScanKeyInit(&key, attnum, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(relid));
	scan = systable_beginscan(rel, InvalidOid, false, NULL, 1, &key);
	listed = HeapTupleIsValid(systable_getnext(scan));
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return listed;
}

bool
ps_tables_distributed(void)
{
	Oid			namespace;
	Oid			catalog;

	if (state != DISTRIBUTED_UNKNOWN)
		return state == DISTRIBUTED_YES;
	if (!callback_registered)
	{
		CacheRegisterRelcacheCallback(distributed_invalidate, (Datum) 0);
		callback_registered = true;
	}
	namespace = get_namespace_oid("provsecret", true);
	probe_relid = OidIsValid(namespace) ?
		get_relname_relid(PS_DISTRIBUTED_PROBE, namespace) : InvalidOid;
	/* before CREATE EXTENSION there is nothing to invalidate: ask again */
	if (!OidIsValid(probe_relid))
		return false;
	catalog = get_relname_relid(PS_CITUS_CATALOG, PG_CATALOG_NAMESPACE);
	state = OidIsValid(catalog) && citus_catalog_lists(catalog, probe_relid) ?
		DISTRIBUTED_YES : DISTRIBUTED_NO;
	return state == DISTRIBUTED_YES;
}

Oid
ps_logical_relation(Relation rel)
{
	const char *name = RelationGetRelationName(rel);
	size_t		len = strlen(name);
	size_t		digits = 0;
	char		base[NAMEDATALEN];
	Oid			logical;

	while (digits < len && isdigit((unsigned char) name[len - 1 - digits]))
		digits++;
	if (digits == 0 || digits + 1 >= len || name[len - 1 - digits] != '_')
		return RelationGetRelid(rel);
	memcpy(base, name, len - 1 - digits);
	base[len - 1 - digits] = '\0';
	logical = get_relname_relid(base, RelationGetNamespace(rel));
	return OidIsValid(logical) ? logical : RelationGetRelid(rel);
}

bool
ps_citus_worker_node(void)
{
	Oid			catalog = get_relname_relid(PS_CITUS_LOCAL_GROUP, PG_CATALOG_NAMESPACE);
	AttrNumber	attnum;
	Relation	rel;
	SysScanDesc scan;
	HeapTuple	tuple;
	bool		worker = false;

	if (!OidIsValid(catalog))
		return false;
	attnum = get_attnum(catalog, PS_CITUS_GROUP_COLUMN);
	if (attnum == InvalidAttrNumber)
		return false;
	rel = table_open(catalog, AccessShareLock);
	scan = systable_beginscan(rel, InvalidOid, false, NULL, 0, NULL);
	tuple = systable_getnext(scan);
	if (HeapTupleIsValid(tuple))
	{
		bool		isnull;
		Datum		group = heap_getattr(tuple, attnum, RelationGetDescr(rel), &isnull);

		worker = !isnull && DatumGetInt32(group) != 0;
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return worker;
}
