/*
 * audit_legacy.h: the single audit chain of the schemas before 0.5.0
 * (verification and retention as 0.4.0 did them), for a server running
 * this library before ALTER EXTENSION ... UPDATE, and for that update.
 */
#ifndef PROVSECRET_AUDIT_LEGACY_H
#define PROVSECRET_AUDIT_LEGACY_H

#include "postgres.h"

#include "datatype/timestamp.h"

/* The installed schema predates 0.5.0 (no audit_chain_head). */
extern bool ps_audit_schema_is_legacy(void);

/*
 * Verify the single chain (as the extension owner; the caller authorizes):
 * *checked rows walked; *first_bad the id of the first bad row, 0 if none.
 */
extern bool ps_audit_legacy_verify(int64 *checked, int64 *first_bad);

/* 0.4.0 retention: DELETE the oldest events behind a checkpoint. */
extern bool ps_audit_legacy_retain(TimestampTz cutoff, int64 *dropped,
								   int64 *through);

#endif
