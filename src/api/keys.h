/*
 * keys.h: what the key operations (keys.c, rotate.c) share: the target
 * check and their audit event.
 */
#ifndef PROVSECRET_KEYS_H
#define PROVSECRET_KEYS_H

#include "postgres.h"

#include "fmgr.h"

#include "core/reference.h"
#include "crypto/datakey.h"
#include "tenancy/tenant.h"

/*
 * Argument 0 as a target (22023 when malformed), its tenant, and manage
 * there (42501 otherwise).
 */
extern PsTenant ps_keys_managed_target(FunctionCallInfo fcinfo, PsTarget *target,
									   char **target_text);

/* A key operation's audit event, in the caller's transaction. */
extern void ps_keys_audit_event(const char *action, const PsTenant *tenant,
								int64 count, const char *detail);

#endif
