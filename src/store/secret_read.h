/*
 * secret_read.h: reading a secret's value below the API: decrypting a
 * stored ciphertext, and the value of a managed: or env: reference.
 *
 * api/secret.c (seal, resolve, delete and their REST twins) calls down
 * here, and so does the external layer when an external: resolve needs its
 * resolver's token (a managed: or env: reference): that recursion goes
 * through this layer, never back up through the API.  Every function
 * raises ereport(ERROR) with the contract's SQLSTATE on failure and expects
 * to run inside a transaction.
 */
#ifndef PROVSECRET_SECRET_READ_H
#define PROVSECRET_SECRET_READ_H

#include "postgres.h"

#include "core/reference.h"
#include "crypto/seal.h"
#include "tenancy/tenant.h"

/*
 * Outcome of a seal: the (unchanged) reference and the new version.  Here,
 * below both, because a seal into a bound workspace (external/binding.c)
 * fills it as well as api/secret.c.
 */
typedef struct PsSealResult
{
	char	   *reference;		/* palloc'd managed: reference */
	int32		value_version;	/* version just written (1 when created) */
	bool		created;		/* false when an existing secret was rotated */
} PsSealResult;

/*
 * A secret operation's audit event (outcome ok, count 1); tenant may be
 * NULL (env:).  durable: the reveal's fail-closed path (audit.h).
 */
extern void ps_secret_audit(const char *action, const char *reference,
							const PsTenant *tenant, int32 value_version,
							bool durable);

/*
 * Decrypt a stored ciphertext (any version) of a secret whose rows carry
 * company (ps_tenant_row_company) into a NUL-terminated buffer allocated in
 * context; the caller wipes it.  No authorization, no audit: for the
 * SQL-level operations, after they have checked both.
 */
extern char *ps_secret_open(const PsSealBinding *binding, const char *company,
							const bytea *ciphertext, Size *len,
							MemoryContext context);

/* May env: resolve this name (allow-listed, not a root key variable)? */
extern bool ps_secret_env_allowed(const char *name);

/*
 * The value of an env: reference, palloc'd; the caller wipes it.  audited:
 * a caller's resolve (read on env/<NAME> checked, secret.revealed recorded,
 * P0002 when unset); otherwise a resolver's token (NULL when unset).  A
 * name off the allow list raises 42501 (audited access.denied) either way.
 */
extern char *ps_secret_resolve_env(const PsReference *ref, const char *canonical,
								   Size *len, bool audited);

/*
 * Decrypt the managed secret with this canonical reference into
 * CurrentMemoryContext, with its value_version; NULL when there is none.
 * No authorization, no audit.
 */
extern char *ps_secret_open_managed(const PsReference *ref, const char *canonical,
									Size *len, int32 *value_version);

/*
 * Plaintext of a managed: or env: reference for provsecret's own use (the
 * token of an external resolver): no authorization and no audit event, the
 * caller has checked and will record both.  NULL when the secret or
 * variable does not exist; an env: name off the allow list still raises 42501.
 */
extern char *ps_secret_resolve_internal(const char *reference, Size *value_len);

#endif
