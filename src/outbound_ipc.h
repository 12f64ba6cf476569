/*
 * outbound_ipc.h: handing an outbound HTTP call to the "provsecret
 * outbound" worker.  The caller puts a request and a response shm_mq in a
 * DSM segment of its own, registers the segment in a small slot table in
 * the main shared memory and sets the worker's latch; the worker answers on
 * the response queue.  Either side leaving (error, cancel, exit) detaches
 * the queues, which the other side sees as SHM_MQ_DETACHED.  The last one
 * to detach wipes the segment: it held a token and a response.
 */
#ifndef PROVSECRET_OUTBOUND_IPC_H
#define PROVSECRET_OUTBOUND_IPC_H

#include "postgres.h"

#include "storage/dsm.h"
#include "storage/shm_mq.h"

#include "outbound.h"
#include "outbound_engine.h"
#include "outbound_wire.h"

extern int	ps_outbound_max_calls;	/* slots (provsecret.outbound_max_calls) */

extern void ps_outbound_shmem_request(void);
extern void ps_outbound_shmem_startup(void);

/*
 * The caller's side: send req to the worker and wait for its answer on the
 * process latch (interrupts serviced).  Same contract as
 * ps_outbound_request; false with resp->error when the worker is not
 * running, stops during the call, does not answer in time or every slot is
 * busy.
 */
extern bool ps_outbound_ipc_call(const PsOutboundRequest *req,
								 PsOutboundResponse *resp);

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
extern void ps_outbound_ipc_worker_attach(void);

/*
 * The next call waiting for the worker, attached and with its request
 * decoded (in a new context under parent); NULL when none waits.
 */
extern PsOutboundCall *ps_outbound_ipc_take(MemoryContext parent);

/* Has the caller given up (detached)? */
extern bool ps_outbound_ipc_caller_gone(PsOutboundCall *call);

/*
 * Answer the call.  True when the answer is all sent, or the caller left:
 * the call may be released.  False when the ring is full: call
 * ps_outbound_ipc_reply_more when the latch is set (the caller reading
 * sets it); result->body must stay valid until then.
 */
extern bool ps_outbound_ipc_reply(PsOutboundCall *call, const PsOutboundResult *result);
extern bool ps_outbound_ipc_reply_more(PsOutboundCall *call);

/* Detach from the call and free it. */
extern void ps_outbound_ipc_release(PsOutboundCall *call);

#endif
