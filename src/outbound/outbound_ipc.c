/*
 * outbound_ipc.c: the shared-memory handover between a caller (backend or
 * REST worker) and the outbound worker.
 *
 * Each call has its own DSM segment: a header, the request queue (caller
 * sends, worker receives) and the response queue (worker sends, caller
 * receives).  shm_mq_receive copies a message that wraps around the end of
 * the ring into a private buffer nobody could wipe, so no message ever
 * wraps: the request is the request queue's only message and its ring is
 * sized to hold it, and the response comes as fixed-size frames in a ring
 * of whole frames (64 KiB, whatever the response size).  Receivers check
 * that what they got lies in the segment.  The segment itself is wiped by
 * whoever detaches last (counted in its header).
 *
 * The slot table in the main shared memory (one LWLock) tells the worker
 * which segments wait for it; it also tells a caller whether the worker it
 * waits for is still the running one.  This file: shared memory and the
 * caller's side; the worker's side is outbound_serve.c.
 */
#include "postgres.h"

#include "miscadmin.h"
#include "pgstat.h"
#include "port/atomics.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "core/provsecret.h"
#include "outbound/outbound_ipc.h"
#include "outbound/outbound_wire.h"

#define OUTBOUND_TRANCHE "provsecret outbound"

/* How long a call waits for a free slot, and for a worker to start. */
#define SLOT_WAIT_MS 1000
#define NOT_RUNNING_GRACE_MS 3000
/* How often a waiting caller looks whether its worker is still there. */
#define POLL_MS 200
/* Beyond the call's own timeout, which the worker enforces. */
#define ANSWER_GRACE_MS 1000
/* Response ring: this many frames, each with its length word. */
#define RING_FRAMES 8
#define FRAME_SPACE (MAXALIGN(sizeof(Size)) + MAXALIGN(PS_OUTBOUND_FRAME))

int			ps_outbound_max_calls = 64;

PsOutboundShared *ps_outbound_shared = NULL;

static Size
shared_size(void)
{
	return add_size(offsetof(PsOutboundShared, slots),
					mul_size(ps_outbound_max_calls, sizeof(PsOutboundSlot)));
}

void
ps_outbound_shmem_request(void)
{
	RequestAddinShmemSpace(MAXALIGN(shared_size()));
	RequestNamedLWLockTranche(OUTBOUND_TRANCHE, 1);
}

/* Called with AddinShmemInitLock held. */
void
ps_outbound_shmem_startup(void)
{
	bool		found;

	ps_outbound_shared = ShmemInitStruct("provsecret outbound slots", shared_size(), &found);
	if (!found)
	{
		memset(ps_outbound_shared, 0, shared_size());
		ps_outbound_shared->lock = &(GetNamedLWLockTranche(OUTBOUND_TRANCHE))->lock;
		ps_outbound_shared->nslots = ps_outbound_max_calls;
		pg_atomic_init_u64(&ps_outbound_shared->next_call_id, 0);
	}
}

/* on_dsm_detach: the last process to leave wipes the segment. */
void
ps_outbound_unref_segment(dsm_segment *seg, Datum arg)
{
	PsOutboundSegment *head = dsm_segment_address(seg);

	if (pg_atomic_sub_fetch_u32(&head->users, 1) == 0)
		explicit_bzero(head, dsm_segment_map_length(seg));
}

/* Join a live segment; false when its last user already left. */
bool
ps_outbound_ref_segment(PsOutboundSegment *head)
{
	uint32		users = pg_atomic_read_u32(&head->users);

	while (users != 0)
		if (pg_atomic_compare_exchange_u32(&head->users, &users, users + 1))
			return true;
	return false;
}

/* ---------------------------------------------------------------- caller */

static void
fail(PsOutboundResponse *resp, const char *why)
{
	snprintf(resp->error, sizeof(resp->error), "%s", why);
}

/* Take a free slot for the segment; -1 after SLOT_WAIT_MS of all busy. */
static int
submit(dsm_handle handle, uint64 call_id, TimestampTz deadline)
{
	TimestampTz give_up = Min(deadline,
							  TimestampTzPlusMilliseconds(GetCurrentTimestamp(), SLOT_WAIT_MS));

	for (;;)
	{
		PGPROC	   *worker = NULL;
		int			slot = -1;

		LWLockAcquire(ps_outbound_shared->lock, LW_EXCLUSIVE);
		for (int i = 0; i < ps_outbound_shared->nslots; i++)
			if (ps_outbound_shared->slots[i].state == PS_SLOT_FREE)
			{
				slot = i;
				ps_outbound_shared->slots[i].state = PS_SLOT_SUBMITTED;
				ps_outbound_shared->slots[i].handle = handle;
				ps_outbound_shared->slots[i].call_id = call_id;
				worker = ps_outbound_shared->worker;
				break;
			}
		LWLockRelease(ps_outbound_shared->lock);
		if (slot >= 0)
		{
			if (worker)
				SetLatch(&worker->procLatch);
			return slot;
		}
		if (GetCurrentTimestamp() >= give_up)
			return -1;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 10, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
}

static void
release_slot(int slot, uint64 call_id)
{
	LWLockAcquire(ps_outbound_shared->lock, LW_EXCLUSIVE);
	if (ps_outbound_shared->slots[slot].call_id == call_id)
		ps_outbound_shared->slots[slot].state = PS_SLOT_FREE;
	LWLockRelease(ps_outbound_shared->lock);
}

/* Why the slot's call cannot be answered any more; NULL while it can. */
static const char *
slot_problem(int slot, uint64 call_id, TimestampTz submitted)
{
	const char *problem = NULL;
	PsOutboundSlot *s = &ps_outbound_shared->slots[slot];

	LWLockAcquire(ps_outbound_shared->lock, LW_SHARED);
	if (s->call_id == call_id && s->state == PS_SLOT_TAKEN &&
		(ps_outbound_shared->worker == NULL || ps_outbound_shared->generation != s->taken_by))
		problem = "the outbound worker stopped during the call";
	else if (s->call_id == call_id && s->state == PS_SLOT_SUBMITTED &&
			 ps_outbound_shared->worker == NULL &&
			 TimestampDifferenceExceeds(submitted, GetCurrentTimestamp(),
										NOT_RUNNING_GRACE_MS))
		problem = "the outbound worker is not running";
	LWLockRelease(ps_outbound_shared->lock);
	return problem;
}

/* Does a message shm_mq handed us lie in the segment (see above)? */
bool
ps_outbound_in_segment(dsm_segment *seg, const void *data, Size len)
{
	const char *base = dsm_segment_address(seg);

	return (const char *) data >= base &&
		(const char *) data + len <= base + dsm_segment_map_length(seg);
}

static bool
await_answer(dsm_segment *seg, shm_mq_handle *resp_mqh, int slot, uint64 call_id,
			 TimestampTz deadline, PsOutboundWireReader *reader,
			 PsOutboundResponse *resp)
{
	TimestampTz submitted = GetCurrentTimestamp();

	for (;;)
	{
		Size		len;
		void	   *data;
		const char *problem;
		long		wait_ms;
		shm_mq_result res;

		/* take every frame there is before waiting */
		while ((res = shm_mq_receive(resp_mqh, &len, &data, true)) == SHM_MQ_SUCCESS)
		{
			int			taken;

			if (!ps_outbound_in_segment(seg, data, len))
				ereport(ERROR,
						(errcode(ERRCODE_INTERNAL_ERROR),
						 errmsg("outbound answer was copied out of shared memory")));
			taken = ps_outbound_wire_take_frame(reader, data, len);
			if (taken < 0)
			{
				fail(resp, "malformed answer from the outbound worker");
				return false;
			}
			if (taken == 0)
				continue;
			strlcpy(resp->content_type, reader->head.content_type, sizeof(resp->content_type));
			strlcpy(resp->error, reader->head.error, sizeof(resp->error));
			if (!reader->head.ok)
				return false;
			resp->status = (long) reader->head.status;
			resp->body = reader->body;
			resp->body_len = reader->head.body_len;
			reader->body = NULL;	/* the caller's now */
			return true;
		}
		if (res == SHM_MQ_DETACHED)
		{
			fail(resp, "the outbound worker stopped during the call");
			return false;
		}
		if ((problem = slot_problem(slot, call_id, submitted)) != NULL)
		{
			fail(resp, problem);
			return false;
		}
		wait_ms = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), deadline);
		if (wait_ms <= 0)
		{
			fail(resp, "timed out waiting for the outbound worker");
			return false;
		}
		/* a REST worker asked to stop does not wait out a slow backend */
		if (ShutdownRequestPending)
		{
			fail(resp, "shutting down");
			return false;
		}
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 Min(wait_ms, POLL_MS), PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
}

bool
ps_outbound_ipc_call(const PsOutboundRequest *req, PsOutboundResponse *resp)
{
	Size		req_len = ps_outbound_wire_request_size(req);

	/* ring sizes: see above; shm_mq's header takes minimum_size - MAXALIGNOF */
	Size		req_size = shm_mq_minimum_size + MAXALIGN(req_len) + MAXALIGN(sizeof(Size));
	Size		resp_size = shm_mq_minimum_size - MAXIMUM_ALIGNOF + RING_FRAMES * FRAME_SPACE;
	PsOutboundWireReader *reader;
	Size		head_size = MAXALIGN(sizeof(PsOutboundSegment));
	TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
													   Max(req->total_timeout_ms, 0) +
													   ANSWER_GRACE_MS);
	dsm_segment *volatile seg = NULL;
	char	   *volatile buf = NULL;
	volatile int slot = -1;
	volatile uint64 call_id = 0;
	volatile bool ok = false;

	memset(resp, 0, sizeof(*resp));
	if (ps_outbound_shared == NULL)
	{
		fail(resp, "the outbound worker is not running");
		return false;
	}
	reader = palloc0(sizeof(PsOutboundWireReader));
	reader->max_body = Min(req->max_response_bytes, PS_OUTBOUND_MAX_RESPONSE);
	PG_TRY();
	{
		PsOutboundSegment *head;
		shm_mq	   *req_mq;
		shm_mq	   *resp_mq;
		shm_mq_handle *req_mqh;
		shm_mq_handle *resp_mqh;
		char	   *base;

		seg = dsm_create(head_size + req_size + resp_size, 0);
		base = dsm_segment_address(seg);
		head = (PsOutboundSegment *) base;
		pg_atomic_init_u32(&head->users, 1);
		/* first registered, so it runs after the queues' detach callbacks */
		on_dsm_detach(seg, ps_outbound_unref_segment, (Datum) 0);
		head->req_off = head_size;
		head->req_size = req_size;
		head->resp_off = head_size + req_size;
		head->resp_size = resp_size;

		req_mq = shm_mq_create(base + head->req_off, req_size);
		shm_mq_set_sender(req_mq, MyProc);
		resp_mq = shm_mq_create(base + head->resp_off, resp_size);
		shm_mq_set_receiver(resp_mq, MyProc);
		req_mqh = shm_mq_attach(req_mq, seg, NULL);
		resp_mqh = shm_mq_attach(resp_mq, seg, NULL);

		buf = palloc(req_len);
		ps_outbound_wire_encode_request(req, buf);
		if (shm_mq_send(req_mqh, req_len, buf, true, true) != SHM_MQ_SUCCESS)
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("outbound request does not fit its queue")));
		explicit_bzero(buf, req_len);

		/* the worker checks it: a handle may be reused after we leave */
		call_id = pg_atomic_add_fetch_u64(&ps_outbound_shared->next_call_id, 1);
		head->call_id = call_id;
		slot = submit(dsm_segment_handle(seg), call_id, deadline);
		if (slot < 0)
			fail(resp, "too many outbound calls in flight (provsecret.outbound_max_calls)");
		else
			ok = await_answer(seg, resp_mqh, slot, call_id, deadline, reader, resp);
	}
	PG_FINALLY();
	{
		/* a body not handed to the caller (error, cancel) */
		if (reader->body)
		{
			explicit_bzero(reader->body, reader->head.body_len);
			pfree(reader->body);
		}
		if (buf)
		{
			explicit_bzero(buf, req_len);
			pfree(buf);
		}
		/* detach first: the slot must not be reused while we are attached */
		if (seg)
			dsm_detach(seg);
		if (slot >= 0)
			release_slot(slot, call_id);
	}
	PG_END_TRY();
	pfree(reader);
	return ok;
}
