/*
 * audit_key.h: the audit chain keys.
 *
 * A chain key is 32 random bytes wrapped by the root key like a data key
 * (seal.h), with the root key's fingerprint beside it, so rewrap() moves it
 * to a new root key and a restored database verifies with the same root
 * key.  Keys come in epochs: epoch n keys the chain from chain_seq
 * first_seq(n) on.  A new epoch starts only when the server no longer holds
 * the root key of the newest one (the root key was replaced without
 * _PREVIOUS); the older part then verifies only with its own root key.
 */
#ifndef PROVSECRET_AUDIT_KEY_H
#define PROVSECRET_AUDIT_KEY_H

#include "postgres.h"

#define PS_AUDIT_CHAIN_KEY_LEN 32

/* One epoch of provsecret.audit_chain_key. */
typedef struct PsAuditKeyEpoch
{
	int32		epoch;
	int64		first_seq;
	bytea	   *wrapped;
	char	   *fingerprint;
} PsAuditKeyEpoch;

/*
 * Worker (SPI connected, as superuser): the key for rows from next_seq on,
 * creating the first epoch, or a new one when the newest epoch's root key is
 * not held.  Returns the epoch; *lost_fingerprint is the root key
 * fingerprint of the epoch given up (palloc'd), or NULL.
 */
extern int32 ps_audit_key_for_writing(int64 next_seq, unsigned char *key,
									  char **lost_fingerprint);

/* Every epoch, oldest first (SPI connected); *count set. */
extern PsAuditKeyEpoch *ps_audit_key_epochs(int *count);

/*
 * Rewrap the audit chain keys wrapped by another root key the server holds
 * under the current one; returns how many.  Called by provsecret.rewrap()
 * with SPI connected, as the extension owner.
 */
extern int	ps_audit_rewrap_chain_key(void);

/* Unwrap an epoch's key; 55000 naming the epoch if its root key is not held. */
extern void ps_audit_key_unwrap_epoch(const PsAuditKeyEpoch *epoch,
									  unsigned char *key);

#endif
