/*
 * audit_key.h: wrapping of the audit chain key by the root key.
 *
 * The chain key is wrapped like a data key (seal.h), with the root key's
 * fingerprint beside it, so rewrap() moves it to a new root key and a
 * restored database verifies with the same root key.
 */
#ifndef PROVSECRET_AUDIT_KEY_H
#define PROVSECRET_AUDIT_KEY_H

#include "postgres.h"

/* Wrap a 32-byte key under the current root key; *fingerprint names it. */
extern bytea *ps_audit_key_wrap(const unsigned char *key,
								const char **fingerprint);

/* Unwrap into key (32 bytes); 55000 if the server lacks that root key. */
extern void ps_audit_key_unwrap(const bytea *wrapped, const char *fingerprint,
								unsigned char *key);

/* Is the key wrapped under another root key than the current one? */
extern bool ps_audit_key_needs_rewrap(const char *fingerprint);

#endif
