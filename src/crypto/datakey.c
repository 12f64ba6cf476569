/*
 * datakey.c: per-tenant data keys, wrapped by the root key.
 */
#include "postgres.h"

#include <sodium.h>

#include "access/xact.h"
#include "catalog/namespace.h"
#include "common/hashfn.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "storage/lock.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"

#include "core/distributed.h"
#include "core/identity.h"
#include "core/provsecret.h"
#include "core/reference.h"
#include "core/query.h"
#include "crypto/datakey.h"
#include "crypto/keyring.h"
#include "crypto/seal.h"

#define PS_DATAKEY_CACHE_SIZE 128

/*
 * Tenant locks are advisory locks in this database on one of a few stripes
 * (a transaction sealing many tenants holds at most PS_TENANT_STRIPES
 * locks); the first key and the last field keep them apart from
 * pg_advisory_lock()'s, which use 1 or 2 there.
 */
#define PS_TENANT_STRIPES 32
#define PS_TENANT_LOCK_KEY 0x70737263	/* "psrc" */
#define PS_TENANT_LOCK_FIELD4 0x7073

typedef struct PsCachedKey
{
	int64		id;
	bool		used;
	unsigned char key[PS_KEY_BYTES];
} PsCachedKey;

static PsCachedKey *ps_cache = NULL;	/* sodium_malloc'd */
static int	ps_cache_next = 0;
static bool ps_cache_stale = false;	/* wipe at the next ps_datakey_* call */
static Oid	ps_data_key_relid = InvalidOid;

static SPIPlanPtr plan_by_id[2];
/*
 * [ps_schema_keyed()]: before and after 0.5.0's upgrade script; after it a
 * tenant's keys are found among its company's rows (on Citus: one shard).
 */
static SPIPlanPtr plan_active[2];
static SPIPlanPtr plan_insert[2];
static SPIPlanPtr plan_nextval = NULL;
static SPIPlanPtr plan_in_progress[2];

void
ps_datakey_forget_all(void)
{
	if (ps_cache != NULL)
		sodium_memzero(ps_cache, sizeof(PsCachedKey) * PS_DATAKEY_CACHE_SIZE);
	ps_cache_next = 0;
}

void
ps_datakey_lock_tenant(const char *tenant, LOCKMODE mode)
{
	LOCKTAG		tag;
	uint32		stripe = hash_bytes((const unsigned char *) tenant,
									(int) strlen(tenant)) % PS_TENANT_STRIPES;

	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, PS_TENANT_LOCK_KEY, stripe,
						 PS_TENANT_LOCK_FIELD4);
	(void) LockAcquire(&tag, mode, false, false);
}

static void
datakey_relcache_callback(Datum arg, Oid relid)
{
	/* deferred, so a key handed out stays valid until the next call */
	if (relid == InvalidOid || relid == ps_data_key_relid)
		ps_cache_stale = true;
}

/*
 * Under Citus data_key's triggers fire on the workers' shards, and no
 * invalidation tells this backend that a key was destroyed (shred, the end
 * of a rotation): there, keys are kept for one transaction only, wiped
 * when it ends.  (Decided in cache_init(), inside a transaction: an abort
 * callback may not read the catalog.)
 */
static bool ps_cache_per_xact = false;

static void
datakey_xact_callback(XactEvent event, void *arg)
{
	if ((event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		 event == XACT_EVENT_PREPARE) && ps_cache != NULL && ps_cache_per_xact)
		ps_datakey_forget_all();
}

static void
cache_init(void)
{
	if (ps_cache != NULL)
	{
		ps_cache_per_xact = ps_tables_distributed();
		if (ps_cache_stale)
		{
			ps_datakey_forget_all();
			ps_cache_stale = false;
		}
		return;
	}
	ps_cache = sodium_malloc(sizeof(PsCachedKey) * PS_DATAKEY_CACHE_SIZE);
	if (ps_cache == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("provsecret: could not allocate locked memory for data keys")));
	ps_datakey_forget_all();
	CacheRegisterRelcacheCallback(datakey_relcache_callback, (Datum) 0);
	RegisterXactCallback(datakey_xact_callback, NULL);
	ps_cache_per_xact = ps_tables_distributed();
}

static const unsigned char *
cache_find(int64 id)
{
	for (int i = 0; i < PS_DATAKEY_CACHE_SIZE; i++)
		if (ps_cache[i].used && ps_cache[i].id == id)
			return ps_cache[i].key;
	return NULL;
}

static PsCachedKey *
cache_slot(int64 id)
{
	PsCachedKey *slot = &ps_cache[ps_cache_next];

	ps_cache_next = (ps_cache_next + 1) % PS_DATAKEY_CACHE_SIZE;
	sodium_memzero(slot, sizeof(*slot));
	slot->id = id;
	return slot;
}

/* Unwrap into a cache slot; SPI connected, row in SPI_tuptable. */
static const unsigned char *
unwrap_row(int64 id, const char *tenant, bytea *wrapped,
		   const char *fingerprint)
{
	const PsRootKey *root = ps_keyring_lookup(fingerprint);
	PsCachedKey *slot = cache_slot(id);

	if (!ps_seal_unwrap_key(root, id, tenant, wrapped, slot->key))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("data key %lld failed authentication", (long long) id),
				 errdetail("Its wrapped form was altered or moved to another tenant.")));
	slot->used = true;
	return slot->key;
}

/*
 * The company a tenant's key rows carry: "company/<c>" is c, "project/<p>"
 * (a project without a company) its own, "~<p>".
 */
static Datum
tenant_row_company(const char *tenant)
{
	char		own[PS_OWN_COMPANY_MAX + 1];

	if (strncmp(tenant, "company/", 8) == 0)
		return CStringGetTextDatum(tenant + 8);
	if (strncmp(tenant, "project/", 8) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg_internal("not a data-key tenant: \"%s\"", tenant)));
	ps_own_company(tenant + 8, own, sizeof(own));
	return CStringGetTextDatum(own);
}

static void
note_relid(void)
{
	if (!OidIsValid(ps_data_key_relid))
		ps_data_key_relid = get_relname_relid("data_key",
											  get_namespace_oid("provsecret", false));
}

/* Look up the active key of a tenant (SPI connected); 0 when none. */
static int64
lookup_active(const char *tenant, const unsigned char **key)
{
	Oid			argtypes[2] = {TEXTOID, TEXTOID};
	Datum		values[2] = {CStringGetTextDatum(tenant), tenant_row_company(tenant)};
	bool		isnull;
	int64		id;
	int			keyed = ps_schema_keyed();

	ps_query_plan(&plan_active[keyed], keyed ?
				  "SELECT id, wrapped_key, root_key_fingerprint"
				  "  FROM provsecret.data_key"
				  " WHERE company OPERATOR(pg_catalog.=) $2"
				  "   AND tenant OPERATOR(pg_catalog.=) $1 AND retired_at IS NULL" :
				  "SELECT id, wrapped_key, root_key_fingerprint"
				  "  FROM provsecret.data_key"
				  " WHERE tenant OPERATOR(pg_catalog.=) $1 AND retired_at IS NULL",
				  2, argtypes);
	/* the newest committed key, even under REPEATABLE READ (rotate.c) */
	ps_query_run_latest(plan_active[keyed], values, NULL, 1);
	if (SPI_processed == 0)
		return 0;
	id = DatumGetInt64(ps_query_datum(0, 1, &isnull));
	*key = cache_find(id);
	if (*key == NULL)
		*key = unwrap_row(id, tenant,
							 DatumGetByteaPP(ps_query_datum(0, 2, &isnull)),
							 ps_query_text(0, 3));
	return id;
}

int64
ps_datakey_active(const char *tenant, const char *company, const char *project,
				  const unsigned char **key)
{
	PsIdentity	identity;
	int64		id;

	cache_init();
	note_relid();
	/*
	 * Held until commit: a data-key rotation of this tenant waits for this
	 * transaction before it destroys a retired key we might be sealing
	 * with, and we wait for a rotation's batch before reading the active key.
	 */
	ps_datakey_lock_tenant(tenant, ShareLock);
	ps_identity_enter(PS_ACT_OWNER, &identity);
	SPI_connect();

	id = lookup_active(tenant, key);
	if (id == 0)
	{
		const PsRootKey *root = ps_keyring_current();
		Oid			argtypes[6] = {INT8OID, TEXTOID, TEXTOID, TEXTOID, BYTEAOID, TEXTOID};
		Datum		values[6];
		char		nulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};
		bool		isnull;
		PsCachedKey *slot;
		int			keyed;

		ps_query_plan(&plan_nextval,
					  "SELECT pg_catalog.nextval('provsecret.data_key_id_seq'::pg_catalog.regclass)",
					  0, NULL);
		ps_query_run(plan_nextval, NULL, NULL, false, 1);
		id = DatumGetInt64(ps_query_datum(0, 1, &isnull));

		slot = cache_slot(id);
		randombytes_buf(slot->key, PS_KEY_BYTES);

		values[0] = Int64GetDatum(id);
		values[1] = CStringGetTextDatum(tenant);
		if (company != NULL)
			values[2] = CStringGetTextDatum(company);
		else
		{
			/* a project without a company: its own (tenancy/tenant.h) */
			char		own[PS_OWN_COMPANY_MAX + 1];

			ps_own_company(project, own, sizeof(own));
			values[2] = CStringGetTextDatum(own);
		}
		values[3] = project && !company ? CStringGetTextDatum(project) : (Datum) 0;
		nulls[3] = project && !company ? ' ' : 'n';
		values[4] = PointerGetDatum(ps_seal_wrap_key(root, id, tenant, slot->key));
		values[5] = CStringGetTextDatum(root->fingerprint);
		keyed = ps_schema_keyed();
		ps_query_plan(&plan_insert[keyed], keyed ?
					  "INSERT INTO provsecret.data_key"
					  " (id, tenant, company, project, wrapped_key, root_key_fingerprint)"
					  " VALUES ($1, $2, $3, $4, $5, $6)"
					  " ON CONFLICT (company, tenant) WHERE retired_at IS NULL DO NOTHING" :
					  "INSERT INTO provsecret.data_key"
					  " (id, tenant, company, project, wrapped_key, root_key_fingerprint)"
					  " VALUES ($1, $2, $3, $4, $5, $6)"
					  " ON CONFLICT (tenant) WHERE retired_at IS NULL DO NOTHING",
					  6, argtypes);
		ps_query_run(plan_insert[keyed], values, nulls, false, 0);
		if (SPI_processed == 1)
		{
			slot->used = true;
			*key = slot->key;
		}
		else
		{
			/* a concurrent seal created it first: use theirs */
			sodium_memzero(slot, sizeof(*slot));
			id = lookup_active(tenant, key);
			if (id == 0)
				ereport(ERROR,
						(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
						 errmsg("could not create or find the data key of %s", tenant)));
		}
	}

	SPI_finish();
	ps_identity_leave(&identity);
	return id;
}

const unsigned char *
ps_datakey_by_id(int64 id, const char *company)
{
	const unsigned char *key;
	PsIdentity	identity;
	Oid			argtypes[2] = {INT8OID, TEXTOID};
	Datum		values[2] = {Int64GetDatum(id), CStringGetTextDatum(company)};
	bool		isnull;
	int			keyed;

	cache_init();
	key = cache_find(id);
	if (key != NULL)
		return key;

	note_relid();
	ps_identity_enter(PS_ACT_OWNER, &identity);
	SPI_connect();
	keyed = ps_schema_keyed();
	ps_query_plan(&plan_by_id[keyed], keyed ?
				  "SELECT tenant, wrapped_key, root_key_fingerprint"
				  "  FROM provsecret.data_key"
				  " WHERE company OPERATOR(pg_catalog.=) $2 AND id OPERATOR(pg_catalog.=) $1" :
				  "SELECT tenant, wrapped_key, root_key_fingerprint"
				  "  FROM provsecret.data_key WHERE id OPERATOR(pg_catalog.=) $1",
				  2, argtypes);
	ps_query_run(plan_by_id[keyed], values, NULL, false, 1);

	/*
	 * Not among the company's rows: an attach of the project may have moved
	 * the key since its ciphertext was read (it was under "~<p>").  By id
	 * alone (on Citus, every shard), as before 0.5.0.
	 */
	if (SPI_processed == 0 && keyed)
	{
		ps_query_plan(&plan_by_id[0],
					  "SELECT tenant, wrapped_key, root_key_fingerprint"
					  "  FROM provsecret.data_key WHERE id OPERATOR(pg_catalog.=) $1",
					  2, argtypes);
		ps_query_run(plan_by_id[0], values, NULL, false, 1);
	}
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("the data key of this secret no longer exists"),
				 errdetail("Its tenant's data key was destroyed (shredded).")));
	key = unwrap_row(id, ps_query_text(0, 1),
						DatumGetByteaPP(ps_query_datum(0, 2, &isnull)),
						ps_query_text(0, 3));
	SPI_finish();
	ps_identity_leave(&identity);
	return key;
}

/* Retired keys of the tenant, as of the newest committed data. */
int64
ps_datakey_retired_keys(const char *tenant)
{
	Oid			argtypes[2] = {TEXTOID, TEXTOID};
	Datum		values[2] = {CStringGetTextDatum(tenant), tenant_row_company(tenant)};
	bool		isnull;
	int			keyed = ps_schema_keyed();

	ps_query_plan(&plan_in_progress[keyed], keyed ?
				  "SELECT pg_catalog.count(*) FROM provsecret.data_key"
				  " WHERE company OPERATOR(pg_catalog.=) $2"
				  "   AND tenant OPERATOR(pg_catalog.=) $1 AND retired_at IS NOT NULL" :
				  "SELECT pg_catalog.count(*) FROM provsecret.data_key"
				  " WHERE tenant OPERATOR(pg_catalog.=) $1 AND retired_at IS NOT NULL",
				  2, argtypes);
	ps_query_run_latest(plan_in_progress[keyed], values, NULL, 1);
	return DatumGetInt64(ps_query_datum(0, 1, &isnull));
}

bool
ps_keys_rotation_in_progress(const char *key_owner)
{
	return ps_datakey_retired_keys(key_owner) > 0;
}
