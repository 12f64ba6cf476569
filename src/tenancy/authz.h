/*
 * authz.h: principals and permissions.
 *
 * One authorization function decides everything: ps_authz_allows(), which the
 * row-level-security policies call through provsecret.has_permission() and
 * the C API calls directly.  The caller's principals are core/principal.h's
 * (included here for the callers that install or name them).
 */
#ifndef PROVSECRET_AUTHZ_H
#define PROVSECRET_AUTHZ_H

#include "postgres.h"

#include "nodes/pg_list.h"

#include "core/principal.h"

typedef enum PsPermission
{
	PS_PERM_DESCRIBE = 1,
	PS_PERM_READ = 2,
	PS_PERM_WRITE = 4,
	PS_PERM_DELETE = 8,
	PS_PERM_MANAGE = 16,
	PS_PERM_AUDIT = 32			/* read audit events: implied, never granted */
} PsPermission;

#define PS_PERM_GRANTABLE (PS_PERM_DESCRIBE | PS_PERM_READ | PS_PERM_WRITE | \
						   PS_PERM_DELETE | PS_PERM_MANAGE)

/* Parse "describe", "read", ...; returns 0 for an unknown name. */
extern PsPermission ps_permission_from_name(const char *name);
extern const char *ps_permission_name(PsPermission perm);

/*
 * Does the caller hold perm on the project (and its company) or on the
 * company?  company or project may be NULL.
 */
extern bool ps_authz_allows(const char *company, const char *project,
							PsPermission perm);

/*
 * Does the caller hold perm everywhere (superuser, provsecret_admin, or
 * provsecret_auditor for describe)?  Never over REST.
 */
extern bool ps_authz_allows_global(PsPermission perm);

/* Does the caller hold perm on env/<NAME> (a global role or that grant)? */
extern bool ps_authz_allows_env(const char *name, PsPermission perm);

/* The company a project belongs to (palloc'd), NULL if none or unknown. */
extern char *ps_authz_project_company(const char *project, bool *exists);

/* ereport 42501 naming the permission and target (after auditing it). */
extern void ps_authz_deny(PsPermission perm, const char *company,
						  const char *project, const char *reference);

/* The same for env/<NAME> (company and project NULL in the event). */
extern void ps_authz_deny_env(PsPermission perm, const char *name,
							  const char *reference);

/*
 * 42501 about a resolver that tells nothing about it (same text whether it
 * exists or not); company and project, when known, go to the audit event.
 */
extern void ps_authz_deny_resolver(PsPermission perm, const char *resolver,
								   const char *company, const char *project,
								   const char *reference);

/*
 * The company an audit event names: the one given, else the project's (its
 * own "~<project>" when it has none), so a project's events are chained
 * with its company's; NULL when neither is known (env:, global events).
 */
extern const char *ps_event_company(const char *company, const char *project);

#endif
