/*
 * secret.h: the secret operations behind the SQL API, callable from C.
 *
 * The SQL functions in secret.c and the REST routes both call these, so a
 * rule (grammar, authorization, limits, audit) is written once.  Every
 * function raises ereport(ERROR) with the contract's SQLSTATE on failure and
 * expects to run inside a transaction.  Reading a sealed row, env:, and a
 * resolver's token sit below, in store/secret_read.h (included here: the
 * callers of ps_secret_open, ps_secret_env_allowed and
 * ps_secret_resolve_internal find them as before).
 */
#ifndef PROVSECRET_SECRET_H
#define PROVSECRET_SECRET_H

#include "postgres.h"

#include "store/secret_read.h"

/*
 * Create or rotate a managed secret.  value need not be NUL-terminated;
 * description may be NULL (keeps the current one on rotation).
 */
extern PsSealResult ps_secret_seal(const char *reference, const char *value,
								   Size value_len, const char *description);

/*
 * Check-and-set: expected_version is the value_version the secret must have
 * (compared under the row lock the write takes, so check and write are one
 * step), 0 for "must not exist", PS_SEAL_MUST_EXIST for "any version",
 * PS_SEAL_NO_MATCH for a condition no version meets, or
 * PS_SEAL_ANY_VERSION for no condition.  A mismatch raises
 * ERRCODE_PS_VERSION_MISMATCH and writes nothing.  A condition on a secret
 * of a bound workspace raises 0A000.  rollback names the change
 * "rolled_back" in the change notification (see core/change_notify.h).
 */
#define PS_SEAL_ANY_VERSION (-1)
#define PS_SEAL_MUST_EXIST (-2)
#define PS_SEAL_NO_MATCH (-3)	/* a condition nothing meets (If-Match: W/"1") */

extern PsSealResult ps_secret_seal_checked(const char *reference,
										   const char *value, Size value_len,
										   const char *description,
										   int32 expected_version,
										   bool rollback);

/*
 * Plaintext of a managed:, env: or external: reference, audited.  The result
 * is palloc'd in CurrentMemoryContext; the caller wipes it (explicit_bzero)
 * once it has been copied out.
 */
extern char *ps_secret_resolve(const char *reference, Size *value_len);

/* Idempotent delete; true when something was deleted. */
extern bool ps_secret_delete(const char *reference);

#endif
