/*
 * outbound_engine.h: many HTTP transfers at once on one libcurl multi
 * handle (so connections are reused across calls), driven by a caller's
 * WaitEventSet: the engine lists the sockets curl wants watched and when
 * its timer is due, and runs curl when they are ready.  No threads, no
 * blocking waits inside the engine; the policy of outbound.h (HTTPS, hosts
 * and addresses as outbound_policy.h allows, checked again on the address
 * each connection goes to, no redirects, timeouts, size cap) is applied to
 * every transfer.
 */
#ifndef PROVSECRET_OUTBOUND_ENGINE_H
#define PROVSECRET_OUTBOUND_ENGINE_H

#include "postgres.h"

#include "storage/latch.h"

#include "outbound/outbound_types.h"

typedef struct PsOutboundEngine PsOutboundEngine;
typedef struct PsOutboundTransfer PsOutboundTransfer;

/* The outcome of a finished transfer; body belongs to the engine. */
typedef struct PsOutboundResult
{
	bool		ok;				/* a response arrived (any status) */
	long		status;
	const char *body;			/* wiped by ps_outbound_engine_finish */
	size_t		body_len;
	char		content_type[128];
	char		error[256];		/* why !ok */
} PsOutboundResult;

/*
 * A new engine in CurrentMemoryContext keeping at most max_connections
 * connections (open and idle) to all servers together.
 */
extern PsOutboundEngine *ps_outbound_engine_create(int max_connections);
extern void ps_outbound_engine_set_pool(PsOutboundEngine *e, int max_connections);
extern void ps_outbound_engine_destroy(PsOutboundEngine *e);

/*
 * Start a transfer (owner is the caller's, returned with it when done).
 * Copies what it needs from req except req->body, which must stay valid
 * until ps_outbound_engine_finish.  Returns NULL with err set when it cannot
 * start (URL not allowed, host name not resolvable).
 */
extern PsOutboundTransfer *ps_outbound_engine_start(PsOutboundEngine *e,
													const PsOutboundRequest *req,
													void *owner,
													char *err, size_t errlen);

/*
 * Wait up to timeout_ms (-1: no limit), or until curl's timer is due, for
 * the process latch, postmaster death (exits) or curl's sockets; then run
 * curl for what is ready.  True when the latch was set (not reset here).
 */
extern bool ps_outbound_engine_wait(PsOutboundEngine *e, long timeout_ms,
									uint32 wait_event_info);

/* The next finished transfer (NULL: none) with its outcome and owner. */
extern PsOutboundTransfer *ps_outbound_engine_next_done(PsOutboundEngine *e,
														PsOutboundResult *result,
														void **owner);

/* Remove a transfer, finished or not, wiping its buffers. */
extern void ps_outbound_engine_finish(PsOutboundEngine *e, PsOutboundTransfer *t);

#endif
