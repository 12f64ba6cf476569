/*
 * audit_chain.h: the keyed hash chain over provsecret.audit_event.
 *
 * Rows are chained in chain_seq order (gapless, assigned by the worker):
 * hash(n) = BLAKE2b-256 keyed by the chain key over a domain tag, hash(n-1)
 * and the row's fields (chain_seq and id included) in a length-prefixed
 * canonical encoding, keyed by the chain key of the row's epoch
 * (audit_key.h).
 */
#ifndef PROVSECRET_AUDIT_CHAIN_H
#define PROVSECRET_AUDIT_CHAIN_H

#include "postgres.h"
#include "datatype/timestamp.h"

#define PS_AUDIT_HASH_LEN 32
#define PS_AUDIT_CHAIN_KEY_LEN 32

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

/* Allow DELETE on the audit tables for the next statement(s) of this process. */
extern void ps_audit_allow_delete(bool allow);

#endif
