/*
 * outbound_serve.c: the outbound worker's side of the handover
 * (outbound_ipc.c): taking submitted calls from the slot table, attaching
 * to their segments, answering in frames, noticing callers that left.
 */
#include "postgres.h"

#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "utils/memutils.h"

#include "core/provsecret.h"
#include "outbound/outbound_ipc.h"
#include "outbound/outbound_serve.h"
#include "outbound/outbound_wire.h"

static uint64 my_generation = 0;

static void
worker_detach(int code, Datum arg)
{
	LWLockAcquire(ps_outbound_shared->lock, LW_EXCLUSIVE);
	if (ps_outbound_shared->worker == MyProc)
		ps_outbound_shared->worker = NULL;
	LWLockRelease(ps_outbound_shared->lock);
}

void
ps_outbound_serve_attach_worker(void)
{
	LWLockAcquire(ps_outbound_shared->lock, LW_EXCLUSIVE);
	ps_outbound_shared->worker = MyProc;
	my_generation = ++ps_outbound_shared->generation;
	LWLockRelease(ps_outbound_shared->lock);
	before_shmem_exit(worker_detach, (Datum) 0);
}

/* Attach to a call's segment; NULL when its caller already left. */
static PsOutboundCall *
attach_call(int slot, dsm_handle handle, uint64 call_id, MemoryContext parent)
{
	dsm_segment *seg = dsm_attach(handle);
	PsOutboundSegment *head;
	PsOutboundCall *call;
	MemoryContext old;
	Size		len;
	void	   *data;
	char	   *base;

	if (seg == NULL)
		return NULL;
	head = dsm_segment_address(seg);
	if (!ps_outbound_ref_segment(head))
	{
		dsm_detach(seg);
		return NULL;
	}
	on_dsm_detach(seg, ps_outbound_unref_segment, (Datum) 0);
	pg_read_barrier();
	if (head->call_id != call_id)
	{
		dsm_detach(seg);
		return NULL;
	}
	base = (char *) head;
	call = MemoryContextAllocZero(parent, sizeof(PsOutboundCall));
	call->slot = slot;
	call->call_id = call_id;
	call->seg = seg;
	call->cxt = AllocSetContextCreate(parent, "provsecret outbound call",
									  ALLOCSET_SMALL_SIZES);
	old = MemoryContextSwitchTo(call->cxt);
	shm_mq_set_receiver((shm_mq *) (base + head->req_off), MyProc);
	shm_mq_set_sender((shm_mq *) (base + head->resp_off), MyProc);
	call->req_mqh = shm_mq_attach((shm_mq *) (base + head->req_off), seg, NULL);
	call->resp_mqh = shm_mq_attach((shm_mq *) (base + head->resp_off), seg, NULL);
	MemoryContextSwitchTo(old);

	/* the caller sent the whole request before submitting it */
	if (shm_mq_receive(call->req_mqh, &len, &data, true) != SHM_MQ_SUCCESS)
	{
		ps_outbound_serve_release(call);
		return NULL;
	}
	if (!ps_outbound_in_segment(seg, data, len))
	{
		ereport(WARNING,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("outbound request was copied out of shared memory")));
		ps_outbound_serve_release(call);
		return NULL;
	}
	old = MemoryContextSwitchTo(call->cxt);
	if (!ps_outbound_wire_decode_request(data, len, &call->req))
	{
		PsOutboundResult bad = {0};

		snprintf(bad.error, sizeof(bad.error), "malformed request to the outbound worker");
		/* one frame in an empty ring: sent at once */
		(void) ps_outbound_serve_reply(call, &bad);
		MemoryContextSwitchTo(old);
		ps_outbound_serve_release(call);
		return NULL;
	}
	MemoryContextSwitchTo(old);
	return call;
}

PsOutboundCall *
ps_outbound_serve_take(MemoryContext parent)
{
	for (;;)
	{
		int			slot = -1;
		dsm_handle	handle = 0;
		uint64		call_id = 0;
		PsOutboundCall *call;

		LWLockAcquire(ps_outbound_shared->lock, LW_EXCLUSIVE);
		for (int n = 0; n < ps_outbound_shared->nslots; n++)
		{
			int			i = (ps_outbound_shared->next_scan + n) % ps_outbound_shared->nslots;

			if (ps_outbound_shared->slots[i].state == PS_SLOT_SUBMITTED)
			{
				slot = i;
				ps_outbound_shared->slots[i].state = PS_SLOT_TAKEN;
				ps_outbound_shared->slots[i].taken_by = my_generation;
				handle = ps_outbound_shared->slots[i].handle;
				call_id = ps_outbound_shared->slots[i].call_id;
				ps_outbound_shared->next_scan = (i + 1) % ps_outbound_shared->nslots;
				break;
			}
		}
		LWLockRelease(ps_outbound_shared->lock);
		if (slot < 0)
			return NULL;
		if ((call = attach_call(slot, handle, call_id, parent)) != NULL)
			return call;
	}
}

bool
ps_outbound_serve_caller_gone(PsOutboundCall *call)
{
	Size		len;
	void	   *data;

	/* the request was the only message: anything else means detached */
	return shm_mq_receive(call->req_mqh, &len, &data, true) != SHM_MQ_WOULD_BLOCK;
}

bool
ps_outbound_serve_reply(PsOutboundCall *call, const PsOutboundResult *result)
{
	PsOutboundWireResponse *head = &call->reply_head;

	memset(head, 0, sizeof(*head));
	head->ok = result->ok;
	head->status = result->status;
	head->body_len = result->ok ? result->body_len : 0;
	strlcpy(head->content_type, result->content_type, sizeof(head->content_type));
	strlcpy(head->error, result->error, sizeof(head->error));
	call->reply_body = result->ok ? result->body : "";
	call->reply_offset = 0;
	call->frame = MemoryContextAlloc(call->cxt, PS_OUTBOUND_FRAME);
	call->frame_pending = false;
	call->last_frame = false;
	return ps_outbound_serve_reply_more(call);
}

bool
ps_outbound_serve_reply_more(PsOutboundCall *call)
{
	for (;;)
	{
		shm_mq_result res;

		if (!call->frame_pending)
		{
			if (call->last_frame)
				return true;
			call->last_frame = ps_outbound_wire_next_frame(&call->reply_head,
														   call->reply_body,
														   &call->reply_offset,
														   call->frame);
			call->frame_pending = true;
		}
		/* a frame sent in part is sent again with the same arguments */
		res = shm_mq_send(call->resp_mqh, PS_OUTBOUND_FRAME, call->frame, true, true);
		if (res == SHM_MQ_WOULD_BLOCK)
			return false;
		call->frame_pending = false;
		explicit_bzero(call->frame, PS_OUTBOUND_FRAME);
		if (res == SHM_MQ_DETACHED)
			return true;
	}
}

void
ps_outbound_serve_release(PsOutboundCall *call)
{
	if (call->frame)
		explicit_bzero(call->frame, PS_OUTBOUND_FRAME);
	dsm_detach(call->seg);
	MemoryContextDelete(call->cxt);
	pfree(call);
}
