/*
 * reference.h: the reference grammar (README, References), as pure functions over
 * bytes (no backend state), so the parser can be unit-tested and fuzzed.
 *
 *   managed:company/<company>/<name>
 *   managed:project/<project>/<name>
 *   env:<NAME>
 *   external:<resolver>/<path>[#<field>]
 *
 * and tenant targets company/<company> | project/<project>.
 */
#ifndef PROVSECRET_REFERENCE_H
#define PROVSECRET_REFERENCE_H

#include <stdbool.h>
#include <stddef.h>

#define PS_NAME_MAX 128			/* <company>, <project>, <name>, <resolver>, <NAME> */
#define PS_PATH_MAX 512			/* <path> of external: */
#define PS_REFERENCE_MAX (16 + PS_NAME_MAX + 1 + PS_PATH_MAX + 1 + PS_NAME_MAX)

typedef enum PsReferenceKind
{
	PS_REF_MANAGED,
	PS_REF_ENV,
	PS_REF_EXTERNAL
} PsReferenceKind;

typedef enum PsScope
{
	PS_SCOPE_COMPANY,
	PS_SCOPE_PROJECT
} PsScope;

typedef struct PsReference
{
	PsReferenceKind kind;
	PsScope		scope;			/* managed: */
	char		owner[PS_NAME_MAX + 1]; /* managed: company or project;
										 * external: resolver */
	char		name[PS_NAME_MAX + 1];	/* managed: name; env: NAME */
	char		path[PS_PATH_MAX + 1];	/* external: path */
	char		field[PS_NAME_MAX + 1]; /* external: #field, "" when absent */
} PsReference;

typedef struct PsTarget
{
	PsScope		scope;
	char		owner[PS_NAME_MAX + 1];
} PsTarget;

/*
 * Parse a reference.  Returns NULL on success, else a constant sentence
 * naming the rule broken (it never quotes the input).
 */
extern const char *ps_reference_parse(const char *input, size_t len,
									  PsReference *out);

/* Parse "company/<c>" or "project/<p>"; NULL on success, else the rule. */
extern const char *ps_target_parse(const char *input, size_t len,
								   PsTarget *out);

/* [A-Za-z0-9][A-Za-z0-9_.-]{0,127} */
extern bool ps_name_is_valid(const char *s, size_t len);

/* Write the canonical text of a reference into buf (PS_REFERENCE_MAX + 1). */
extern void ps_reference_format(const PsReference *ref, char *buf, size_t buflen);

extern const char *ps_scope_name(PsScope scope);

/*
 * The company every tenant row of a project without one carries:
 * "~<project>".  No company name can start with '~', so it is never named,
 * granted or shown (docs/DESIGN.md, "Running on Citus").  buf holds
 * PS_OWN_COMPANY_MAX + 1 bytes.
 */
#define PS_OWN_COMPANY_PREFIX '~'
#define PS_OWN_COMPANY_MAX (1 + PS_NAME_MAX)
extern void ps_own_company(const char *project, char *buf, size_t buflen);
extern bool ps_company_is_own(const char *company);

#endif
