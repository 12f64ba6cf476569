/*
 * keys.c: key operations for operators: rewrap() after a root-key
 * rotation, shred() to destroy a tenant's keys and secrets (data-key
 * rotation is in rotate.c).
 */
#include "postgres.h"

#include <sodium.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "api/keys.h"
#include "api/secret.h"
#include "audit/audit.h"
#include "audit/audit_key.h"
#include "core/distributed.h"
#include "core/identity.h"
#include "core/provsecret.h"
#include "core/query.h"
#include "crypto/datakey.h"
#include "crypto/keyring.h"
#include "crypto/seal.h"
#include "tenancy/authz.h"
#include "tenancy/tenant.h"

/* [ps_tables_distributed()]: on Citus, candidates first, then each locked */
static SPIPlanPtr plan_stale_keys[2];
static SPIPlanPtr plan_lock_key = NULL;
static SPIPlanPtr plan_rewrap = NULL;
static SPIPlanPtr plan_shred_secrets = NULL;
static SPIPlanPtr plan_shred_keys = NULL;

void
ps_keys_audit_event(const char *action, const PsTenant *tenant, int64 count,
					const char *detail)
{
	PsAuditEvent event = {0};

	event.action = action;
	event.company = tenant ? ps_event_company(tenant->company, tenant->project) : NULL;
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
		int			distributed = ps_tables_distributed() ? 1 : 0;

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
		/*
		 * Citus runs FOR UPDATE only on one shard: there the candidates
		 * are read unlocked, then each is locked by (company, id) and
		 * skipped when another rewrap holds it or already moved it.
		 */
		ps_query_plan(&plan_stale_keys[distributed], distributed ?
					  "SELECT id, company"
					  "  FROM provsecret.data_key"
					  " WHERE root_key_fingerprint OPERATOR(pg_catalog.=) $1"
					  "    OR root_key_fingerprint OPERATOR(pg_catalog.=) $3"
					  " ORDER BY id LIMIT $2" :
					  "SELECT id, tenant, wrapped_key, root_key_fingerprint"
					  "  FROM provsecret.data_key"
					  " WHERE root_key_fingerprint OPERATOR(pg_catalog.=) $1"
					  "    OR root_key_fingerprint OPERATOR(pg_catalog.=) $3"
					  " ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED",
					  3, argtypes);
		ps_query_run(plan_stale_keys[distributed], values, NULL, false, 0);
		rows = SPI_processed;
		keys = SPI_tuptable;
		for (uint64 row = 0; row < rows; row++)
		{
			bool		isnull;
			SPITupleTable *key = keys;
			uint64		at = row;
			int64		id;
			char	   *tenant;
			bytea	   *wrapped;
			const PsRootKey *old;
			Oid			upd_types[3] = {INT8OID, BYTEAOID, TEXTOID};
			Datum		upd[3];

			if (distributed)
			{
				Oid			lock_types[4] = {INT8OID, TEXTOID, TEXTOID, TEXTOID};
				Datum		lock[4] = {SPI_getbinval(keys->vals[row], keys->tupdesc, 1, &isnull),
					SPI_getbinval(keys->vals[row], keys->tupdesc, 2, &isnull),
				values[0], values[2]};

				ps_query_plan(&plan_lock_key,
							  "SELECT id, tenant, wrapped_key, root_key_fingerprint"
							  "  FROM provsecret.data_key"
							  " WHERE company OPERATOR(pg_catalog.=) $2 AND id OPERATOR(pg_catalog.=) $1"
							  "   AND (root_key_fingerprint OPERATOR(pg_catalog.=) $3"
							  "        OR root_key_fingerprint OPERATOR(pg_catalog.=) $4)"
							  " FOR UPDATE SKIP LOCKED",
							  4, lock_types);
				ps_query_run(plan_lock_key, lock, NULL, false, 1);
				if (SPI_processed == 0)
					continue;
				key = SPI_tuptable;
				at = 0;
			}
			id = DatumGetInt64(SPI_getbinval(key->vals[at], key->tupdesc, 1, &isnull));
			tenant = SPI_getvalue(key->vals[at], key->tupdesc, 2);
			wrapped = DatumGetByteaPP(SPI_getbinval(key->vals[at], key->tupdesc, 3, &isnull));
			old = ps_keyring_lookup(SPI_getvalue(key->vals[at], key->tupdesc, 4));

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
		ps_keys_audit_event("key.rotated", NULL, done,
						   psprintf("rewrapped %lld data keys under root key %s",
									(long long) done, current->fingerprint));
	PG_RETURN_INT32((int32) done);
}

PsTenant
ps_keys_managed_target(FunctionCallInfo fcinfo, PsTarget *target, char **target_text)
{
	PsTenant	tenant;

	*target_text = ps_arg_text(fcinfo, 0, "target");
	ps_parse_target_or_error(*target_text, target);
	tenant = ps_tenant_of(target->scope, target->owner);
	if (!ps_authz_allows(tenant.company, tenant.project, PS_PERM_MANAGE))
		ps_authz_deny(PS_PERM_MANAGE, tenant.company, tenant.project, NULL);
	return tenant;
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

	tenant = ps_keys_managed_target(fcinfo, &target, &target_text);
	if (confirm == NULL || strcmp(confirm, target_text) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("shred needs confirm to repeat the target exactly"),
				 errhint("Call provsecret.shred('%s', '%s') to destroy its secrets irreversibly.",
						 target_text, target_text)));

	values[0] = CStringGetTextDatum(ps_scope_name(target.scope));
	values[1] = CStringGetTextDatum(target.owner);
	/* no seal in flight may commit a secret under the key we destroy */
	ps_datakey_lock_tenant(ps_tenant_key_owner(&tenant), ExclusiveLock);
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

	ps_keys_audit_event("tenant.shredded", &tenant, secrets,
					   psprintf("%lld secrets and the data keys of %s destroyed",
								(long long) secrets, target_text));
	PG_RETURN_VOID();
}
