/*
 * audit_chain.h: the keyed hash chain over provsecret.audit_event.
 *
 * Each company has its chain (events without a company: the global chain,
 * named '' in the chain tables); rows are chained in chain_seq order
 * (gapless within the chain, assigned by the worker):
 * hash(n) = BLAKE2b-256 keyed by the chain key over a domain tag, hash(n-1)
 * and the row's fields (chain_seq and id included) in a length-prefixed
 * canonical encoding, keyed by the chain key of the row's epoch
 * (audit_key.h, the row's key_epoch).
 */
#ifndef PROVSECRET_AUDIT_CHAIN_H
#define PROVSECRET_AUDIT_CHAIN_H

#include "postgres.h"

#include "datatype/timestamp.h"

#include "audit/audit_key.h"	/* PS_AUDIT_CHAIN_KEY_LEN */

#define PS_AUDIT_HASH_LEN 32

typedef enum PsAuditTextField
{
	PS_AF_ACTION = 0,
	PS_AF_REFERENCE,
	PS_AF_COMPANY,
	PS_AF_PROJECT,
	PS_AF_PRINCIPAL,
	PS_AF_CHANNEL,
	PS_AF_CLIENT_ADDR,
	PS_AF_REQUEST_ID,
	PS_AF_OUTCOME,
	PS_AF_DETAIL,
	PS_AF_COUNT_FIELDS
} PsAuditTextField;

/* One audit_event row as hashed; text NULL = SQL NULL. */
typedef struct PsAuditChainRow
{
	int64		seq;			/* chain_seq: position in the chain, gapless */
	int64		id;				/* event order, from audit_event_id_seq */
	TimestampTz at;
	int32		value_version;	/* 0 = NULL */
	int64		count;
	const char *text[PS_AF_COUNT_FIELDS];
} PsAuditChainRow;

extern void ps_audit_chain_hash(const unsigned char *key,
								const unsigned char *prev_hash,
								const PsAuditChainRow *row,
								unsigned char *hash);

/* The 0.4.0 checkpoint MAC (audit_legacy.c). */
extern void ps_audit_checkpoint_mac_v1(const unsigned char *key, int64 through_seq,
									   const unsigned char *last_hash, int64 dropped,
									   unsigned char *mac);

/*
 * MAC of a checkpoint of one chain ('' = the global chain): events up to
 * through_seq dropped (dropped of them), last_hash continues the chain,
 * kept_before events before through_seq live on in newer partitions.
 */
extern void ps_audit_checkpoint_mac(const unsigned char *key, const char *chain,
									int64 through_seq, const unsigned char *last_hash,
									int64 dropped, int64 kept_before,
									unsigned char *mac);

/* MAC of a verified point: chain verified through seq, whose hash is hash. */
extern void ps_audit_verified_mac(const unsigned char *key, const char *chain,
								  int64 seq, const unsigned char *hash,
								  unsigned char *mac);

/* A bytea datum equal to a PS_AUDIT_HASH_LEN hash (constant time). */
extern bool ps_audit_hash_equals(Datum d, bool isnull, const unsigned char *expected);

/* A palloc'd bytea datum of a hash. */
extern Datum ps_audit_hash_datum(const unsigned char *h);

/* Run fn with a chain-key buffer that is wiped however the call ends. */
extern void ps_audit_with_key_buffer(void (*fn) (unsigned char *key, void *arg),
									 void *arg);

/* Allow DELETE on the audit tables for the next statement(s) of this process. */
extern void ps_audit_allow_delete(bool allow);

#endif
