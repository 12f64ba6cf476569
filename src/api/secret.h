/*
 * secret.h: the secret operations behind the SQL API, callable from C.
 *
 * The SQL functions in secret.c and the REST routes both call these, so a
 * rule (grammar, authorization, limits, audit) is written once.  Every
 * function raises ereport(ERROR) with the contract's SQLSTATE on failure and
 * expects to run inside a transaction.
 */
#ifndef PROVSECRET_SECRET_H
#define PROVSECRET_SECRET_H

#include "postgres.h"

#include "crypto/seal.h"

/* Outcome of a seal: the (unchanged) reference and the new version. */
typedef struct PsSealResult
{
	char	   *reference;		/* palloc'd managed: reference */
	int32		value_version;	/* version just written (1 when created) */
	bool		created;		/* false when an existing secret was rotated */
} PsSealResult;

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

/*
 * Plaintext of a managed: or env: reference for provsecret's own use (the
 * token of an external resolver): no authorization and no audit event, the
 * caller has checked and will record both.  NULL when the secret or
 * variable does not exist; an env: name off the allow list still raises 42501.
 */
extern char *ps_secret_resolve_internal(const char *reference, Size *value_len);

/* May env: resolve this name (allow-listed, not a root key variable)? */
extern bool ps_secret_env_allowed(const char *name);

/* Idempotent delete; true when something was deleted. */
extern bool ps_secret_delete(const char *reference);

/*
 * Decrypt a stored ciphertext (any version) into a NUL-terminated buffer
 * allocated in context; the caller wipes it.  No authorization, no audit:
 * for the SQL-level operations above, after they have checked both.
 */
extern char *ps_secret_open(const PsSealBinding *binding,
							const bytea *ciphertext, Size *len,
							MemoryContext context);

#endif
