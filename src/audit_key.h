/*
 * audit_key.h: wrapping of the audit chain key by the root key.
 *
 * The chain key is wrapped like a data key, so rewrap() moves it to a new
 * root key and a restored database verifies with the same root key.
 */
#ifndef PROVSECRET_AUDIT_KEY_H
#define PROVSECRET_AUDIT_KEY_H

#include "postgres.h"

/* Wrapped form of a 32-byte key (palloc'd bytea). */
extern bytea *ps_audit_key_wrap(const unsigned char *key);

/* Unwrap into key (32 bytes); ERROR 55000 if the root key does not fit. */
extern void ps_audit_key_unwrap(const bytea *wrapped, unsigned char *key);

/* Is this wrapped key under the previous root key (needs rewrap)? */
extern bool ps_audit_key_needs_rewrap(const bytea *wrapped);

#endif
