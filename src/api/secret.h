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
 * Plaintext of a managed:, env: or external: reference, audited.  The result
 * is palloc'd in CurrentMemoryContext; the caller wipes it (explicit_bzero)
 * once it has been copied out.
 */
extern char *ps_secret_resolve(const char *reference, Size *value_len);

/* Idempotent delete; true when something was deleted. */
extern bool ps_secret_delete(const char *reference);

#endif
