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

/*
 * Verify the whole chain (as the extension owner; the caller authorizes):
 * true when every row is where and what the chain says and no row the
 * worker committed before the call is missing.  *checked: rows walked;
 * *first_bad: the id of the first row that was edited, moved, or follows a
 * removed row (for rows removed from the end, the id of the newest event the
 * worker committed), 0 when none.
 */
extern bool ps_audit_chain_verify(int64 *checked, int64 *first_bad);

/*
 * Drop the oldest events whose time is before cutoff, up to the first newer
 * one, and record a checkpoint carrying the last dropped hash so the chain
 * still verifies (as the extension owner; the caller authorizes).  False
 * when nothing was dropped; else *dropped events up to chain position
 * *through.
 */
extern bool ps_audit_chain_retain(TimestampTz cutoff, int64 *dropped,
								  int64 *through);

/* Allow DELETE on the audit tables for the next statement(s) of this process. */
extern void ps_audit_allow_delete(bool allow);

#endif
