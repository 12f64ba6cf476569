/*
 * audit_chain.h: the keyed hash chain over provsecret.audit_event.
 *
 * hash(n) = BLAKE2b-256 keyed by the chain key over a domain tag, hash(n-1)
 * and the row's fields in a length-prefixed canonical encoding.  The chain
 * key is 32 random bytes stored wrapped by the root key.
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
	int64		id;
	TimestampTz at;
	int32		value_version;	/* 0 = NULL */
	int64		count;
	const char *text[PS_AF_COUNT_FIELDS];
} PsAuditChainRow;

extern void ps_audit_chain_hash(const unsigned char *key,
								const unsigned char *prev_hash,
								const PsAuditChainRow *row,
								unsigned char *hash);

/*
 * The chain key, unwrapped into key (locked memory of the caller).  Needs an
 * open transaction and SPI connection.  With create, a missing key is
 * generated and stored; otherwise false is returned when there is none.
 */
extern bool ps_audit_chain_key_load(unsigned char *key, bool create);

/* Allow DELETE on the audit tables for the next statement(s) of this process. */
extern void ps_audit_allow_delete(bool allow);

#endif
