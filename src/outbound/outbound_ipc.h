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

#include "port/atomics.h"
#include "storage/dsm.h"
#include "storage/proc.h"
#include "storage/shm_mq.h"

#include "outbound/outbound_types.h"

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

/* Shared with the worker's side (outbound_serve.c). */
typedef enum PsOutboundSlotState
{
	PS_SLOT_FREE = 0,
	PS_SLOT_SUBMITTED,				/* waits for the worker */
	PS_SLOT_TAKEN					/* the worker of generation taken_by has it */
} PsOutboundSlotState;

typedef struct PsOutboundSlot
{
	PsOutboundSlotState	state;
	dsm_handle	handle;
	uint64		call_id;
	uint64		taken_by;
} PsOutboundSlot;

typedef struct PsOutboundShared
{
	LWLock	   *lock;
	PGPROC	   *worker;			/* NULL while no worker runs */
	uint64		generation;		/* of the running (or last) worker */
	pg_atomic_uint64 next_call_id;
	int			next_scan;
	int			nslots;
	PsOutboundSlot slots[FLEXIBLE_ARRAY_MEMBER];
} PsOutboundShared;

/* The head of a call's segment. */
typedef struct PsOutboundSegment
{
	pg_atomic_uint32 users;		/* attached processes; 0: wiped, dead */
	uint64		call_id;
	Size		req_off;
	Size		req_size;
	Size		resp_off;
	Size		resp_size;
} PsOutboundSegment;

extern PsOutboundShared *ps_outbound_shared;

extern void ps_outbound_unref_segment(dsm_segment *seg, Datum arg);
extern bool ps_outbound_ref_segment(PsOutboundSegment *head);
extern bool ps_outbound_in_segment(dsm_segment *seg, const void *data, Size len);

#endif
