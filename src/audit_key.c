/*
 * audit_key.c: the audit chain key, wrapped by the root key like a data key.
 *
 * The associated data binds the wrap to key id 0 and the pseudo-tenant
 * "audit-chain", so a data key's wrapped form cannot stand in for it.
 */
#include "postgres.h"

#include "provsecret.h"

#include "audit_key.h"
#include "keyring.h"
#include "seal.h"

#define CHAIN_KEY_ID 0
#define CHAIN_KEY_TENANT "audit-chain"

bytea *
ps_audit_key_wrap(const unsigned char *key, const char **fingerprint)
{
	const PsRootKey *root = ps_keyring_current();

	*fingerprint = root->fingerprint;
	return ps_seal_wrap_key(root, CHAIN_KEY_ID, CHAIN_KEY_TENANT, key);
}

void
ps_audit_key_unwrap(const bytea *wrapped, const char *fingerprint,
					unsigned char *key)
{
	const PsRootKey *root = ps_keyring_lookup(fingerprint);

	if (!ps_seal_unwrap_key(root, CHAIN_KEY_ID, CHAIN_KEY_TENANT, wrapped, key))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("the audit chain key failed authentication")));
}

bool
ps_audit_key_needs_rewrap(const char *fingerprint)
{
	return strcmp(fingerprint, ps_keyring_current()->fingerprint) != 0;
}
