/*
 * resolver_kinds.h: the three external backend protocols (vault-kv2,
 * infisical, http-json; README, External resolvers) as pure functions over
 * bytes: option checks, the URL of a secret, and the value inside a
 * response.  No backend state, so they are unit-tested and fuzzable outside
 * a server.  Each kind is an operations table in a file of its own
 * (resolver_kind_ops.h); these functions pick the kind's and call it.
 *
 * Nothing here quotes a response or a value in an error; option values are
 * quoted only when they passed their character rules.
 */
#ifndef PROVSECRET_RESOLVER_KINDS_H
#define PROVSECRET_RESOLVER_KINDS_H

#include <stdbool.h>
#include <stddef.h>

#include "external/resolver_kind_types.h"

/* "vault-kv2" etc. to the enum; false for an unknown name. */
extern bool ps_resolver_kind_parse(const char *name, PsResolverKind *kind);
extern const char *ps_resolver_kind_name(PsResolverKind kind);

/*
 * Check an options object (JSON text) for kind and fill *out, defaults
 * included.  false with err set to the rule broken.
 */
extern bool ps_resolver_options_parse(PsResolverKind kind, const char *json,
									  size_t len, PsResolverOptions *out,
									  char *err, size_t errlen);

/* The options as canonical JSON (sorted keys, defaults shown); malloc'd. */
extern char *ps_resolver_options_json(PsResolverKind kind,
									  const PsResolverOptions *opts);

/*
 * The URL to GET for path (and field, "" when absent) under base_url;
 * malloc'd.  NULL with err set when the reference does not fit the kind.
 */
extern char *ps_resolver_url(PsResolverKind kind, const PsResolverOptions *opts,
							 const char *base_url, const char *path,
							 const char *field, char *err, size_t errlen);

/*
 * The secret value inside a 2xx response body.  On PS_EXTRACT_OK, *value is
 * malloc'd and NUL-terminated; the caller wipes and frees it.  jansson's own
 * copies are wiped by the allocator _PG_init installs
 * (ps_rest_json_use_secure_alloc).
 */
extern PsExtractResult ps_resolver_extract(PsResolverKind kind,
										   const PsResolverOptions *opts,
										   const char *field,
										   const char *body, size_t len,
										   char **value, size_t *value_len);

/*
 * URL (malloc'd), method and JSON body of a write of path's value:
 * vault-kv2 POST {"data":{"value":…}} to {base}/v1/{mount}/data/{path};
 * its delete is DELETE {base}/v1/{mount}/metadata/{path} (every version,
 * for good) or, with soft_delete, DELETE …/data/{path}; infisical POST (create) / PATCH (update) / DELETE
 * {base}/api/v3/secrets/raw/{name} with workspaceId, environment,
 * secretPath (and secretValue).  *body is NULL when none is sent, else the
 * caller hands it to ps_resolver_free_body.  false with err set for an
 * http-json resolver (read-only) or a path that cannot be written.
 */
extern bool ps_resolver_write_request(PsResolverKind kind,
									  const PsResolverOptions *opts,
									  const char *base_url, const char *path,
									  PsWriteOp op, const char *value,
									  size_t value_len, char **url,
									  const char **method, char **body,
									  size_t *body_len, char *err,
									  size_t errlen);

/* Whether the backends of kind can be written (http-json: read-only). */
extern bool ps_resolver_writable(PsResolverKind kind);

/*
 * After a write op answered status: the write to try instead, when the
 * bound_secret metadata and the backend disagree (infisical: a create of a
 * secret that is there answers 400 or 409, an update of one that is not
 * 404).  false: none.
 */
extern bool ps_resolver_write_retry(PsResolverKind kind, PsWriteOp op,
									long status, PsWriteOp *instead);

/* Whether a DELETE answers 404 for a secret that is not there (Vault: 204). */
extern bool ps_resolver_delete_tells_missing(PsResolverKind kind);

/*
 * The header line that carries a token is this prefix, then the token
 * ("X-Vault-Token: ", "Authorization: Bearer ").
 */
extern const char *ps_resolver_token_header(PsResolverKind kind);

/*
 * Another header line every request of the resolver carries (vault-kv2:
 * X-Vault-Namespace) into line; false when there is none.
 */
extern bool ps_resolver_request_header(PsResolverKind kind,
									   const PsResolverOptions *opts,
									   char *line, size_t len);

/*
 * Whether the resolver logs in for its token (infisical with client_id:
 * universal-auth, below) rather than sending its auth_reference as the token.
 */
extern bool ps_resolver_logs_in(PsResolverKind kind,
								const PsResolverOptions *opts);

/*
 * Where ps_resolver_extract looks for the value of path#field, for errors
 * ("data.data.value", "secret.secretValue", a JSON pointer), into buf of
 * PS_RESOLVER_LOCATION_MAX; and whether any JSON document is a response of
 * the kind's shape (http-json) rather than only its documented object.
 */
#define PS_RESOLVER_LOCATION_MAX 320
extern void ps_resolver_value_location(PsResolverKind kind,
									   const PsResolverOptions *opts,
									   const char *field, char *buf,
									   size_t len);
extern bool ps_resolver_response_any_json(PsResolverKind kind);

/* Wipe and free a body from ps_resolver_write_request (it holds a value). */
extern void ps_resolver_free_body(char *body, size_t len);

/*
 * Infisical universal-auth: the login URL (malloc'd) and JSON body
 * {"clientId","clientSecret"} (for ps_resolver_free_body).  false with err
 * set when the secret cannot be sent as JSON.
 */
extern bool ps_resolver_login_request(const PsResolverOptions *opts,
									  const char *base_url,
									  const char *client_secret,
									  size_t secret_len, char **url,
									  char **body, size_t *body_len,
									  char *err, size_t errlen);

/*
 * The accessToken and expiresIn (seconds; -1 when absent or not a positive
 * integer) of a 2xx login response.  On PS_EXTRACT_OK, *token is malloc'd
 * and NUL-terminated; the caller wipes and frees it.
 */
extern PsExtractResult ps_resolver_login_parse(const char *body, size_t len,
											   char **token, size_t *token_len,
											   long *expires_in);

#endif
