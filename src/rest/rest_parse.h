/*
 * rest_parse.h: pure parsers of hostile REST input (paths, request ids, JSON
 * bodies).  No backend state and no postgres.h, so they can be unit-tested
 * and fuzzed outside a server.
 */
#ifndef PROVSECRET_REST_PARSE_H
#define PROVSECRET_REST_PARSE_H

#include <stdbool.h>
#include <stddef.h>

/* Longest decoded path segment we look at; longer is a 400. */
#define PS_REST_SEGMENT_MAX 256
/* Longest secret value, in characters (UTF-8 code points). */
#define PS_REST_VALUE_MAX_CHARS 10000
#define PS_REST_REQUEST_ID_MAX 64

typedef enum PsRestMethod
{
	PS_METHOD_GET = 1,
	PS_METHOD_PUT = 2,
	PS_METHOD_DELETE = 4,
	PS_METHOD_POST = 8,
	PS_METHOD_HEAD = 16,
	PS_METHOD_OTHER = 32
} PsRestMethod;

/* Routes; the order is the order of the metrics labels. */
typedef enum PsRestRoute
{
	PS_ROUTE_NONE = 0,			/* unknown path: 404 */
	PS_ROUTE_HEALTHZ,
	PS_ROUTE_METRICS,
	PS_ROUTE_OPENAPI,
	PS_ROUTE_WORKSPACE_SECRETS,	/* /v1/workspaces/{ws}/secrets */
	PS_ROUTE_WORKSPACE_SECRET,	/* /v1/workspaces/{ws}/secrets/{key} */
	PS_ROUTE_COMPANY_PROVIDERS,	/* /v1/companies/{c}/provider-secrets */
	PS_ROUTE_COMPANY_PROVIDER,	/* .../{provider} */
	PS_ROUTE_PROJECT_PROVIDERS,	/* /v1/projects/{p}/provider-secrets */
	PS_ROUTE_PROJECT_PROVIDER,	/* .../{provider} */
	PS_ROUTE_RESOLVE,			/* POST /v1/resolve */
	PS_ROUTE_READYZ,			/* GET /readyz */
	PS_ROUTE_COUNT
} PsRestRoute;

typedef enum PsRestMatchStatus
{
	PS_MATCH_OK,
	PS_MATCH_NOT_FOUND,			/* 404 */
	PS_MATCH_METHOD_NOT_ALLOWED,	/* 405, see allowed */
	PS_MATCH_BAD_SEGMENT		/* 400: undecodable, NUL, '/', overlong */
} PsRestMatchStatus;

typedef struct PsRestMatch
{
	PsRestRoute route;
	int			allowed;		/* PsRestMethod bits the route accepts */
	char		owner[PS_REST_SEGMENT_MAX + 1];	/* ws, company or project */
	char		name[PS_REST_SEGMENT_MAX + 1];	/* key or provider */
} PsRestMatch;

extern PsRestMethod ps_rest_method_from_string(const char *method);
extern const char *ps_rest_route_label(PsRestRoute route);

/* "GET, PUT" for an Allow header; buf must hold 40 bytes. */
extern void ps_rest_allow_header(int allowed, char *buf, size_t size);

/*
 * Match a raw (still percent-encoded) path; segments are decoded exactly
 * once.  A decoded segment with '/', NUL or a control character, a bad
 * escape, or more than PS_REST_SEGMENT_MAX bytes gives PS_MATCH_BAD_SEGMENT.
 */
extern PsRestMatchStatus ps_rest_match(const char *path, PsRestMethod method,
									   PsRestMatch *match);

/* Decode one segment; -1 on a bad escape, NUL or overflow. */
extern long ps_rest_percent_decode(const char *in, size_t len,
								   char *out, size_t size);

/* Is this a client request id we echo: 1-64 chars of [A-Za-z0-9._-]? */
extern bool ps_rest_request_id_valid(const char *id);

/* Number of code points of valid UTF-8, or -1 when invalid. */
extern long ps_rest_utf8_length(const char *s, size_t len);

/*
 * Body parsing.  Strings point into the json object kept in *root (the
 * caller json_decref()s it); unknown fields are ignored.
 */
typedef struct PsRestBody
{
	const char *value;			/* "value" / "credentialValue" */
	size_t		value_len;
	const char *description;	/* NULL when absent or null */
	const char *reference;		/* "reference" */
	void	   *root;			/* json_t *, owned by the caller */
} PsRestBody;

typedef enum PsRestBodyField
{
	PS_BODY_VALUE,				/* {"value", "description"?} */
	PS_BODY_CREDENTIAL_VALUE,	/* {"credentialValue", "description"?} */
	PS_BODY_REFERENCE			/* {"reference"} */
} PsRestBodyField;

/*
 * Parse a JSON object body.  Returns NULL on success, else a static message
 * for a 400 (never containing input bytes).
 */
extern const char *ps_rest_parse_body(const char *data, size_t len,
									  PsRestBodyField kind, PsRestBody *out);

/*
 * Allocator that wipes every block when freeing it (it records the size in
 * front of the block).  Installed for jansson in the worker, so JSON holding
 * a secret value never leaves plaintext in freed heap memory.
 */
extern void *ps_rest_secure_malloc(size_t size);
extern void ps_rest_secure_free(void *ptr);
extern void ps_rest_json_use_secure_alloc(void);

/*
 * If-Match (RFC 9110, 13.1.1): "*", or a list of entity-tags; ours are the
 * strong tags "<value_version>".  PS_IF_MATCH_STAR for "*";
 * PS_IF_MATCH_VERSION with *version for one strong tag of a version;
 * PS_IF_MATCH_NOTHING when no tag listed can match (weak tags, which the
 * strong comparison never matches, or tags that are not a version).
 * Returns NULL, or the message of a 400 for a malformed header or one
 * naming more than one version.
 */
typedef enum PsIfMatch
{
	PS_IF_MATCH_STAR,
	PS_IF_MATCH_VERSION,
	PS_IF_MATCH_NOTHING
} PsIfMatch;

extern const char *ps_rest_parse_if_match(const char *header, PsIfMatch *kind,
										  long *version);

#endif
