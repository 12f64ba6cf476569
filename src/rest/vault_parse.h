/*
 * vault_parse.h: pure parsers of the Vault KV v2 dialect (docs/vault.md):
 * paths, methods and bodies.  No backend state and no postgres.h, so they
 * can be unit-tested and fuzzed outside a server.
 */
#ifndef PROVSECRET_VAULT_PARSE_H
#define PROVSECRET_VAULT_PARSE_H

#include <stdbool.h>
#include <stddef.h>

#include "rest/rest_parse.h"

typedef enum PsVaultRoute
{
	PS_VAULT_NONE = 0,			/* not a Vault path: the native router's */
	PS_VAULT_HEALTH,			/* GET /v1/sys/health */
	PS_VAULT_LOOKUP_SELF,		/* GET /v1/auth/token/lookup-self */
	PS_VAULT_REVOKE_SELF,		/* PUT /v1/auth/token/revoke-self (no effect) */
	PS_VAULT_JWT_LOGIN,			/* POST /v1/auth/jwt/login */
	PS_VAULT_DATA,				/* /v1/{mount}/data/{scope}/{tenant}/{name} */
	PS_VAULT_METADATA,			/* /v1/{mount}/metadata/{scope}/{tenant}/{name} */
	PS_VAULT_LIST				/* LIST /v1/{mount}/metadata/{scope}/{tenant}/ */
} PsVaultRoute;

typedef enum PsVaultMethod
{
	PS_VAULT_GET,
	PS_VAULT_PUT,
	PS_VAULT_POST,
	PS_VAULT_DELETE,
	PS_VAULT_LIST_METHOD,
	PS_VAULT_OTHER
} PsVaultMethod;

typedef struct PsVaultMatch
{
	PsVaultRoute route;
	PsVaultMethod method;
	int			status;			/* 0, or the 400/404/405 to answer */
	const char *error;			/* static message when status != 0 */
	bool		company;		/* scope "company" (else "project") */
	char		tenant[PS_REST_SEGMENT_MAX + 1];
	char		name[PS_REST_SEGMENT_MAX + 1];
} PsVaultMatch;

extern PsVaultMethod ps_vault_method_from_string(const char *method);

/*
 * Is this raw path one the Vault dialect answers (/v1/sys/..., /v1/auth/...,
 * /v1/{mount}/...)?  The mount is never a native /v1/ name, so the two
 * dialects never claim the same path.
 */
extern bool ps_vault_claims(const char *path, const char *mount);

/*
 * Match a claimed path.  list_query is "?list=true".  Always fills *m;
 * m->status says what to answer when the path, scope, segment or method is
 * not one the dialect serves.
 */
extern void ps_vault_match(const char *path, const char *method,
						   const char *mount, bool list_query,
						   PsVaultMatch *m);

/* Is name refused as a mount (a native /v1/ name, empty, or with '/')? */
extern bool ps_vault_mount_reserved(const char *name);

/*
 * A query flag as Vault reads it (Go's strconv.ParseBool): "1", "t", "T",
 * "true", "TRUE", "True" are true (node-vault sends ?list=1); anything else,
 * or NULL, is false.
 */
extern bool ps_vault_parse_bool(const char *text);

/*
 * "?version=N": N >= 0 into *version (0: the current one, as in Vault);
 * false for anything else.
 */
extern bool ps_vault_parse_version(const char *text, int *version);

typedef struct PsVaultWrite
{
	const char *value;			/* data.key, points into root */
	size_t		value_len;
	bool		has_cas;
	long long	cas;
	void	   *root;			/* json_t *, owned by the caller */
} PsVaultWrite;

/*
 * {"data":{"key":VALUE},"options":{"cas":N}?}.  NULL on success, else a
 * static message for a 400 (never quoting input).
 */
extern const char *ps_vault_parse_write(const char *data, size_t len,
										PsVaultWrite *out);

/* {"jwt":..., "role"?}: *jwt points into *root. */
extern const char *ps_vault_parse_login(const char *data, size_t len,
										const char **jwt, void **root);

/*
 * The "exp" claim of a JWT's payload, read without verification (call it
 * only on a token already verified); 0 when absent or unreadable.
 */
extern long long ps_vault_jwt_exp(const char *jwt);

#endif
