/*
 * identity.h: whose rights a query runs with.
 *
 * The API functions are not SECURITY DEFINER: they remember the caller
 * (whose principals authorization checks) and run their queries as one of
 * two roles.  PS_ACT_SERVICE (provsecret_service, no BYPASSRLS) is used for
 * tenant tables, so row-level security still applies; PS_ACT_OWNER (the
 * extension owner) for internal tables such as grants and data keys.
 */
#ifndef PROVSECRET_IDENTITY_H
#define PROVSECRET_IDENTITY_H

#include "postgres.h"

typedef enum PsActingRole
{
	PS_ACT_OWNER,
	PS_ACT_SERVICE
} PsActingRole;

typedef struct PsIdentity
{
	Oid			saved_user;
	int			saved_sec_context;
	Oid			saved_caller;
	int			saved_write_depth;
} PsIdentity;

extern void ps_identity_enter(PsActingRole role, PsIdentity *save);
extern void ps_identity_leave(const PsIdentity *save);

/*
 * The write guard (provsecret.write_guard()) admits writes to the
 * extension's tables only inside ps_identity_enter()/leave() or between
 * ps_identity_writes_begin()/end() (code that writes without switching
 * role, such as the audit worker).  Both are closed again by the end of the
 * (sub)transaction an error aborts, so an error never leaves them open.
 * Never run code a user can supply while they are open.
 */
extern void ps_identity_writes_begin(void);
extern void ps_identity_writes_end(void);

/* The role whose grants count: the API caller, else current_user. */
extern Oid	ps_identity_caller(void);

#endif
