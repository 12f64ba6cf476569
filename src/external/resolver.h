/*
 * resolver.h: the registry of external resolvers (README, External resolvers):
 * create_resolver / alter_resolver / drop_resolver and the lookup the
 * external: resolve path uses.
 */
#ifndef PROVSECRET_RESOLVER_H
#define PROVSECRET_RESOLVER_H

#include "postgres.h"

#include "core/reference.h"
#include "external/resolver_kinds.h"

typedef struct PsResolver
{
	char	   *name;
	PsScope		scope;
	char	   *owner;			/* the company or project of the target */
	char	   *company;		/* NULL for a project without a company */
	char	   *project;		/* NULL for company scope */
	PsResolverKind kind;
	char	   *base_url;
	PsResolverOptions options;
	char	   *auth_reference; /* NULL when the backend takes no token */
	int32		revision;		/* bumped by every alter_resolver */
	char	   *tag;			/* changes with every alter, drop and create */
} PsResolver;

/*
 * Look a resolver up by name, whoever the caller is (authorization is the
 * caller's job, so a denial can be audited).  false when there is none.
 */
extern bool ps_resolver_lookup(const char *name, PsResolver *out);

#endif
