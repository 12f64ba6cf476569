/*
 * tenant.h: the company/project registry and input checks shared by the
 * SQL functions.
 */
#ifndef PROVSECRET_TENANT_H
#define PROVSECRET_TENANT_H

#include "postgres.h"

#include "fmgr.h"

#include "core/reference.h"

/* Where a managed secret or target lives, resolved against the registry. */
typedef struct PsTenant
{
	char	   *company;		/* NULL for a project without a company */
	char	   *project;		/* NULL for company scope */
	bool		registered;		/* known to exist (a company is not looked up) */
} PsTenant;

extern PsTenant ps_tenant_of(PsScope scope, const char *owner);

/*
 * The company the tenant's rows carry: its company, or the project's own
 * "~<project>" (palloc'd).  Every query of a tenant's rows filters on it.
 */
extern char *ps_row_company(const char *company, const char *project);
extern char *ps_tenant_row_company(const PsTenant *tenant);



/* "company/<c>" or "project/<p>": whose data key seals this tenant's secrets */
extern char *ps_tenant_key_owner(const PsTenant *tenant);

/* Insert the company / project row if missing (caller checked rights). */
extern void ps_tenant_ensure_registered(const PsTenant *tenant);

/* Input checks raising 22023 without echoing more than a prefix. */
extern char *ps_arg_text(FunctionCallInfo fcinfo, int argno, const char *what);
extern void ps_parse_reference_or_error(const char *input, PsReference *ref);
extern void ps_parse_target_or_error(const char *input, PsTarget *target);

#endif
