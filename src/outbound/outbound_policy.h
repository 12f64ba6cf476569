/*
 * outbound_policy.h: where outbound calls may go (provsecret.outbound_allowed_hosts).
 *
 * A resolver, which a tenant's manager creates, may call plain http:// and
 * any loopback, private, link-local or otherwise non-public address only
 * when the host is listed in provsecret.outbound_allowed_hosts; the
 * server's own REST port and PostgreSQL port on a local address never.
 * The check runs on the URL (create, alter, before each call) and again on
 * the address curl actually connects to (outbound_engine.c), since a name
 * may resolve differently by then.  An operator URL (the JWKS, set by a
 * superuser) is bound only by the own-port rule and the old HTTPS-or-
 * loopback rule.
 *
 * The connect-time functions allocate nothing through palloc and never
 * ereport: they run inside libcurl's callbacks.
 */
#ifndef PROVSECRET_OUTBOUND_POLICY_H
#define PROVSECRET_OUTBOUND_POLICY_H

#include "postgres.h"

#include <sys/socket.h>

#include "utils/guc.h"

/* What the connect-time check needs to know of a transfer's URL. */
typedef struct PsOutboundTarget
{
	char		host[256];		/* lower case, no brackets, no trailing dot */
	bool		plain_http;
	bool		operator_url;	/* the JWKS: not bound by the allowlist */
} PsOutboundTarget;

extern char *ps_outbound_allowed_hosts;

/* GUC hooks of provsecret.outbound_allowed_hosts. */
extern bool ps_outbound_allowed_hosts_check(char **newval, void **extra,
											GucSource source);
extern void ps_outbound_allowed_hosts_assign(const char *newval, void *extra);

/* Define provsecret.outbound_allowed_hosts; called once from _PG_init. */
extern void ps_outbound_policy_define_gucs(void);

/*
 * May this URL be called?  On false, err names the rule broken (never the
 * URL).  Literal addresses are judged here; host names only by scheme
 * (their addresses are judged when connecting).
 */
extern bool ps_outbound_policy_check_url(const char *url, bool operator_url,
										 char *err, size_t errlen);

/* Fill target from a URL that passed ps_outbound_policy_check_url. */
extern bool ps_outbound_policy_target(const char *url, bool operator_url,
									  PsOutboundTarget *target);

/*
 * May a transfer to target connect to (or reuse a connection to) this
 * address?  On false, err names the rule broken.  No palloc, no ereport.
 */
extern bool ps_outbound_policy_check_address(const PsOutboundTarget *target,
											 const struct sockaddr *addr,
											 char *err, size_t errlen);

/* The same for an address given as text ("127.0.0.1", "::1") and port. */
extern bool ps_outbound_policy_check_address_text(const PsOutboundTarget *target,
												  const char *ip, int port,
												  char *err, size_t errlen);

#endif
