/*
 * outbound.h: one outbound HTTP request (GET, or a write with a JSON body)
 * from a backend or worker: the entry points callers use.  The call is made
 * by the "provsecret outbound" worker (outbound_worker.c), never in the
 * calling process: the caller hands it over (outbound_ipc.c) and waits for
 * the answer on its latch (CHECK_FOR_INTERRUPTS, WL_EXIT_ON_PM_DEATH), so a
 * slow server never makes the process deaf to cancel, statement_timeout or
 * postmaster death.  Only inside the outbound worker itself does a call run
 * in-process, on a private engine (outbound_engine.c).
 *
 * Policy for every call: HTTPS with certificate verification; plain HTTP
 * and non-public addresses only as outbound_policy.h allows (checked on the
 * URL here and on the connected address in the worker); no redirects;
 * connect and total timeouts; a cap on the response size.  Used for the
 * JWKS (token.c) and the external resolvers.  The request and response
 * types are outbound_types.h's.
 */
#ifndef PROVSECRET_OUTBOUND_H
#define PROVSECRET_OUTBOUND_H

#include "postgres.h"

#include "outbound/outbound_types.h"

/*
 * Is this operator URL (the JWKS) one we may call: https://, or http:// to
 * 127.0.0.0/8, [::1] or localhost, never the server's own REST or
 * PostgreSQL port?  On false, err says why (without quoting the URL).
 */
extern bool ps_outbound_url_allowed(const char *url, char *err, size_t errlen);

/*
 * A base URL for an external resolver: https:// or http://, without user
 * information (a credential), query or fragment.  Where it may point is
 * ps_outbound_policy_check_url's to say (outbound_policy.h).
 */
extern bool ps_outbound_base_url_allowed(const char *url, char *err, size_t errlen);

/*
 * GET the URL.  Header lines and the response buffers are wiped when freed
 * (they carry tokens and values); resp->body is the caller's to wipe.
 * Returns false with resp->error set when the URL is not
 * allowed or the transfer failed (refused, timed out, over the size cap);
 * true when a response arrived, whatever its status.  Interrupts are
 * serviced while waiting, so this may also exit via ereport.
 */
extern bool ps_outbound_get(const PsOutboundRequest *req,
							PsOutboundResponse *resp);

/*
 * The same with req->method and req->body: the body is sent as
 * application/json without being copied (so the caller's wipe is the only
 * copy to wipe).
 */
extern bool ps_outbound_request(const PsOutboundRequest *req,
								PsOutboundResponse *resp);

#endif
