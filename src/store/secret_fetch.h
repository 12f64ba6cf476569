/*
 * secret_fetch.h: the current ciphertext of a managed secret by one probe of
 * the unique (company, reference) index.
 */
#ifndef PROVSECRET_SECRET_FETCH_H
#define PROVSECRET_SECRET_FETCH_H

#include "postgres.h"

/*
 * The ciphertext (detoasted, copied into context) and value_version of the
 * secret with this canonical reference among the rows of company (the one
 * its rows carry: ps_tenant_row_company), or NULL when there is none.  No
 * authorization here: the caller has checked read with ps_authz_allows, the
 * function every row-level security policy calls.
 */
extern bytea *ps_secret_fetch(const char *company, const char *canonical,
							  int32 *value_version, MemoryContext context);

#endif
