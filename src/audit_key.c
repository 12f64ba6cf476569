/*
 * audit_key.c: chain-key wrapping.
 *
 * TEMPORARY until keyring.h / seal.h land in main: wraps with
 * XChaCha20-Poly1305 under a key derived from the root-key variable (or a
 * development constant).  Replaced by the keyring's data-key wrap helpers.
 */
#include "postgres.h"

#include "audit_key.h"

#include <sodium.h>

#define WRAP_VERSION 0x01
#define WRAPPED_LEN (1 + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES + 32 + \
					 crypto_aead_xchacha20poly1305_ietf_ABYTES)

static void
wrapping_key(unsigned char *out)
{
	const char *root = getenv("CLOUDGRID_PROVIDER_SECRET_ENCRYPTION_KEY");

	if (root == NULL)
		root = "provsecret-development-key";
	crypto_generichash(out, 32, (const unsigned char *) root, strlen(root),
					   (const unsigned char *) "provsecret-audit-wrap", 21);
}

bytea *
ps_audit_key_wrap(const unsigned char *key)
{
	bytea	   *out = palloc(VARHDRSZ + WRAPPED_LEN);
	unsigned char *p = (unsigned char *) VARDATA(out);
	unsigned char wk[32];

	if (sodium_init() < 0)
		elog(ERROR, "libsodium failed to initialize");
	SET_VARSIZE(out, VARHDRSZ + WRAPPED_LEN);
	p[0] = WRAP_VERSION;
	randombytes_buf(p + 1, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
	wrapping_key(wk);
	crypto_aead_xchacha20poly1305_ietf_encrypt(p + 1 + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
											   NULL, key, 32,
											   (const unsigned char *) "audit-chain-key", 15,
											   NULL, p + 1, wk);
	sodium_memzero(wk, sizeof(wk));
	return out;
}

void
ps_audit_key_unwrap(const bytea *wrapped, unsigned char *key)
{
	const unsigned char *p = (const unsigned char *) VARDATA_ANY(wrapped);
	unsigned char wk[32];
	int			rc;

	if (VARSIZE_ANY_EXHDR(wrapped) != WRAPPED_LEN || p[0] != WRAP_VERSION)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("audit chain key has an unknown format")));
	wrapping_key(wk);
	rc = crypto_aead_xchacha20poly1305_ietf_decrypt(key, NULL, NULL,
													p + 1 + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
													32 + crypto_aead_xchacha20poly1305_ietf_ABYTES,
													(const unsigned char *) "audit-chain-key", 15,
													p + 1, wk);
	sodium_memzero(wk, sizeof(wk));
	if (rc != 0)
	{
		sodium_memzero(key, 32);
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("this is not the key the audit chain key was sealed with"),
				 errhint("Set CLOUDGRID_PROVIDER_SECRET_ENCRYPTION_KEY to the root key in use when the audit chain began.")));
	}
}

bool
ps_audit_key_needs_rewrap(const bytea *wrapped)
{
	return false;
}
