/*
 * external.h: resolving external:<resolver>/<path>[#field] references
 * through a registered resolver (README, External resolvers).
 */
#ifndef PROVSECRET_EXTERNAL_H
#define PROVSECRET_EXTERNAL_H

#include "postgres.h"

#include "core/reference.h"
#include "external/external_call.h"
#include "external/resolver.h"
#include "outbound/outbound.h"
#include "tenancy/tenant.h"

/*
 * Authorize (read on the resolver's target), fetch from the backend, audit
 * (secret.revealed naming the resolver, whatever the outcome) and return the
 * value, palloc'd; the caller wipes it.  58030 when the backend fails, P0002
 * when it cleanly says the secret does not exist.
 */
extern char *ps_external_resolve(const PsReference *ref, const char *canonical,
								 Size *len);

/*
 * Call the backend with the resolver's token (method NULL: GET; body JSON
 * or NULL, the caller's to wipe).  false with resp->error when no response
 * came.
 */
extern bool ps_external_send(const PsExternalCall *call, const char *method,
							 const char *url, const char *body,
							 size_t body_len, PsOutboundResponse *resp);

/*
 * GET path from a bound workspace's backend (no authorization: the caller
 * did it; no cache; the latest version, whatever the resolver's version
 * option) and return the value, palloc'd, audited as call->action.  58030
 * on failure, P0002 on a clean 404.
 */
extern char *ps_external_fetch(const PsExternalCall *call, const char *path,
							   Size *len);

#endif
