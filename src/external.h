/*
 * external.h: resolving external:<resolver>/<path>[#field] references
 * (DESIGN §9) through a registered resolver.
 */
#ifndef PROVSECRET_EXTERNAL_H
#define PROVSECRET_EXTERNAL_H

#include "postgres.h"

#include "reference.h"

/*
 * Authorize (read on the resolver's target), fetch from the backend, audit
 * (secret.revealed naming the resolver, whatever the outcome) and return the
 * value, palloc'd; the caller wipes it.  58030 when the backend fails, P0002
 * when it cleanly says the secret does not exist.
 */
extern char *ps_external_resolve(const PsReference *ref, const char *canonical,
								 Size *len);

#endif
