/*
 * rest_sql.h: metadata the REST routes read, as provsecret_service so
 * row-level security applies (the rows the secrets view would show), from
 * one company's rows.
 */
#ifndef PROVSECRET_REST_SQL_H
#define PROVSECRET_REST_SQL_H

#include "postgres.h"

#include "nodes/pg_list.h"

typedef struct PsSecretMeta
{
	char	   *name;
	char	   *reference;
	char	   *description;	/* NULL when none */
	int32		value_version;
	char	   *updated_at;		/* RFC 3339, UTC */
} PsSecretMeta;

/* The visible secret with this reference; false when none. */
extern bool ps_rest_sql_secret(const char *reference, PsSecretMeta *out);

/* Visible secrets of a company or project, sorted by name (PsSecretMeta *). */
extern List *ps_rest_sql_list(bool company, const char *owner);

/*
 * The current and kept versions of a managed secret (provsecret.versions(),
 * which checks describe), newest first: PsSecretMeta * with value_version
 * and updated_at (the time that version was written) only.
 */
extern List *ps_rest_sql_versions(const char *reference);

#endif
