/*
 * outbound_wire.h: the messages a caller and the outbound worker exchange
 * over shm_mq: a PsOutboundRequest (every field, strings as length +
 * bytes + NUL) and the response (status, content type, error, body).
 */
#ifndef PROVSECRET_OUTBOUND_WIRE_H
#define PROVSECRET_OUTBOUND_WIRE_H

#include "postgres.h"

#include "outbound.h"

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

/* Largest response body a call may ask for (sizes its shared memory). */
#define PS_OUTBOUND_MAX_RESPONSE	(16 * 1024 * 1024)

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
 * Decode a response message into resp (body palloc'd, NUL-terminated: the
 * caller's to wipe).  Returns the transfer's verdict (resp->error on
 * false); a malformed message is reported as such.
 */
extern bool ps_outbound_wire_decode_response(const char *msg, Size len,
											 PsOutboundResponse *resp);

#endif
