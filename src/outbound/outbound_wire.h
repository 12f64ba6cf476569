/*
 * outbound_wire.h: the messages a caller and the outbound worker exchange
 * over shm_mq: a PsOutboundRequest (every field, strings as length +
 * bytes + NUL) in one message, and the response (status, content type,
 * error, body) as a stream cut into frames of PS_OUTBOUND_FRAME bytes.
 */
#ifndef PROVSECRET_OUTBOUND_WIRE_H
#define PROVSECRET_OUTBOUND_WIRE_H

#include "postgres.h"

#include "outbound/outbound_types.h"

/* The fixed part of a response message; the body follows it. */
typedef struct PsOutboundWireResponse
{
	int32		ok;
	int32		unused;
	int64		status;
	uint64		body_len;
	char		content_type[128];
	char		error[256];
} PsOutboundWireResponse;

/* Largest response body a call may ask for. */
#define PS_OUTBOUND_MAX_RESPONSE	(16 * 1024 * 1024)

/*
 * Every response message is one frame of this size: with its 8-byte length
 * word it takes 8 KiB of the ring, so frames tile a ring of whole frames
 * and none wraps around its end (outbound_ipc.c).
 */
#define PS_OUTBOUND_FRAME			(8192 - 8)

/* Receiving a framed response. */
typedef struct PsOutboundWireReader
{
	PsOutboundWireResponse head;
	char	   *body;			/* palloc'd once the head arrived */
	Size		offset;			/* stream bytes taken so far */
	Size		max_body;
} PsOutboundWireReader;

/* Bytes needed to encode req. */
extern Size ps_outbound_wire_request_size(const PsOutboundRequest *req);

/* Encode req into buf (of ps_outbound_wire_request_size bytes). */
extern void ps_outbound_wire_encode_request(const PsOutboundRequest *req, char *buf);

/*
 * Decode a request message: strings point into msg (which must outlive
 * req); the header list is palloc'd.  False when the message is malformed.
 */
extern bool ps_outbound_wire_decode_request(const char *msg, Size len,
											PsOutboundRequest *req);

/*
 * Fill frame (PS_OUTBOUND_FRAME bytes) with the response stream from
 * *offset on and advance it; true when this is the last frame.
 */
extern bool ps_outbound_wire_next_frame(const PsOutboundWireResponse *head,
										const char *body, Size *offset,
										char *frame);

/* Take one frame: 1 the response is complete, 0 more to come, -1 malformed. */
extern int	ps_outbound_wire_take_frame(PsOutboundWireReader *reader,
										const char *frame, Size len);

#endif
