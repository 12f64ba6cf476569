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
 * waits for is still the running one.
 */
#include "postgres.h"

#include "provsecret.h"

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

#include "outbound_ipc.h"
#include "outbound_wire.h"

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

typedef enum SlotState
{
	SLOT_FREE = 0,
	SLOT_SUBMITTED,				/* waits for the worker */
	SLOT_TAKEN					/* the worker of generation taken_by has it */
} SlotState;

typedef struct OutboundSlot
{
	SlotState	state;
	dsm_handle	handle;
	uint64		call_id;
	uint64		taken_by;
} OutboundSlot;

typedef struct OutboundShared
{
	LWLock	   *lock;
	PGPROC	   *worker;			/* NULL while no worker runs */
	uint64		generation;		/* of the running (or last) worker */
	pg_atomic_uint64 next_call_id;
	int			next_scan;
	int			nslots;
	OutboundSlot slots[FLEXIBLE_ARRAY_MEMBER];
} OutboundShared;

/* The head of a call's segment. */
typedef struct CallSegment
{
	pg_atomic_uint32 users;		/* attached processes; 0: wiped, dead */
	uint64		call_id;
	Size		req_off;
	Size		req_size;
	Size		resp_off;
	Size		resp_size;
} CallSegment;

static OutboundShared *shared = NULL;
static uint64 my_generation = 0;

static Size
shared_size(void)
{
	return add_size(offsetof(OutboundShared, slots),
					mul_size(ps_outbound_max_calls, sizeof(OutboundSlot)));
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

	shared = ShmemInitStruct("provsecret outbound slots", shared_size(), &found);
	if (!found)
	{
		memset(shared, 0, shared_size());
		shared->lock = &(GetNamedLWLockTranche(OUTBOUND_TRANCHE))->lock;
		shared->nslots = ps_outbound_max_calls;
		pg_atomic_init_u64(&shared->next_call_id, 0);
	}
}

/* on_dsm_detach: the last process to leave wipes the segment. */
static void
unref_segment(dsm_segment *seg, Datum arg)
{
	CallSegment *head = dsm_segment_address(seg);

	if (pg_atomic_sub_fetch_u32(&head->users, 1) == 0)
		explicit_bzero(head, dsm_segment_map_length(seg));
}

/* Join a live segment; false when its last user already left. */
static bool
ref_segment(CallSegment *head)
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

		LWLockAcquire(shared->lock, LW_EXCLUSIVE);
		for (int i = 0; i < shared->nslots; i++)
			if (shared->slots[i].state == SLOT_FREE)
			{
				slot = i;
				shared->slots[i].state = SLOT_SUBMITTED;
				shared->slots[i].handle = handle;
				shared->slots[i].call_id = call_id;
				worker = shared->worker;
				break;
			}
		LWLockRelease(shared->lock);
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
	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	if (shared->slots[slot].call_id == call_id)
		shared->slots[slot].state = SLOT_FREE;
	LWLockRelease(shared->lock);
}

/* Why the slot's call cannot be answered any more; NULL while it can. */
static const char *
slot_problem(int slot, uint64 call_id, TimestampTz submitted)
{
	const char *problem = NULL;
	OutboundSlot *s = &shared->slots[slot];

	LWLockAcquire(shared->lock, LW_SHARED);
	if (s->call_id == call_id && s->state == SLOT_TAKEN &&
		(shared->worker == NULL || shared->generation != s->taken_by))
		problem = "the outbound worker stopped during the call";
	else if (s->call_id == call_id && s->state == SLOT_SUBMITTED &&
			 shared->worker == NULL &&
			 TimestampDifferenceExceeds(submitted, GetCurrentTimestamp(),
										NOT_RUNNING_GRACE_MS))
		problem = "the outbound worker is not running";
	LWLockRelease(shared->lock);
	return problem;
}

/* A message shm_mq handed us must lie in the segment (see above). */
static void
check_in_segment(dsm_segment *seg, const void *data, Size len)
{
	const char *base = dsm_segment_address(seg);

	if ((const char *) data < base ||
		(const char *) data + len > base + dsm_segment_map_length(seg))
		elog(ERROR, "outbound message was copied out of shared memory");
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

			check_in_segment(seg, data, len);
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
	PsOutboundWireReader *reader = palloc0(sizeof(PsOutboundWireReader));
	Size		head_size = MAXALIGN(sizeof(CallSegment));
	TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
													   Max(req->total_timeout_ms, 0) +
													   ANSWER_GRACE_MS);
	dsm_segment *volatile seg = NULL;
	char	   *volatile buf = NULL;
	volatile int slot = -1;
	volatile uint64 call_id = 0;
	volatile bool ok = false;

	memset(resp, 0, sizeof(*resp));
	reader->max_body = Min(req->max_response_bytes, PS_OUTBOUND_MAX_RESPONSE);
	if (shared == NULL)
	{
		fail(resp, "the outbound worker is not running");
		return false;
	}
	PG_TRY();
	{
		CallSegment *head;
		shm_mq	   *req_mq;
		shm_mq	   *resp_mq;
		shm_mq_handle *req_mqh;
		shm_mq_handle *resp_mqh;
		char	   *base;

		seg = dsm_create(head_size + req_size + resp_size, 0);
		base = dsm_segment_address(seg);
		head = (CallSegment *) base;
		pg_atomic_init_u32(&head->users, 1);
		/* first registered, so it runs after the queues' detach callbacks */
		on_dsm_detach(seg, unref_segment, (Datum) 0);
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
			elog(ERROR, "outbound request does not fit its queue");
		explicit_bzero(buf, req_len);

		/* the worker checks it: a handle may be reused after we leave */
		call_id = pg_atomic_add_fetch_u64(&shared->next_call_id, 1);
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
		if (slot >= 0)
			release_slot(slot, call_id);
		if (seg)
			dsm_detach(seg);
	}
	PG_END_TRY();
	pfree(reader);
	return ok;
}

/* ---------------------------------------------------------------- worker */

static void
worker_detach(int code, Datum arg)
{
	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	if (shared->worker == MyProc)
		shared->worker = NULL;
	LWLockRelease(shared->lock);
}

void
ps_outbound_ipc_worker_attach(void)
{
	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	shared->worker = MyProc;
	my_generation = ++shared->generation;
	LWLockRelease(shared->lock);
	before_shmem_exit(worker_detach, (Datum) 0);
}

/* Attach to a call's segment; NULL when its caller already left. */
static PsOutboundCall *
attach_call(int slot, dsm_handle handle, uint64 call_id, MemoryContext parent)
{
	dsm_segment *seg = dsm_attach(handle);
	CallSegment *head;
	PsOutboundCall *call;
	MemoryContext old;
	Size		len;
	void	   *data;
	char	   *base;

	if (seg == NULL)
		return NULL;
	head = dsm_segment_address(seg);
	if (!ref_segment(head))
	{
		dsm_detach(seg);
		return NULL;
	}
	on_dsm_detach(seg, unref_segment, (Datum) 0);
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
		ps_outbound_ipc_release(call);
		return NULL;
	}
	check_in_segment(seg, data, len);
	old = MemoryContextSwitchTo(call->cxt);
	if (!ps_outbound_wire_decode_request(data, len, &call->req))
	{
		PsOutboundResult bad = {0};

		snprintf(bad.error, sizeof(bad.error), "malformed request to the outbound worker");
		/* one frame in an empty ring: sent at once */
		(void) ps_outbound_ipc_reply(call, &bad);
		MemoryContextSwitchTo(old);
		ps_outbound_ipc_release(call);
		return NULL;
	}
	MemoryContextSwitchTo(old);
	return call;
}

PsOutboundCall *
ps_outbound_ipc_take(MemoryContext parent)
{
	for (;;)
	{
		int			slot = -1;
		dsm_handle	handle = 0;
		uint64		call_id = 0;
		PsOutboundCall *call;

		LWLockAcquire(shared->lock, LW_EXCLUSIVE);
		for (int n = 0; n < shared->nslots; n++)
		{
			int			i = (shared->next_scan + n) % shared->nslots;

			if (shared->slots[i].state == SLOT_SUBMITTED)
			{
				slot = i;
				shared->slots[i].state = SLOT_TAKEN;
				shared->slots[i].taken_by = my_generation;
				handle = shared->slots[i].handle;
				call_id = shared->slots[i].call_id;
				shared->next_scan = (i + 1) % shared->nslots;
				break;
			}
		}
		LWLockRelease(shared->lock);
		if (slot < 0)
			return NULL;
		if ((call = attach_call(slot, handle, call_id, parent)) != NULL)
			return call;
	}
}

bool
ps_outbound_ipc_caller_gone(PsOutboundCall *call)
{
	Size		len;
	void	   *data;

	/* the request was the only message: anything else means detached */
	return shm_mq_receive(call->req_mqh, &len, &data, true) != SHM_MQ_WOULD_BLOCK;
}

bool
ps_outbound_ipc_reply(PsOutboundCall *call, const PsOutboundResult *result)
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
	return ps_outbound_ipc_reply_more(call);
}

bool
ps_outbound_ipc_reply_more(PsOutboundCall *call)
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
ps_outbound_ipc_release(PsOutboundCall *call)
{
	if (call->frame)
		explicit_bzero(call->frame, PS_OUTBOUND_FRAME);
	dsm_detach(call->seg);
	MemoryContextDelete(call->cxt);
	pfree(call);
}
