/*
 * keys.c: key operations for operators: rewrap() after a root-key
 * rotation, rotate_data_key() for one tenant, shred() to destroy a tenant's
 * keys and secrets.
 */
#include "postgres.h"

#include <sodium.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "provsecret.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "audit.h"
#include "authz.h"
#include "datakey.h"
#include "identity.h"
#include "keyring.h"
#include "query.h"
#include "seal.h"
#include "secret.h"
#include "tenant.h"

static SPIPlanPtr plan_stale_keys = NULL;
static SPIPlanPtr plan_rewrap = NULL;
static SPIPlanPtr plan_retire = NULL;
static SPIPlanPtr plan_tenant_secrets = NULL;
static SPIPlanPtr plan_reseal_secret = NULL;
static SPIPlanPtr plan_reseal_version = NULL;
static SPIPlanPtr plan_drop_retired = NULL;
static SPIPlanPtr plan_shred_secrets = NULL;
static SPIPlanPtr plan_shred_keys = NULL;

static void
ps_audit_key_event(const char *action, const PsTenant *tenant, int64 count,
				   const char *detail)
{
	PsAuditEvent event = {0};

	event.action = action;
	event.company = tenant ? tenant->company : NULL;
	event.project = tenant ? tenant->project : NULL;
	event.outcome = "ok";
	event.count = count;
	event.detail = detail;
	ps_audit_record(&event, false);
}

/*
 * Rewrap data keys still under another root key with the current one.
 * Short transactions: the caller repeats until it returns 0.
 */
PG_FUNCTION_INFO_V1(ps_rewrap);
Datum
ps_rewrap(PG_FUNCTION_ARGS)
{
	int32		batch = PG_ARGISNULL(0) ? 1000 : PG_GETARG_INT32(0);
	const PsRootKey *current;
	PsIdentity	identity;
	Oid			argtypes[3] = {TEXTOID, INT4OID, TEXTOID};
	Datum		values[3];
	unsigned char *data_key;
	volatile int64 done = 0;

	if (batch <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("batch must be positive")));
	if (!ps_authz_allows(NULL, NULL, PS_PERM_MANAGE))
		ps_authz_deny(PS_PERM_MANAGE, NULL, NULL, NULL);
	current = ps_keyring_current();

	data_key = sodium_malloc(PS_KEY_BYTES);
	if (data_key == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("could not allocate locked memory")));
	PG_TRY();
	{
		uint64		rows;
		SPITupleTable *keys;

		ps_identity_enter(PS_ACT_OWNER, &identity);
		SPI_connect();
		/*
		 * Only keys under a root key the server holds: one it does not hold
		 * stays listed in key_status and must not block the others.
		 */
		values[0] = CStringGetTextDatum(ps_keyring_rewrappable_fingerprint(0));
		values[1] = Int32GetDatum(batch);
		values[2] = CStringGetTextDatum(ps_keyring_rewrappable_fingerprint(1) ?
										ps_keyring_rewrappable_fingerprint(1) : "");
		ps_query_plan(&plan_stale_keys,
					  "SELECT id, tenant, wrapped_key, root_key_fingerprint"
					  "  FROM provsecret.data_key"
					  " WHERE root_key_fingerprint OPERATOR(pg_catalog.=) $1"
					  "    OR root_key_fingerprint OPERATOR(pg_catalog.=) $3"
					  " ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED",
					  3, argtypes);
		ps_query_run(plan_stale_keys, values, NULL, false, 0);
		rows = SPI_processed;
		keys = SPI_tuptable;
		for (uint64 row = 0; row < rows; row++)
		{
			bool		isnull;
			int64		id = DatumGetInt64(SPI_getbinval(keys->vals[row], keys->tupdesc, 1, &isnull));
			char	   *tenant = SPI_getvalue(keys->vals[row], keys->tupdesc, 2);
			bytea	   *wrapped = DatumGetByteaPP(SPI_getbinval(keys->vals[row], keys->tupdesc, 3, &isnull));
			const PsRootKey *old = ps_keyring_lookup(SPI_getvalue(keys->vals[row], keys->tupdesc, 4));
			Oid			upd_types[3] = {INT8OID, BYTEAOID, TEXTOID};
			Datum		upd[3];

			if (!ps_seal_unwrap_key(old, id, tenant, wrapped, data_key))
				ereport(ERROR,
						(errcode(ERRCODE_DATA_CORRUPTED),
						 errmsg("data key %lld failed authentication", (long long) id)));
			upd[0] = Int64GetDatum(id);
			upd[1] = PointerGetDatum(ps_seal_wrap_key(current, id, tenant, data_key));
			upd[2] = CStringGetTextDatum(current->fingerprint);
			sodium_memzero(data_key, PS_KEY_BYTES);
			ps_query_plan(&plan_rewrap,
						  "UPDATE provsecret.data_key"
						  "   SET wrapped_key = $2, root_key_fingerprint = $3"
						  " WHERE id OPERATOR(pg_catalog.=) $1",
						  3, upd_types);
			ps_query_run(plan_rewrap, upd, NULL, false, 0);
			done++;
		}
		/* The audit chain keys move with the data keys (audit_key.c). */
		ps_audit_rewrap_chain_key();
		SPI_finish();
		ps_identity_leave(&identity);
	}
	PG_FINALLY();
	{
		sodium_free(data_key);
	}
	PG_END_TRY();

	if (done > 0)
		ps_audit_key_event("key.rotated", NULL, done,
						   psprintf("rewrapped %lld data keys under root key %s",
									(long long) done, current->fingerprint));
	PG_RETURN_INT32((int32) done);
}

/* Resolve a target to its tenant and require manage there. */
static PsTenant
ps_managed_target(FunctionCallInfo fcinfo, PsTarget *target, char **target_text)
{
	PsTenant	tenant;

	*target_text = ps_arg_text(fcinfo, 0, "target");
	ps_parse_target_or_error(*target_text, target);
	tenant = ps_tenant_of(target->scope, target->owner);
	if (!ps_authz_allows(tenant.company, tenant.project, PS_PERM_MANAGE))
		ps_authz_deny(PS_PERM_MANAGE, tenant.company, tenant.project, NULL);
	return tenant;
}

/* Re-encrypt one ciphertext from its data key to the tenant's new one. */
static bytea *
ps_reseal(const PsSealBinding *binding, const bytea *ciphertext, int64 new_key_id)
{
	Size		len;
	char	   *plaintext = ps_secret_open(binding, ciphertext, &len, CurrentMemoryContext);
	bytea	   *volatile result = NULL;

	PG_TRY();
	{
		result = ps_seal_encrypt(ps_datakey_by_id(new_key_id), new_key_id,
								 binding, plaintext, len);
	}
	PG_FINALLY();
	{
		sodium_memzero(plaintext, len);
	}
	PG_END_TRY();
	return result;
}

PG_FUNCTION_INFO_V1(ps_rotate_data_key);
Datum
ps_rotate_data_key(PG_FUNCTION_ARGS)
{
	PsTarget	target;
	char	   *target_text;
	PsTenant	tenant = ps_managed_target(fcinfo, &target, &target_text);
	char	   *key_owner = ps_tenant_key_owner(&tenant);
	PsIdentity	identity;
	Oid			argtypes[4] = {TEXTOID, INT8OID, BYTEAOID, INT4OID};
	Datum		values[4];
	const unsigned char *unused;
	int64		new_id;
	int64		done = 0;
	uint64		rows;
	SPITupleTable *secrets;

	if (strcmp(key_owner, target_text) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s has no data key of its own: its secrets use the data key of %s",
						target_text, key_owner),
				 errhint("Rotate %s instead.", key_owner)));

	ps_identity_enter(PS_ACT_OWNER, &identity);
	SPI_connect();
	values[0] = CStringGetTextDatum(key_owner);
	ps_query_plan(&plan_retire,
				  "UPDATE provsecret.data_key SET retired_at = pg_catalog.now()"
				  " WHERE tenant OPERATOR(pg_catalog.=) $1 AND retired_at IS NULL",
				  1, argtypes);
	ps_query_run(plan_retire, values, NULL, false, 0);

	new_id = ps_datakey_active(key_owner, tenant.company, tenant.project, &unused);
	values[1] = Int64GetDatum(new_id);

	/* every current and kept ciphertext of the tenant under another key */
	ps_query_plan(&plan_tenant_secrets,
				  "SELECT s.id, s.reference, s.scope, s.value_version, s.ciphertext, false"
				  "  FROM provsecret.ai_provider_secret s"
				  "  JOIN provsecret.data_key k ON k.id OPERATOR(pg_catalog.=) s.data_key_id"
				  " WHERE k.tenant OPERATOR(pg_catalog.=) $1"
				  "   AND s.data_key_id OPERATOR(pg_catalog.<>) $2"
				  " UNION ALL "
				  "SELECT s.id, s.reference, s.scope, v.value_version, v.ciphertext, true"
				  "  FROM provsecret.ai_provider_secret_version v"
				  "  JOIN provsecret.ai_provider_secret s ON s.id OPERATOR(pg_catalog.=) v.secret_id"
				  "  JOIN provsecret.data_key k ON k.id OPERATOR(pg_catalog.=) v.data_key_id"
				  " WHERE k.tenant OPERATOR(pg_catalog.=) $1"
				  "   AND v.data_key_id OPERATOR(pg_catalog.<>) $2",
				  2, argtypes);
	ps_query_run(plan_tenant_secrets, values, NULL, false, 0);
	rows = SPI_processed;
	secrets = SPI_tuptable;
	for (uint64 row = 0; row < rows; row++)
	{
		bool		isnull;
		HeapTuple	tuple = secrets->vals[row];
		TupleDesc	desc = secrets->tupdesc;
		PsSealBinding binding;
		Datum		upd[4];
		Oid			upd_types[4] = {INT8OID, INT8OID, BYTEAOID, INT4OID};
		bool		is_version = DatumGetBool(SPI_getbinval(tuple, desc, 6, &isnull));

		binding.reference = SPI_getvalue(tuple, desc, 2);
		binding.scope = SPI_getvalue(tuple, desc, 3);
		binding.value_version = DatumGetInt32(SPI_getbinval(tuple, desc, 4, &isnull));
		upd[0] = SPI_getbinval(tuple, desc, 1, &isnull);
		upd[1] = Int64GetDatum(new_id);
		upd[2] = PointerGetDatum(ps_reseal(&binding,
										   DatumGetByteaPP(SPI_getbinval(tuple, desc, 5, &isnull)),
										   new_id));
		upd[3] = Int32GetDatum(binding.value_version);
		if (is_version)
		{
			ps_query_plan(&plan_reseal_version,
						  "UPDATE provsecret.ai_provider_secret_version"
						  "   SET data_key_id = $2, ciphertext = $3"
						  " WHERE secret_id OPERATOR(pg_catalog.=) $1"
						  "   AND value_version OPERATOR(pg_catalog.=) $4",
						  4, upd_types);
			ps_query_run(plan_reseal_version, upd, NULL, false, 0);
		}
		else
		{
			ps_query_plan(&plan_reseal_secret,
						  "UPDATE provsecret.ai_provider_secret"
						  "   SET data_key_id = $2, ciphertext = $3"
						  " WHERE id OPERATOR(pg_catalog.=) $1"
						  "   AND value_version OPERATOR(pg_catalog.=) $4",
						  4, upd_types);
			ps_query_run(plan_reseal_secret, upd, NULL, false, 0);
		}
		done++;
	}

	/* nothing refers to the retired keys any more: destroy them */
	ps_query_plan(&plan_drop_retired,
				  "DELETE FROM provsecret.data_key k"
				  " WHERE k.tenant OPERATOR(pg_catalog.=) $1 AND k.retired_at IS NOT NULL"
				  "   AND NOT EXISTS (SELECT 1 FROM provsecret.ai_provider_secret s"
				  "                    WHERE s.data_key_id OPERATOR(pg_catalog.=) k.id)"
				  "   AND NOT EXISTS (SELECT 1 FROM provsecret.ai_provider_secret_version v"
				  "                    WHERE v.data_key_id OPERATOR(pg_catalog.=) k.id)",
				  1, argtypes);
	ps_query_run(plan_drop_retired, values, NULL, false, 0);
	SPI_finish();
	ps_identity_leave(&identity);

	ps_audit_key_event("key.rotated", &tenant, done,
					   psprintf("new data key %lld for %s; %lld ciphertexts re-encrypted",
								(long long) new_id, key_owner, (long long) done));
	PG_RETURN_INT32((int32) done);
}

/*
 * Destroy a tenant's secrets and data keys.  A project inside a company
 * shares the company's data key, so only its secrets go; shredding the
 * company destroys the key they were all sealed with.
 */
PG_FUNCTION_INFO_V1(ps_shred);
Datum
ps_shred(PG_FUNCTION_ARGS)
{
	PsTarget	target;
	char	   *target_text;
	char	   *confirm = PG_ARGISNULL(1) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(1));
	PsTenant	tenant;
	PsIdentity	identity;
	Oid			argtypes[2] = {TEXTOID, TEXTOID};
	Datum		values[2];
	int64		secrets;

	tenant = ps_managed_target(fcinfo, &target, &target_text);
	if (confirm == NULL || strcmp(confirm, target_text) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("shred needs confirm to repeat the target exactly"),
				 errhint("Call provsecret.shred('%s', '%s') to destroy its secrets irreversibly.",
						 target_text, target_text)));

	values[0] = CStringGetTextDatum(ps_scope_name(target.scope));
	values[1] = CStringGetTextDatum(target.owner);
	ps_identity_enter(PS_ACT_OWNER, &identity);
	SPI_connect();
	ps_query_plan(&plan_shred_secrets,
				  "DELETE FROM provsecret.ai_provider_secret"
				  " WHERE CASE WHEN $1 OPERATOR(pg_catalog.=) 'company'"
				  "            THEN company OPERATOR(pg_catalog.=) $2"
				  "            ELSE scope OPERATOR(pg_catalog.=) 'project'"
				  "                 AND project OPERATOR(pg_catalog.=) $2 END",
				  2, argtypes);
	ps_query_run(plan_shred_secrets, values, NULL, false, 0);
	secrets = (int64) SPI_processed;
	ps_query_plan(&plan_shred_keys,
				  "DELETE FROM provsecret.data_key"
				  " WHERE CASE WHEN $1 OPERATOR(pg_catalog.=) 'company'"
				  "            THEN company OPERATOR(pg_catalog.=) $2"
				  "              OR project OPERATOR(pg_catalog.=) ANY (SELECT p.project FROM provsecret.project p"
				  "                              WHERE p.company OPERATOR(pg_catalog.=) $2)"
				  "            ELSE project OPERATOR(pg_catalog.=) $2 END",
				  2, argtypes);
	ps_query_run(plan_shred_keys, values, NULL, false, 0);
	SPI_finish();
	ps_identity_leave(&identity);
	ps_datakey_forget_all();

	ps_audit_key_event("tenant.shredded", &tenant, secrets,
					   psprintf("%lld secrets and the data keys of %s destroyed",
								(long long) secrets, target_text));
	PG_RETURN_VOID();
}
