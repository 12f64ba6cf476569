/*
 * datakey.h: per-tenant data keys.
 *
 * A tenant is "company/<c>" (a company and all its projects) or
 * "project/<p>" (a project with no company).  Its active data key is
 * created on first seal, stored wrapped by the root key, and unwrapped keys
 * are cached in locked memory for the life of the backend (wiped when the
 * data_key table changes).
 */
#ifndef PROVSECRET_DATAKEY_H
#define PROVSECRET_DATAKEY_H

#include "postgres.h"

#include "storage/lockdefs.h"

/*
 * The tenant's active data key, created if missing.  *key points into the
 * locked cache and stays valid until the next ps_datakey_* call.
 */
extern int64 ps_datakey_active(const char *tenant, const char *company,
							   const char *project, const unsigned char **key);

/*
 * The data key with this id, among the rows of company (the one the
 * secret's rows carry); 55000 / XX001 when it cannot be unwrapped.
 */
extern const unsigned char *ps_datakey_by_id(int64 id, const char *company);

/*
 * Transaction-scoped lock on a tenant's keys: writers of ciphertexts take
 * ShareLock (ps_datakey_active does), a data-key rotation ExclusiveLock.
 * Readers take none.
 */
extern void ps_datakey_lock_tenant(const char *tenant, LOCKMODE mode);

/* Forget every cached key (wipes them). */
extern void ps_datakey_forget_all(void);

/*
 * Retired data keys of the tenant (a batched rotation, api/rotate.c, is
 * under way while there are any), as of the newest committed data.  SPI
 * connected.
 */
extern int64 ps_datakey_retired_keys(const char *tenant);

/*
 * Whether a batched rotation of this key owner's data key is under way
 * (retired keys remain), as of the newest committed data.  SPI connected.
 */
extern bool ps_keys_rotation_in_progress(const char *key_owner);

#endif
