/*
 * principal.h: who the caller is, for this session and transaction.
 *
 * The caller's principals are db:<role> (unless a REST request said
 * token_only) plus those of a bearer token verified in this transaction.
 * Authorization (tenancy/authz.h) decides what they may do; audit events
 * record one of them.
 *
 * ps_authz_set_token_principals() and ps_authz_audit_principal() are this
 * unit's: they keep the names they had in authz so that callers need not
 * change (they may be renamed ps_principal_* later).
 */
#ifndef PROVSECRET_PRINCIPAL_H
#define PROVSECRET_PRINCIPAL_H

#include "postgres.h"

#include "nodes/pg_list.h"

/*
 * Install the principals of a verified bearer token for the rest of the
 * current transaction (cleared at commit or abort).  With token_only, the
 * database role of the session no longer counts as a principal: the REST
 * worker uses this, since it connects as a superuser.
 * principals: List of palloc'd C strings ("user:alice", "role:admin", ...),
 * copied.
 */
extern void ps_authz_set_token_principals(List *principals, bool token_only);

/* The principal recorded in audit events ("user:<sub>" or "db:<role>"). */
extern const char *ps_authz_audit_principal(void);

/* Did this transaction say token_only (the session role does not count)? */
extern bool ps_principal_token_only(void);

/*
 * A number that changes whenever the token principals or token_only may
 * have changed (the db: principal follows the caller, compared apart).
 */
extern uint64 ps_principal_epoch(void);

/*
 * The principals that count now, as a List of palloc'd C strings and as one
 * cache key (*key, palloc'd: each principal followed by a newline).
 */
extern List *ps_principal_current(char **key);

#endif
