/*
 * audit_verify.h: verifying the audit chains, one per company.
 *
 * A chain is walked in chain_seq order from its newest checkpoint (or, when
 * asked for incremental verification, from the point it was last verified
 * to, recorded MAC-ed in audit_chain_verified).  Each row is recomputed
 * with the key of its epoch; the last row must be the chain's head in
 * audit_chain_head.  A chain that verifies has its verified point moved to
 * its last row.  A full verification says every
 * PS_AUDIT_VERIFY_PROGRESS_EVERY events how far it got (NOTICE).
 */
#ifndef PROVSECRET_AUDIT_VERIFY_H
#define PROVSECRET_AUDIT_VERIFY_H

#include "postgres.h"

#include "funcapi.h"

#define PS_AUDIT_VERIFY_PROGRESS_EVERY 1000000

typedef enum PsAuditVerifyScope
{
	PS_VERIFY_ALL,				/* every chain, from its checkpoint */
	PS_VERIFY_ONE,				/* one chain, from its checkpoint */
	PS_VERIFY_INCREMENTAL		/* every chain with new events, from its verified point */
} PsAuditVerifyScope;

/*
 * Verify (as the extension owner; the caller authorizes) and put one row
 * (company, ok, checked, first_bad_id) per chain into rsinfo's tuplestore.
 * chain: the company for PS_VERIFY_ONE, NULL for the global chain.
 */
extern void ps_audit_verify_chains(PsAuditVerifyScope scope, const char *company,
								   ReturnSetInfo *rsinfo);

#endif
