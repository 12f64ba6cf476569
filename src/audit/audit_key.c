/*
 * audit_key.c: audit chain keys, wrapped by the root key, in epochs.
 *
 * The associated data binds each wrap to its epoch and the pseudo-tenant
 * "audit-chain", so a data key's wrapped form cannot stand in for it.
 */
#include "postgres.h"

#include <sodium.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"

#include "audit/audit_key.h"
#include "core/provsecret.h"
#include "crypto/keyring.h"
#include "crypto/seal.h"

#define CHAIN_KEY_TENANT "audit-chain"

/* Does the server hold this root key (without raising)? */
static bool
root_key_held(const char *fingerprint)
{
	const char *current = ps_keyring_current_fingerprint();
	const char *previous = ps_keyring_previous_fingerprint();
	const char *development = ps_keyring_dev_fingerprint();

	if (current != NULL && strcmp(fingerprint, current) == 0)
		return true;
	if (previous != NULL && strcmp(fingerprint, previous) == 0)
		return true;
	return ps_mode == PS_MODE_LOCAL && development != NULL &&
		strcmp(fingerprint, development) == 0;
}

PsAuditKeyEpoch *
ps_audit_key_epochs(int *count)
{
	PsAuditKeyEpoch *epochs;
	uint64		i;

	if (SPI_execute("SELECT epoch, first_seq, wrapped, root_key_fingerprint "
					"FROM provsecret.audit_chain_key ORDER BY first_seq, epoch",
					true, 0) != SPI_OK_SELECT)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg_internal("provsecret audit: reading the chain keys failed")));
	epochs = palloc0(sizeof(PsAuditKeyEpoch) * Max(SPI_processed, 1));
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	t = SPI_tuptable->vals[i];
		TupleDesc	d = SPI_tuptable->tupdesc;
		bool		isnull;

		epochs[i].epoch = DatumGetInt32(SPI_getbinval(t, d, 1, &isnull));
		epochs[i].first_seq = DatumGetInt64(SPI_getbinval(t, d, 2, &isnull));
		epochs[i].wrapped = DatumGetByteaPCopy(SPI_getbinval(t, d, 3, &isnull));
		epochs[i].fingerprint = SPI_getvalue(t, d, 4);
	}
	*count = (int) SPI_processed;
	return epochs;
}

void
ps_audit_key_unwrap_epoch(const PsAuditKeyEpoch *epoch, unsigned char *key)
{
	const PsRootKey *root;

	if (!root_key_held(epoch->fingerprint))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("this is not the key the audit chain was sealed with"),
				 errdetail("Audit events from chain position %lld on are keyed under the root key with fingerprint %s.",
						   (long long) epoch->first_seq, epoch->fingerprint),
				 errhint("Set %s (or %s during a rotation) to that key and restart the server.",
						 PS_ROOT_ENV, PS_ROOT_ENV_PREVIOUS)));
	root = ps_keyring_lookup(epoch->fingerprint);
	if (!ps_seal_unwrap_key(root, epoch->epoch, CHAIN_KEY_TENANT,
							epoch->wrapped, key))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("the audit chain key of epoch %d failed authentication",
						epoch->epoch)));
}

static void
store_new_epoch(int32 epoch, int64 first_seq, unsigned char *key)
{
	const PsRootKey *root = ps_keyring_current();
	Oid			types[4] = {INT4OID, INT8OID, BYTEAOID, TEXTOID};
	Datum		args[4];

	randombytes_buf(key, PS_AUDIT_CHAIN_KEY_LEN);
	args[0] = Int32GetDatum(epoch);
	args[1] = Int64GetDatum(first_seq);
	args[2] = PointerGetDatum(ps_seal_wrap_key(root, epoch, CHAIN_KEY_TENANT, key));
	args[3] = CStringGetTextDatum(root->fingerprint);
	if (SPI_execute_with_args("INSERT INTO provsecret.audit_chain_key "
							  "(epoch, first_seq, wrapped, root_key_fingerprint) VALUES ($1, $2, $3, $4)",
							  4, types, args, NULL, false, 0) != SPI_OK_INSERT)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg_internal("provsecret audit: storing a chain key failed")));
}

int32
ps_audit_key_for_writing(int64 next_seq, unsigned char *key,
						 char **lost_fingerprint)
{
	PsAuditKeyEpoch *epochs;
	PsAuditKeyEpoch *newest;
	int			count;

	*lost_fingerprint = NULL;
	epochs = ps_audit_key_epochs(&count);
	if (count == 0)
	{
		store_new_epoch(1, 1, key);
		return 1;
	}
	newest = &epochs[count - 1];
	if (root_key_held(newest->fingerprint))
	{
		ps_audit_key_unwrap_epoch(newest, key);
		return newest->epoch;
	}
	/* Root key replaced without _PREVIOUS: go on under a new key. */
	*lost_fingerprint = pstrdup(newest->fingerprint);
	store_new_epoch(newest->epoch + 1, next_seq, key);
	return newest->epoch + 1;
}

/*
 * Rewrap chain keys under another root key the server holds; keys whose
 * root key it lacks are left for a later run.  Not counted in rewrap()'s
 * result, which counts data keys.
 */
int
ps_audit_rewrap_chain_key(void)
{
	PsAuditKeyEpoch *epochs;
	const char *current = ps_keyring_current_fingerprint();
	int			count;
	int			done = 0;
	unsigned char *key;

	if (current == NULL)
		return 0;
	epochs = ps_audit_key_epochs(&count);
	key = sodium_malloc(PS_AUDIT_CHAIN_KEY_LEN);
	if (key == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("could not allocate locked memory")));
	PG_TRY();
	{
		for (int i = 0; i < count; i++)
		{
			Oid			types[3] = {INT4OID, BYTEAOID, TEXTOID};
			Datum		args[3];
			const PsRootKey *root;

			if (strcmp(epochs[i].fingerprint, current) == 0 ||
				!root_key_held(epochs[i].fingerprint))
				continue;
			ps_audit_key_unwrap_epoch(&epochs[i], key);
			root = ps_keyring_current();
			args[0] = Int32GetDatum(epochs[i].epoch);
			args[1] = PointerGetDatum(ps_seal_wrap_key(root, epochs[i].epoch,
													   CHAIN_KEY_TENANT, key));
			args[2] = CStringGetTextDatum(root->fingerprint);
			sodium_memzero(key, PS_AUDIT_CHAIN_KEY_LEN);
			if (SPI_execute_with_args("UPDATE provsecret.audit_chain_key SET wrapped = $2, "
									  "root_key_fingerprint = $3, rewrapped_at = pg_catalog.now() "
									  "WHERE epoch OPERATOR(pg_catalog.=) $1",
									  3, types, args, NULL, false, 0) != SPI_OK_UPDATE)
				ereport(ERROR,
						(errcode(ERRCODE_INTERNAL_ERROR),
						 errmsg_internal("provsecret audit: rewrapping a chain key failed")));
			done++;
		}
	}
	PG_FINALLY();
	{
		sodium_free(key);
	}
	PG_END_TRY();
	return done;
}
