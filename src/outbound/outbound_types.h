/*
 * outbound_types.h: one outbound HTTP request and its response, as every
 * part of the outbound layer passes them around: the callers' entry points
 * (outbound.h), the messages to and from the outbound worker
 * (outbound_wire.h, outbound_ipc.h, outbound_serve.h) and the engine that
 * makes the call (outbound_engine.h).  Types only: this header sits at the
 * bottom of the layer and includes none of its other headers.
 */
#ifndef PROVSECRET_OUTBOUND_TYPES_H
#define PROVSECRET_OUTBOUND_TYPES_H

#include "postgres.h"

typedef struct PsOutboundRequest
{
	const char *url;
	const char *const *headers; /* NULL-terminated "Name: value" list, or NULL */
	int			connect_timeout_ms;
	int			total_timeout_ms;
	size_t		max_response_bytes;
	const char *method;			/* "PUT", "POST", "PATCH", "DELETE"; NULL: GET */
	const char *body;			/* request body, or NULL; the caller wipes it;
								 * JSON unless headers name a Content-Type */
	size_t		body_len;
	const char *ca_file;		/* PEM CA bundle trusted instead of the
								 * system's, or NULL; verification stays on */
	bool		operator_url;	/* a URL only a superuser sets (the JWKS):
								 * not bound by outbound_allowed_hosts */
} PsOutboundRequest;

typedef struct PsOutboundResponse
{
	long		status;			/* HTTP status; 0 when no response came */
	char	   *body;			/* palloc'd, NUL-terminated */
	size_t		body_len;
	char		content_type[128];	/* "" when the server sent none */
	char		error[256];		/* why ps_outbound_get returned false */
} PsOutboundResponse;

#endif
