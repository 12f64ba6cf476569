/*
 * resolver_kind_ops.h: what one external backend kind supplies, as an
 * operations table (one kind a file: kind_vault_kv2.c, kind_infisical.c,
 * kind_http_json.c), and the helpers they share from resolver_kinds.c.
 * Only the kind files and resolver_kinds.c include this; everyone else
 * goes through resolver_kinds.h.  Pure C: no postgres.h.
 */
#ifndef PROVSECRET_RESOLVER_KIND_OPS_H
#define PROVSECRET_RESOLVER_KIND_OPS_H

#include <stddef.h>
#include <jansson.h>

#include "external/resolver_kind_types.h"

/* One option: its key, the field of PsResolverOptions it fills, its rule. */
typedef enum PsOptionType
{
	PS_OPTION_INT,				/* an integer from min to max */
	PS_OPTION_BOOL,				/* true or false */
	PS_OPTION_STRING			/* a string that passes check */
} PsOptionType;

typedef struct PsOptionRule
{
	const char *key;
	PsOptionType type;
	size_t		offset;			/* of its field in PsResolverOptions */
	size_t		size;			/* of a string field, NUL included */
	int			min;
	int			max;
	bool		(*check) (const char *s, size_t max);
	const char *rule;			/* what a string must be, for the error */
	bool		always_shown;	/* in the canonical JSON even when 0/false/"" */
} PsOptionRule;

#define PS_OPTION_FIELD(field) \
	.offset = offsetof(PsResolverOptions, field), \
	.size = sizeof(((PsResolverOptions *) 0)->field)
#define PS_OPTION_INT_RULE(k, field, lo, hi, shown) \
	{.key = (k), .type = PS_OPTION_INT, PS_OPTION_FIELD(field), \
	 .min = (lo), .max = (hi), .always_shown = (shown)}
#define PS_OPTION_BOOL_RULE(k, field) \
	{.key = (k), .type = PS_OPTION_BOOL, PS_OPTION_FIELD(field)}
#define PS_OPTION_STRING_RULE(k, field, checker, text, shown) \
	{.key = (k), .type = PS_OPTION_STRING, PS_OPTION_FIELD(field), \
	 .check = (checker), .rule = (text), .always_shown = (shown)}

/* A growable string; on allocation failure, ok turns false. */
typedef struct PsKindBuf
{
	char	   *data;
	size_t		len;
	size_t		cap;
	bool		ok;
} PsKindBuf;

/*
 * One kind.  URLs are appended to a buffer that already holds the base URL
 * without its trailing slashes.
 */
typedef struct PsResolverKindOps
{
	PsResolverKind kind;
	const char *name;			/* as create_resolver takes it */

	/* the options of this kind, besides those every kind has */
	const PsOptionRule *options;
	size_t		n_options;
	/* a rule over the options once all are read; NULL: none */
	bool		(*options_check) (const PsResolverOptions *opts,
								  char *err, size_t errlen);

	/* the URL to GET for path (and field, "" when absent) */
	bool		(*read_url) (PsKindBuf *url, const PsResolverOptions *opts,
							 const char *path, const char *field,
							 char *err, size_t errlen);
	/* a response may be any JSON document, not only an object */
	bool		response_any_json;

	/*
	 * The value in a parsed response: MALFORMED when root is not the
	 * documented shape, else OK with *value the JSON there (NULL: nothing).
	 */
	PsExtractResult (*extract) (json_t *root, const PsResolverOptions *opts,
								const char *field, json_t **value);

	/*
	 * A write of path (already checked as a segment path): its URL, method
	 * and the JSON to send (*body NULL: none).  false when a body it needs
	 * could not be made.  NULL for a read-only kind.
	 */
	bool		(*write_request) (PsKindBuf *url, const PsResolverOptions *opts,
								  const char *path, PsWriteOp op,
								  const char *value, size_t value_len,
								  const char **method, json_t **body);
	/*
	 * The write to try instead after op answered status (the metadata and
	 * the backend disagree); NULL or false: none.
	 */
	bool		(*write_retry) (PsWriteOp op, long status, PsWriteOp *instead);
	/* a DELETE answers 404 for a secret that is not there */
	bool		delete_tells_missing;

	/* the header line with the token: this prefix, then the token */
	const char *token_header;
	/* another header line every request carries; NULL or false: none */
	bool		(*request_header) (const PsResolverOptions *opts, char *line,
								   size_t len);
	/*
	 * The resolver logs in for its token (ps_resolver_login_request) rather
	 * than sending its auth_reference; NULL: never.
	 */
	bool		(*logs_in) (const PsResolverOptions *opts);
	/* where extract looks, for errors (at most PS_RESOLVER_LOCATION_MAX) */
	void		(*value_location) (const PsResolverOptions *opts,
								   const char *field, char *buf, size_t len);
} PsResolverKindOps;

extern const PsResolverKindOps ps_kind_vault_kv2;
extern const PsResolverKindOps ps_kind_infisical;
extern const PsResolverKindOps ps_kind_http_json;

/* Character rules of options and paths (ASCII whatever the locale). */
extern bool ps_kind_is_ascii_alnum(unsigned char c);
extern bool ps_kind_is_segment_path(const char *s, size_t max);
extern bool ps_kind_is_token(const char *s, size_t max, const char *extra);
extern bool ps_kind_is_pointer(const char *s, size_t max);

/* Building URLs. */
extern void ps_kind_buf_add(PsKindBuf *b, const char *s, size_t n);
extern void ps_kind_buf_str(PsKindBuf *b, const char *s);
extern void ps_kind_buf_encoded(PsKindBuf *b, const char *s, size_t n,
								bool keep_slash);

/* RFC 6901 evaluation; NULL when the pointer names nothing. */
extern json_t *ps_kind_pointer_get(json_t *root, const char *pointer);

/* The JSON text of o, then o freed (its strings, the value among them). */
extern char *ps_kind_dump_body(json_t *o, size_t *len);

#endif
