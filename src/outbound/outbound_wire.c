/*
 * outbound_wire.c: encoding of the outbound worker's messages.  Both ends
 * are this library in one server, so the format is native-endian; decoding
 * still checks every length against the message.
 */
#include "postgres.h"

#include "core/provsecret.h"
#include "outbound/outbound_wire.h"

#define WIRE_MAGIC	0x70734F31	/* "psO1" */
#define WIRE_NULL	PG_UINT64_MAX

typedef struct WireRequestHead
{
	uint32		magic;
	int32		connect_timeout_ms;
	int32		total_timeout_ms;
	uint32		nheaders;
	uint32		operator_url;
	uint64		max_response_bytes;
} WireRequestHead;

/*
 * The request's string fields, in message order: a new one is one line
 * here.  len_off is the field holding its length (-1: NUL-terminated).
 */
static const struct
{
	size_t		str_off;
	int			len_off;
}			request_strings[] =
{
	{offsetof(PsOutboundRequest, url), -1},
	{offsetof(PsOutboundRequest, method), -1},
	{offsetof(PsOutboundRequest, body), offsetof(PsOutboundRequest, body_len)},
	{offsetof(PsOutboundRequest, ca_file), -1},
};

#define STR_FIELD(req, i) \
	(*(const char **) ((char *) (req) + request_strings[i].str_off))
#define LEN_FIELD(req, i) \
	(*(size_t *) ((char *) (req) + request_strings[i].len_off))

static size_t
string_len(const PsOutboundRequest *req, int i)
{
	const char *s = STR_FIELD(req, i);

	if (s == NULL)
		return 0;
	return request_strings[i].len_off >= 0 ? LEN_FIELD(req, i) : strlen(s);
}

static int
header_count(const PsOutboundRequest *req)
{
	int			n = 0;

	for (const char *const *h = req->headers; h && *h; h++)
		n++;
	return n;
}

Size
ps_outbound_wire_request_size(const PsOutboundRequest *req)
{
	Size		size = sizeof(WireRequestHead);

	for (int i = 0; i < lengthof(request_strings); i++)
		size = add_size(size, sizeof(uint64) + string_len(req, i) + 1);
	for (const char *const *h = req->headers; h && *h; h++)
		size = add_size(size, sizeof(uint64) + strlen(*h) + 1);
	return size;
}

static char *
put_string(char *p, const char *s, size_t len)
{
	uint64		n = s == NULL ? WIRE_NULL : len;

	memcpy(p, &n, sizeof(n));
	p += sizeof(n);
	if (s != NULL)
		memcpy(p, s, len);
	p[s == NULL ? 0 : len] = '\0';
	return p + (s == NULL ? 0 : len) + 1;
}

void
ps_outbound_wire_encode_request(const PsOutboundRequest *req, char *buf)
{
	WireRequestHead head = {WIRE_MAGIC, req->connect_timeout_ms,
		req->total_timeout_ms, header_count(req), req->operator_url ? 1 : 0,
	req->max_response_bytes};
	char	   *p = buf + sizeof(head);

	memcpy(buf, &head, sizeof(head));
	for (int i = 0; i < lengthof(request_strings); i++)
		p = put_string(p, STR_FIELD(req, i), string_len(req, i));
	for (const char *const *h = req->headers; h && *h; h++)
		p = put_string(p, *h, strlen(*h));
}

/* Read one string at *p; false when it runs past end. */
static bool
get_string(const char **p, const char *end, const char **s, size_t *len)
{
	uint64		n;

	if (end - *p < (ptrdiff_t) sizeof(n))
		return false;
	memcpy(&n, *p, sizeof(n));
	*p += sizeof(n);
	if (n == WIRE_NULL)
	{
		*s = NULL;
		*len = 0;
		n = 0;
	}
	else
	{
		*s = *p;
		*len = n;
	}
	if (n >= (uint64) (end - *p) || (*p)[n] != '\0')
		return false;
	*p += n + 1;
	return true;
}

bool
ps_outbound_wire_decode_request(const char *msg, Size len, PsOutboundRequest *req)
{
	WireRequestHead head;
	const char *p = msg + sizeof(head);
	const char *end = msg + len;
	const char **headers;

	memset(req, 0, sizeof(*req));
	if (len < sizeof(head))
		return false;
	memcpy(&head, msg, sizeof(head));
	if (head.magic != WIRE_MAGIC || head.nheaders > len / sizeof(uint64))
		return false;
	req->connect_timeout_ms = head.connect_timeout_ms;
	req->total_timeout_ms = head.total_timeout_ms;
	req->operator_url = head.operator_url == 1;
	req->max_response_bytes = Min(head.max_response_bytes, PS_OUTBOUND_MAX_RESPONSE);
	for (int i = 0; i < lengthof(request_strings); i++)
	{
		const char *s;
		size_t		n;

		if (!get_string(&p, end, &s, &n))
			return false;
		*(const char **) ((char *) req + request_strings[i].str_off) = s;
		if (request_strings[i].len_off >= 0)
			*(size_t *) ((char *) req + request_strings[i].len_off) = n;
	}
	headers = palloc0((head.nheaders + 1) * sizeof(char *));
	for (uint32 i = 0; i < head.nheaders; i++)
	{
		size_t		n;

		if (!get_string(&p, end, &headers[i], &n) || headers[i] == NULL)
		{
			pfree(headers);
			return false;
		}
	}
	req->headers = headers;
	return req->url != NULL && p == end;
}

bool
ps_outbound_wire_next_frame(const PsOutboundWireResponse *head, const char *body,
							Size *offset, char *frame)
{
	Size		total = sizeof(*head) + head->body_len;
	Size		end = Min(*offset + PS_OUTBOUND_FRAME, total);
	Size		pos = *offset;
	char	   *out = frame;

	StaticAssertStmt(sizeof(PsOutboundWireResponse) < PS_OUTBOUND_FRAME,
					 "the head fits the first frame");
	memset(frame, 0, PS_OUTBOUND_FRAME);
	if (pos == 0)
	{
		memcpy(out, head, sizeof(*head));
		out += sizeof(*head);
		pos = sizeof(*head);
	}
	if (end > pos)
		memcpy(out, body + (pos - sizeof(*head)), end - pos);
	*offset = end;
	return end == total;
}

int
ps_outbound_wire_take_frame(PsOutboundWireReader *reader, const char *frame, Size len)
{
	PsOutboundWireResponse *head = &reader->head;
	const char *in = frame;
	Size		got;
	Size		n;

	if (len != PS_OUTBOUND_FRAME)
		return -1;
	if (reader->offset == 0)
	{
		memcpy(head, frame, sizeof(*head));
		if (head->body_len > reader->max_body || (!head->ok && head->body_len != 0))
			return -1;
		head->content_type[sizeof(head->content_type) - 1] = '\0';
		head->error[sizeof(head->error) - 1] = '\0';
		reader->body = palloc(head->body_len + 1);
		reader->body[head->body_len] = '\0';
		in += sizeof(*head);
		reader->offset = sizeof(*head);
	}
	got = reader->offset - sizeof(*head);
	n = Min(head->body_len - got, PS_OUTBOUND_FRAME - (Size) (in - frame));
	memcpy(reader->body + got, in, n);
	reader->offset += n;
	return got + n == head->body_len ? 1 : 0;
}
