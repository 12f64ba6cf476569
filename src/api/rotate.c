/*
 * rotate.c: data-key rotation of one tenant, rotate_data_key(target) in one
 * transaction and rotate_data_key(target, batch) in as many as the caller
 * likes.
 *
 * A rotation is "in progress" while the tenant has a retired data key: new
 * seals already use the new active key, reads still unwrap the retired one,
 * and each call re-encrypts ciphertexts still under it.  A call that finds
 * none destroys the retired key.  Every call holds the tenant's lock
 * exclusively (datakey.c) until it commits: writers of the tenant hold it
 * shared, so no seal that read the old key as active is still uncommitted
 * when we look for ciphertexts under it, and two rotations never overlap.
 * Readers take no lock.
 */
#include "postgres.h"

#include <sodium.h>

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"

#include "api/keys.h"
#include "api/secret.h"
#include "core/identity.h"
#include "core/provsecret.h"
#include "core/query.h"
#include "crypto/datakey.h"
#include "crypto/seal.h"
#include "tenancy/tenant.h"

/*
 * [ps_schema_keyed()]: before 0.5.0's update, and after it, when every
 * statement also names the tenant's company, so that on Citus each one
 * reaches that company's shards only and joins on the distribution column.
 */
static SPIPlanPtr plan_active_latest[2];
static SPIPlanPtr plan_retire[2];
static SPIPlanPtr plan_pending[2];
static SPIPlanPtr plan_reseal_secret[2];
static SPIPlanPtr plan_reseal_version[2];
static SPIPlanPtr plan_drop_retired[2];

typedef struct PsRotation
{
	int64		new_key_id;		/* the tenant's active data key */
	int64		done;			/* ciphertexts re-encrypted by this call */
	bool		started;		/* this call retired the old key */
	bool		finished;		/* this call destroyed the retired key(s) */
} PsRotation;

/* Re-encrypt one ciphertext from its data key to the tenant's new one. */
static bytea *
reseal(const PsSealBinding *binding, const char *company, const bytea *ciphertext,
	   int64 new_key_id)
{
	Size		len;
	char	   *plaintext = ps_secret_open(binding, company, ciphertext, &len,
										   CurrentMemoryContext);
	bytea	   *volatile result = NULL;

	PG_TRY();
	{
		result = ps_seal_encrypt(ps_datakey_by_id(new_key_id, company), new_key_id,
								 binding, plaintext, len);
	}
	PG_FINALLY();
	{
		sodium_memzero(plaintext, len);
	}
	PG_END_TRY();
	return result;
}

/*
 * Re-encrypt up to limit (0: all) ciphertexts of the tenant still under a
 * retired key; returns how many.  SPI connected.
 */
static int64
reseal_pending(Datum tenant, Datum company, int64 new_id, int64 limit)
{
	Oid			argtypes[3] = {TEXTOID, INT8OID, TEXTOID};
	Datum		values[3] = {tenant, Int64GetDatum(limit), company};
	char		nulls[4] = {' ', limit > 0 ? ' ' : 'n', ' ', '\0'};
	uint64		rows;
	SPITupleTable *pending;
	int64		done = 0;
	int			keyed = ps_schema_keyed();

	/*
	 * Newest committed rows even under REPEATABLE READ, so the call that
	 * finds none may destroy the key; an update that then misses its row
	 * is a serialization failure below rather than a lost secret.
	 */
	ps_query_plan(&plan_pending[keyed], keyed ?
				  "SELECT * FROM ("
				  " SELECT s.id, s.reference, s.scope, s.value_version, s.ciphertext,"
				  "        false, s.data_key_id"
				  "   FROM provsecret.data_key k"
				  "   JOIN provsecret.ai_provider_secret s"
				  "     ON s.company OPERATOR(pg_catalog.=) k.company"
				  "    AND s.data_key_id OPERATOR(pg_catalog.=) k.id"
				  "  WHERE k.company OPERATOR(pg_catalog.=) $3"
				  "    AND k.tenant OPERATOR(pg_catalog.=) $1 AND k.retired_at IS NOT NULL"
				  " UNION ALL"
				  " SELECT s.id, s.reference, s.scope, v.value_version, v.ciphertext,"
				  "        true, v.data_key_id"
				  "   FROM provsecret.data_key k"
				  "   JOIN provsecret.ai_provider_secret_version v"
				  "     ON v.company OPERATOR(pg_catalog.=) k.company"
				  "    AND v.data_key_id OPERATOR(pg_catalog.=) k.id"
				  "   JOIN provsecret.ai_provider_secret s"
				  "     ON s.company OPERATOR(pg_catalog.=) v.company"
				  "    AND s.id OPERATOR(pg_catalog.=) v.secret_id"
				  "  WHERE k.company OPERATOR(pg_catalog.=) $3"
				  "    AND k.tenant OPERATOR(pg_catalog.=) $1 AND k.retired_at IS NOT NULL"
				  ") pending LIMIT $2" :
				  "SELECT * FROM ("
				  " SELECT s.id, s.reference, s.scope, s.value_version, s.ciphertext,"
				  "        false, s.data_key_id"
				  "   FROM provsecret.data_key k"
				  "   JOIN provsecret.ai_provider_secret s"
				  "     ON s.data_key_id OPERATOR(pg_catalog.=) k.id"
				  "  WHERE k.tenant OPERATOR(pg_catalog.=) $1 AND k.retired_at IS NOT NULL"
				  " UNION ALL"
				  " SELECT s.id, s.reference, s.scope, v.value_version, v.ciphertext,"
				  "        true, v.data_key_id"
				  "   FROM provsecret.data_key k"
				  "   JOIN provsecret.ai_provider_secret_version v"
				  "     ON v.data_key_id OPERATOR(pg_catalog.=) k.id"
				  "   JOIN provsecret.ai_provider_secret s"
				  "     ON s.id OPERATOR(pg_catalog.=) v.secret_id"
				  "  WHERE k.tenant OPERATOR(pg_catalog.=) $1 AND k.retired_at IS NOT NULL"
				  ") pending LIMIT $2",
				  3, argtypes);
	ps_query_run_latest(plan_pending[keyed], values, nulls, 0);
	rows = SPI_processed;
	pending = SPI_tuptable;
	for (uint64 row = 0; row < rows; row++)
	{
		bool		isnull;
		HeapTuple	tuple = pending->vals[row];
		TupleDesc	desc = pending->tupdesc;
		PsSealBinding binding;
		Datum		upd[6];
		Oid			upd_types[6] = {INT8OID, INT8OID, BYTEAOID, INT4OID, INT8OID, TEXTOID};
		bool		kept = DatumGetBool(SPI_getbinval(tuple, desc, 6, &isnull));

		binding.reference = SPI_getvalue(tuple, desc, 2);
		binding.scope = SPI_getvalue(tuple, desc, 3);
		binding.value_version = DatumGetInt32(SPI_getbinval(tuple, desc, 4, &isnull));
		upd[0] = SPI_getbinval(tuple, desc, 1, &isnull);
		upd[1] = Int64GetDatum(new_id);
		upd[2] = PointerGetDatum(reseal(&binding, TextDatumGetCString(company),
										   DatumGetByteaPP(SPI_getbinval(tuple, desc, 5, &isnull)),
										   new_id));
		upd[3] = Int32GetDatum(binding.value_version);
		upd[4] = SPI_getbinval(tuple, desc, 7, &isnull);
		upd[5] = company;
		if (kept)
		{
			ps_query_plan(&plan_reseal_version[keyed], keyed ?
						  "UPDATE provsecret.ai_provider_secret_version"
						  "   SET data_key_id = $2, ciphertext = $3"
						  " WHERE company OPERATOR(pg_catalog.=) $6"
						  "   AND secret_id OPERATOR(pg_catalog.=) $1"
						  "   AND value_version OPERATOR(pg_catalog.=) $4"
						  "   AND data_key_id OPERATOR(pg_catalog.=) $5" :
						  "UPDATE provsecret.ai_provider_secret_version"
						  "   SET data_key_id = $2, ciphertext = $3"
						  " WHERE secret_id OPERATOR(pg_catalog.=) $1"
						  "   AND value_version OPERATOR(pg_catalog.=) $4"
						  "   AND data_key_id OPERATOR(pg_catalog.=) $5",
						  6, upd_types);
			ps_query_run(plan_reseal_version[keyed], upd, NULL, false, 0);
		}
		else
		{
			ps_query_plan(&plan_reseal_secret[keyed], keyed ?
						  "UPDATE provsecret.ai_provider_secret"
						  "   SET data_key_id = $2, ciphertext = $3"
						  " WHERE company OPERATOR(pg_catalog.=) $6"
						  "   AND id OPERATOR(pg_catalog.=) $1"
						  "   AND value_version OPERATOR(pg_catalog.=) $4"
						  "   AND data_key_id OPERATOR(pg_catalog.=) $5" :
						  "UPDATE provsecret.ai_provider_secret"
						  "   SET data_key_id = $2, ciphertext = $3"
						  " WHERE id OPERATOR(pg_catalog.=) $1"
						  "   AND value_version OPERATOR(pg_catalog.=) $4"
						  "   AND data_key_id OPERATOR(pg_catalog.=) $5",
						  6, upd_types);
			ps_query_run(plan_reseal_secret[keyed], upd, NULL, false, 0);
		}
		if (SPI_processed == 1)
			done++;
		else if (IsolationUsesXactSnapshot())
			ereport(ERROR,
					(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
					 errmsg("could not re-encrypt a secret changed after this transaction began"),
					 errhint("Call rotate_data_key again in a new transaction.")));
		/* else (READ COMMITTED) the secret was deleted meanwhile */
	}
	return done;
}

/*
 * One call of a rotation of tenant key_owner: start one unless in progress,
 * re-encrypt up to limit ciphertexts (0: all), and destroy the retired keys
 * when this call re-encrypted nothing or (finish_always) in any case.
 */
static PsRotation
rotate_tenant(const PsTenant *tenant, const char *key_owner, int64 limit,
		  bool finish_always)
{
	PsRotation	r = {0};
	PsIdentity	identity;
	Oid			argtypes[2] = {TEXTOID, TEXTOID};
	Datum		owner = CStringGetTextDatum(key_owner);
	Datum		company = CStringGetTextDatum(ps_tenant_row_company(tenant));
	Datum		values[2] = {owner, company};
	int			keyed;
	const unsigned char *unused;

	/* waits for the tenant's uncommitted seals and for other rotations */
	ps_datakey_lock_tenant(key_owner, ExclusiveLock);
	ps_identity_enter(PS_ACT_OWNER, &identity);
	SPI_connect();
	keyed = ps_schema_keyed();

	if (ps_datakey_retired_keys(key_owner) == 0)
	{
		ps_query_plan(&plan_retire[keyed], keyed ?
					  "UPDATE provsecret.data_key SET retired_at = pg_catalog.now()"
					  " WHERE company OPERATOR(pg_catalog.=) $2"
					  "   AND tenant OPERATOR(pg_catalog.=) $1 AND retired_at IS NULL" :
					  "UPDATE provsecret.data_key SET retired_at = pg_catalog.now()"
					  " WHERE tenant OPERATOR(pg_catalog.=) $1 AND retired_at IS NULL",
					  2, argtypes);
		ps_query_run(plan_retire[keyed], values, NULL, false, 0);
		/*
		 * Under REPEATABLE READ a key created after our snapshot is not
		 * retired by the UPDATE above: we would "rotate" onto that very key.
		 */
		if (SPI_processed == 0 && IsolationUsesXactSnapshot())
		{
			ps_query_plan(&plan_active_latest[keyed], keyed ?
						  "SELECT 1 FROM provsecret.data_key"
						  " WHERE company OPERATOR(pg_catalog.=) $2"
						  "   AND tenant OPERATOR(pg_catalog.=) $1 AND retired_at IS NULL" :
						  "SELECT 1 FROM provsecret.data_key"
						  " WHERE tenant OPERATOR(pg_catalog.=) $1 AND retired_at IS NULL",
						  2, argtypes);
			ps_query_run_latest(plan_active_latest[keyed], values, NULL, 1);
			if (SPI_processed > 0)
				ereport(ERROR,
						(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
						 errmsg("could not start the data-key rotation of %s: its key was created after this transaction's snapshot",
								key_owner),
						 errhint("Call rotate_data_key again in a new transaction.")));
		}
		r.started = true;
	}
	/* created by the start above (or, for a tenant without one, now) */
	r.new_key_id = ps_datakey_active(key_owner, tenant->company, tenant->project, &unused);

	r.done = reseal_pending(owner, company, r.new_key_id, limit);
	if (r.done == 0 || finish_always)
	{
		/* a retired key still used (a race lost under REPEATABLE READ) stays */
		ps_query_plan(&plan_drop_retired[keyed], keyed ?
					  "DELETE FROM provsecret.data_key k"
					  " WHERE k.company OPERATOR(pg_catalog.=) $2"
					  "   AND k.tenant OPERATOR(pg_catalog.=) $1 AND k.retired_at IS NOT NULL"
					  "   AND NOT EXISTS (SELECT 1 FROM provsecret.ai_provider_secret s"
					  "                    WHERE s.company OPERATOR(pg_catalog.=) k.company"
					  "                      AND s.data_key_id OPERATOR(pg_catalog.=) k.id)"
					  "   AND NOT EXISTS (SELECT 1 FROM provsecret.ai_provider_secret_version v"
					  "                    WHERE v.company OPERATOR(pg_catalog.=) k.company"
					  "                      AND v.data_key_id OPERATOR(pg_catalog.=) k.id)" :
					  "DELETE FROM provsecret.data_key k"
					  " WHERE k.tenant OPERATOR(pg_catalog.=) $1 AND k.retired_at IS NOT NULL"
					  "   AND NOT EXISTS (SELECT 1 FROM provsecret.ai_provider_secret s"
					  "                    WHERE s.data_key_id OPERATOR(pg_catalog.=) k.id)"
					  "   AND NOT EXISTS (SELECT 1 FROM provsecret.ai_provider_secret_version v"
					  "                    WHERE v.data_key_id OPERATOR(pg_catalog.=) k.id)",
					  2, argtypes);
		ps_query_run(plan_drop_retired[keyed], values, NULL, false, 0);
		if (ps_datakey_retired_keys(key_owner) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
					 errmsg("could not finish the data-key rotation of %s: its retired key is still in use",
							key_owner),
					 errhint("Call rotate_data_key again in a new transaction.")));
		r.finished = true;
	}
	SPI_finish();
	ps_identity_leave(&identity);
	return r;
}

/* The target's tenant, which must own its data key (22023 otherwise). */
static char *
rotation_owner(FunctionCallInfo fcinfo, PsTenant *tenant)
{
	PsTarget	target;
	char	   *target_text;
	char	   *key_owner;

	*tenant = ps_keys_managed_target(fcinfo, &target, &target_text);
	key_owner = ps_tenant_key_owner(tenant);
	if (strcmp(key_owner, target_text) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s has no data key of its own: its secrets use the data key of %s",
						target_text, key_owner),
				 errhint("Rotate %s instead.", key_owner)));
	return key_owner;
}

/*
 * rotate_data_key(target): the whole rotation in this transaction, or the
 * rest of a batched one in progress (no second key is started then).
 */
PG_FUNCTION_INFO_V1(ps_rotate_data_key);
Datum
ps_rotate_data_key(PG_FUNCTION_ARGS)
{
	PsTenant	tenant;
	char	   *key_owner = rotation_owner(fcinfo, &tenant);
	PsRotation	r = rotate_tenant(&tenant, key_owner, 0, true);

	ps_keys_audit_event("key.rotated", &tenant, r.done,
						r.started
						? psprintf("new data key %lld for %s; %lld ciphertexts re-encrypted",
								   (long long) r.new_key_id, key_owner, (long long) r.done)
						: psprintf("rotation finished: data key %lld for %s; %lld ciphertexts re-encrypted, the retired key destroyed",
								   (long long) r.new_key_id, key_owner, (long long) r.done));
	PG_RETURN_INT32((int32) r.done);
}

/*
 * rotate_data_key(target, batch): one step of an online rotation; the
 * caller repeats it, one transaction each, until it returns 0.
 */
PG_FUNCTION_INFO_V1(ps_rotate_data_key_batch);
Datum
ps_rotate_data_key_batch(PG_FUNCTION_ARGS)
{
	PsTenant	tenant;
	char	   *key_owner;
	PsRotation	r;
	const char *step;

	if (PG_ARGISNULL(1) || PG_GETARG_INT32(1) <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("batch must be positive")));
	key_owner = rotation_owner(fcinfo, &tenant);
	r = rotate_tenant(&tenant, key_owner, PG_GETARG_INT32(1), false);

	if (r.started && r.finished)
		step = "rotation started and finished";
	else if (r.started)
		step = "rotation started";
	else if (r.finished)
		step = "rotation finished, the retired key destroyed";
	else
		step = "rotation continued";
	ps_keys_audit_event("key.rotated", &tenant, r.done,
						psprintf("%s: data key %lld for %s; %lld ciphertexts re-encrypted",
								 step, (long long) r.new_key_id, key_owner,
								 (long long) r.done));
	PG_RETURN_INT32((int32) r.done);
}
