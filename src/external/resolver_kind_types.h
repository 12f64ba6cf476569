/*
 * resolver_kind_types.h: the data of the external backend kinds: the kinds,
 * a resolver's options, and what extraction and writes answer.  The
 * functions over them are in resolver_kinds.h; what one kind supplies is in
 * resolver_kind_ops.h.
 */
#ifndef PROVSECRET_RESOLVER_KIND_TYPES_H
#define PROVSECRET_RESOLVER_KIND_TYPES_H

#include <stdbool.h>

typedef enum PsResolverKind
{
	PS_KIND_VAULT_KV2 = 1,
	PS_KIND_INFISICAL,
	PS_KIND_HTTP_JSON
} PsResolverKind;

#define PS_RESOLVER_TIMEOUT_DEFAULT 5000	/* ms */
#define PS_RESOLVER_TIMEOUT_MIN 100
#define PS_RESOLVER_TIMEOUT_MAX 60000
#define PS_RESOLVER_TTL_MAX 86400	/* s */
#define PS_RESOLVER_BREAKER_FAILURES 5
#define PS_RESOLVER_BREAKER_COOLDOWN 30 /* s */
#define PS_RESOLVER_RESPONSE_MAX (1024 * 1024)
#define PS_WRITE_PATH_MAX 400	/* a project and a secret name, with room */
#define PS_CA_FILE_MAX 1024
#define PS_VAULT_VERSION_MAX 1000000000

typedef struct PsResolverOptions
{
	char		mount[129];		/* vault-kv2 */
	char		vault_namespace[129];	/* vault-kv2, "" when unset */
	int			vault_version;	/* vault-kv2: read this version; 0 latest */
	bool		soft_delete;	/* vault-kv2: delete the latest version only */
	char		project_id[129];	/* infisical */
	char		environment[65];	/* infisical */
	char		client_id[129]; /* infisical universal-auth; "" service token */
	char		pointer[257];	/* http-json, RFC 6901 */
	int			timeout_ms;
	int			cache_ttl_s;
	int			breaker_failures;	/* consecutive failures that open it; 0 off */
	int			breaker_cooldown_s;
	char		ca_file[PS_CA_FILE_MAX + 1];	/* absolute path; "" system CAs */
} PsResolverOptions;

typedef enum PsExtractResult
{
	PS_EXTRACT_OK,
	PS_EXTRACT_MALFORMED,		/* not JSON, or not the documented shape */
	PS_EXTRACT_MISSING,			/* the field or pointer names nothing */
	PS_EXTRACT_NOT_STRING		/* it names something that is not a string */
} PsExtractResult;

/* Writes to the backend of a workspace bound with bind_workspace. */
typedef enum PsWriteOp
{
	PS_WRITE_CREATE,
	PS_WRITE_UPDATE,
	PS_WRITE_DELETE
} PsWriteOp;

#endif
