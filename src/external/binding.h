/*
 * binding.h: workspaces bound to an external resolver (bind_workspace;
 * README, Workspaces bound to a backend).  A bound project's managed: secrets are written to,
 * read from and deleted in the resolver's backend; their metadata
 * (description, value_version, who and when) stays in
 * provsecret.bound_secret, so listing never calls the backend.
 *
 * Secrets a project had in managed storage before it was bound stay there
 * until deleted: each operation below declines (returns false) when the
 * project is not bound or, for a seal, when the secret exists in managed
 * storage, and secret.c carries on as for any managed secret.
 */
#ifndef PROVSECRET_BINDING_H
#define PROVSECRET_BINDING_H

#include "postgres.h"

#include "core/reference.h"
#include "store/secret_read.h"
#include "tenancy/tenant.h"

/* Is the project bound to an external resolver? */
extern bool ps_binding_is_bound(const char *project);

/*
 * Seal into the bound backend (caller authorized write): true with *result
 * filled when the project is bound and the secret is not in managed storage.
 */
extern bool ps_binding_seal(const PsReference *ref, const char *canonical,
							const PsTenant *tenant, const char *value,
							Size value_len, const char *description,
							PsSealResult *result);

/*
 * The value from the bound backend (caller authorized read and found no
 * managed row), audited secret.revealed; NULL when the project is not
 * bound.  P0002 when the backend says it does not exist.
 */
extern char *ps_binding_resolve(const PsReference *ref, const char *canonical,
								const PsTenant *tenant, Size *len);

/*
 * Delete in the bound backend and forget the metadata (caller authorized
 * delete and found no managed row).  false when the project is not bound;
 * else true, with *deleted saying whether anything existed.
 */
extern bool ps_binding_delete(const PsReference *ref, const char *canonical,
							  const PsTenant *tenant, bool *deleted);

#endif
