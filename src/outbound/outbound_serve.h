/*
 * outbound_serve.h: the outbound worker's side of the handover of a call
 * (outbound_ipc.h).
 */
#ifndef PROVSECRET_OUTBOUND_SERVE_H
#define PROVSECRET_OUTBOUND_SERVE_H

#include "postgres.h"

#include "storage/dsm.h"
#include "storage/shm_mq.h"

#include "outbound/outbound_engine.h"
#include "outbound/outbound_types.h"
#include "outbound/outbound_wire.h"

/* One call as the worker holds it. */
typedef struct PsOutboundCall
{
	int			slot;
	uint64		call_id;
	dsm_segment *seg;
	shm_mq_handle *req_mqh;
	shm_mq_handle *resp_mqh;
	MemoryContext cxt;			/* the handles and the decoded request */
	PsOutboundRequest req;		/* strings point into the segment */
	PsOutboundTransfer *transfer;	/* the worker's, until answered */
	/* the answer being sent, frame by frame */
	PsOutboundWireResponse reply_head;
	const char *reply_body;		/* the transfer's buffer */
	Size		reply_offset;
	char	   *frame;
	bool		frame_pending;	/* sent in part */
	bool		last_frame;
} PsOutboundCall;

/* The worker announces itself; undone when it exits. */
extern void ps_outbound_serve_attach_worker(void);

/*
 * The next call waiting for the worker, attached and with its request
 * decoded (in a new context under parent); NULL when none waits.
 */
extern PsOutboundCall *ps_outbound_serve_take(MemoryContext parent);

/* Has the caller given up (detached)? */
extern bool ps_outbound_serve_caller_gone(PsOutboundCall *call);

/*
 * Answer the call.  True when the answer is all sent, or the caller left:
 * the call may be released.  False when the ring is full: call
 * ps_outbound_serve_reply_more when the latch is set (the caller reading
 * sets it); result->body must stay valid until then.
 */
extern bool ps_outbound_serve_reply(PsOutboundCall *call, const PsOutboundResult *result);
extern bool ps_outbound_serve_reply_more(PsOutboundCall *call);

/* Detach from the call and free it. */
extern void ps_outbound_serve_release(PsOutboundCall *call);

#endif
