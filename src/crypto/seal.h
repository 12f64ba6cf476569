/*
 * seal.h: authenticated encryption of secrets and data keys (libsodium
 * XChaCha20-Poly1305 IETF, random nonces).
 *
 * Secret ciphertext layout (format 1):
 *   byte 0      format (1)
 *   bytes 1-8   data-key id, big-endian
 *   bytes 9-32  nonce
 *   rest        ciphertext and tag
 * The associated data is the 9 header bytes, the reference, the scope and
 * the value_version, so a ciphertext moved to another row or version fails.
 */
#ifndef PROVSECRET_SEAL_H
#define PROVSECRET_SEAL_H

#include "postgres.h"

#include "crypto/keyring.h"

#define PS_SEAL_FORMAT 1

typedef struct PsSealBinding
{
	const char *reference;
	const char *scope;
	int32		value_version;
} PsSealBinding;

/* Encrypt a value under a data key; returns a palloc'd bytea. */
extern bytea *ps_seal_encrypt(const unsigned char *data_key, int64 data_key_id,
							  const PsSealBinding *binding,
							  const char *value, Size value_len);

/* Data-key id named by a ciphertext's header; XX001 if it is malformed. */
extern int64 ps_seal_data_key_id(const bytea *ciphertext);

/*
 * Decrypt into out (ps_seal_plaintext_len bytes).  XX001 when the
 * ciphertext fails authentication; out is wiped on failure.
 */
extern Size ps_seal_plaintext_len(const bytea *ciphertext);
extern void ps_seal_decrypt(const unsigned char *data_key,
							const PsSealBinding *binding,
							const bytea *ciphertext, char *out);

/* Wrap / unwrap a data key under a root key; the AD binds id and tenant. */
extern bytea *ps_seal_wrap_key(const PsRootKey *root, int64 key_id,
							   const char *tenant,
							   const unsigned char *data_key);
extern bool ps_seal_unwrap_key(const PsRootKey *root, int64 key_id,
							   const char *tenant, const bytea *wrapped,
							   unsigned char *data_key);

#endif
