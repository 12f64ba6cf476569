/*
 * versions.h: one given version of a managed secret, from C.
 *
 * versions() and rollback() are SQL functions in versions.c; the Vault
 * dialect's ?version=N (rest/vault_routes.c) reads a version through the
 * function below, so its permission and audit are written once, here.
 */
#ifndef PROVSECRET_VERSIONS_H
#define PROVSECRET_VERSIONS_H

#include "postgres.h"

/*
 * Plaintext of version `version` of a managed secret, the current one or a
 * kept one (provsecret.keep_versions), audited as secret.revealed with that
 * value_version, durably before it returns (fail closed).  Needs read on
 * the secret's tenant (else 42501, audited access.denied); a version that
 * is not stored (pruned, never written, or the secret does not exist) is
 * P0002 with no event.  created_at, when not NULL, receives the time that
 * version was written (RFC 3339, UTC).  The result is palloc'd in
 * CurrentMemoryContext, NUL-terminated; the caller wipes it.
 */
extern char *ps_secret_resolve_version(const char *reference, int32 version,
									   Size *len, char **created_at);

#endif
