/*
 * vault_parse.c: pure parsers of the Vault KV v2 dialect (docs/vault.md).
 *
 * Hostile input only: a path, a method name, a query value and a JSON body.
 * Segments are decoded once with the native parser's decoder; the reference
 * grammar of names is checked by the router (core/reference.c).
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <sodium.h>

#include "rest/vault_parse.h"

#define MAX_SEGMENTS 8

/* The first segments after /v1/ that the native REST dialect owns. */
static const char *const reserved_mounts[] = {
	"workspaces", "companies", "projects", "resolve", "openapi.json",
	"auth", "sys", "healthz", "metrics", NULL
};

PsVaultMethod
ps_vault_method_from_string(const char *method)
{
	if (method == NULL)
		return PS_VAULT_OTHER;
	if (strcmp(method, "GET") == 0)
		return PS_VAULT_GET;
	if (strcmp(method, "PUT") == 0)
		return PS_VAULT_PUT;
	if (strcmp(method, "POST") == 0)
		return PS_VAULT_POST;
	if (strcmp(method, "DELETE") == 0)
		return PS_VAULT_DELETE;
	if (strcmp(method, "LIST") == 0)
		return PS_VAULT_LIST_METHOD;
	return PS_VAULT_OTHER;
}

bool
ps_vault_mount_reserved(const char *name)
{
	int			i;

	if (name == NULL || name[0] == '\0' || strchr(name, '/') != NULL ||
		strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return true;
	for (i = 0; reserved_mounts[i]; i++)
		if (strcmp(name, reserved_mounts[i]) == 0)
			return true;
	return false;
}

/* Does p start with the segment name, followed by '/' or its end? */
static bool
segment_is(const char *p, const char *name)
{
	size_t		n = strlen(name);

	return strncmp(p, name, n) == 0 && (p[n] == '/' || p[n] == '\0');
}

/* Does path start with "/v1/<first>" followed by '/' or its end? */
static bool
first_is(const char *path, const char *first)
{
	return strncmp(path, "/v1/", 4) == 0 && segment_is(path + 4, first);
}

/*
 * "/v1/<x>/data/..." or "/v1/<x>/metadata/..." with <x> no native name: a
 * KV v2 path under a mount that is not provsecret.vault_mount, which a Vault
 * client should get Vault's 404 for, not the native one.
 */
static bool
kv_shaped(const char *path)
{
	const char *first;
	const char *slash;
	char		name[PS_REST_SEGMENT_MAX + 1];

	if (strncmp(path, "/v1/", 4) != 0)
		return false;
	first = path + 4;
	slash = strchr(first, '/');
	if (slash == NULL || (size_t) (slash - first) > PS_REST_SEGMENT_MAX)
		return false;
	memcpy(name, first, slash - first);
	name[slash - first] = '\0';
	if (ps_vault_mount_reserved(name))
		return false;
	return segment_is(slash + 1, "data") || segment_is(slash + 1, "metadata");
}

bool
ps_vault_claims(const char *path, const char *mount)
{
	if (path == NULL)
		return false;
	return first_is(path, "sys") || first_is(path, "auth") ||
		(mount != NULL && !ps_vault_mount_reserved(mount) && first_is(path, mount)) ||
		kv_shaped(path);
}

static void
fail(PsVaultMatch *m, int status, const char *error)
{
	m->status = status;
	m->error = error;
}

/*
 * Split the part after "/v1/" into decoded segments.  A trailing '/' gives
 * an empty last segment.  -1 on a bad segment or too many of them.
 */
static int
split(const char *rest, char seg[][PS_REST_SEGMENT_MAX + 1])
{
	int			n = 0;

	for (;;)
	{
		const char *slash = strchr(rest, '/');
		size_t		len = slash ? (size_t) (slash - rest) : strlen(rest);

		if (n == MAX_SEGMENTS)
			return -1;
		if (len == 0)
			seg[n][0] = '\0';
		else
		{
			long		got = ps_rest_percent_decode(rest, len, seg[n],
													 PS_REST_SEGMENT_MAX + 1);
			long		i;

			/* as the native parser: no '/' or control character once decoded */
			if (got < 0)
				return -1;
			for (i = 0; i < got; i++)
				if (seg[n][i] == '/' || (unsigned char) seg[n][i] < 0x20 ||
					seg[n][i] == 0x7f)
					return -1;
		}
		n++;
		if (slash == NULL)
			return n;
		rest = slash + 1;
	}
}

static bool
method_in(PsVaultMatch *m, int count,...)
{
	/* small, so a plain list of allowed methods reads best */
	va_list		ap;
	bool		found = false;
	int			i;

	va_start(ap, count);
	for (i = 0; i < count; i++)
		if ((PsVaultMethod) va_arg(ap, int) == m->method)
			found = true;
	va_end(ap);
	if (!found)
		fail(m, 405, "unsupported operation");
	return found;
}

void
ps_vault_match(const char *path, const char *method, const char *mount,
			   bool list_query, PsVaultMatch *m)
{
	char		seg[MAX_SEGMENTS][PS_REST_SEGMENT_MAX + 1];
	int			n;
	bool		list;

	memset(m, 0, sizeof(*m));
	m->method = ps_vault_method_from_string(method);
	if (path == NULL || strncmp(path, "/v1/", 4) != 0)
	{
		fail(m, 404, "no handler for route");
		return;
	}
	n = split(path + 4, seg);
	if (n < 0)
	{
		fail(m, 400, "malformed path segment");
		return;
	}
	if (m->method == PS_VAULT_OTHER)
	{
		fail(m, 405, "unsupported operation");
		return;
	}
	if (strcmp(seg[0], "sys") == 0)
	{
		if (n == 2 && strcmp(seg[1], "health") == 0)
		{
			m->route = PS_VAULT_HEALTH;
			(void) method_in(m, 1, PS_VAULT_GET);
		}
		else
			fail(m, 404, "no handler for route");
		return;
	}
	if (strcmp(seg[0], "auth") == 0)
	{
		if (n == 3 && strcmp(seg[1], "token") == 0 && strcmp(seg[2], "lookup-self") == 0)
		{
			m->route = PS_VAULT_LOOKUP_SELF;
			(void) method_in(m, 1, PS_VAULT_GET);
		}
		else if (n == 3 && strcmp(seg[1], "token") == 0 && strcmp(seg[2], "revoke-self") == 0)
		{
			m->route = PS_VAULT_REVOKE_SELF;
			(void) method_in(m, 2, PS_VAULT_PUT, PS_VAULT_POST);
		}
		else if (n == 3 && strcmp(seg[1], "jwt") == 0 && strcmp(seg[2], "login") == 0)
		{
			m->route = PS_VAULT_JWT_LOGIN;
			(void) method_in(m, 2, PS_VAULT_POST, PS_VAULT_PUT);
		}
		else
			fail(m, 404, "no handler for route");
		return;
	}
	if (mount == NULL || strcmp(seg[0], mount) != 0 || n < 2)
	{
		fail(m, 404, "no handler for route");
		return;
	}
	list = m->method == PS_VAULT_LIST_METHOD ||
		(m->method == PS_VAULT_GET && list_query);
	if (strcmp(seg[1], "metadata") == 0 && list &&
		(n == 4 || (n == 5 && seg[4][0] == '\0')))
	{
		if (strcmp(seg[2], "company") != 0 && strcmp(seg[2], "project") != 0)
		{
			fail(m, 404, "");
			return;
		}
		m->route = PS_VAULT_LIST;
		m->company = strcmp(seg[2], "company") == 0;
		strcpy(m->tenant, seg[3]);
		if (m->tenant[0] == '\0')
			fail(m, 400, "malformed path segment");
		return;
	}
	if (strcmp(seg[1], "data") != 0 && strcmp(seg[1], "metadata") != 0)
	{
		fail(m, 404, "no handler for route");
		return;
	}
	if (list)
	{
		/* a listing anywhere else has nothing under it */
		m->route = PS_VAULT_LIST;
		fail(m, 404, "");
		return;
	}
	if (n != 5 || (strcmp(seg[2], "company") != 0 && strcmp(seg[2], "project") != 0))
	{
		fail(m, 404, "no handler for route");
		return;
	}
	if (seg[3][0] == '\0' || seg[4][0] == '\0')
	{
		fail(m, 400, "malformed path segment");
		return;
	}
	m->company = strcmp(seg[2], "company") == 0;
	strcpy(m->tenant, seg[3]);
	strcpy(m->name, seg[4]);
	if (strcmp(seg[1], "data") == 0)
	{
		m->route = PS_VAULT_DATA;
		(void) method_in(m, 4, PS_VAULT_GET, PS_VAULT_PUT, PS_VAULT_POST,
						 PS_VAULT_DELETE);
	}
	else
	{
		m->route = PS_VAULT_METADATA;
		(void) method_in(m, 2, PS_VAULT_GET, PS_VAULT_DELETE);
	}
}

bool
ps_vault_parse_bool(const char *text)
{
	static const char *const yes[] = {"1", "t", "T", "true", "TRUE", "True"};

	if (text == NULL)
		return false;
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
	{
		if (strcmp(text, yes[i]) == 0)
			return true;
	}
	return false;
}

bool
ps_vault_parse_version(const char *text, int *version)
{
	long		v = 0;
	const char *p;

	if (text == NULL || *text == '\0' || strlen(text) > 9)
		return false;
	for (p = text; *p; p++)
	{
		if (*p < '0' || *p > '9')
			return false;
		v = v * 10 + (*p - '0');
	}
	*version = (int) v;			/* 0: the current version, as in Vault */
	return true;
}

static json_t *
parse_object(const char *data, size_t len)
{
	json_error_t err;
	json_t	   *root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &err);

	if (root != NULL && !json_is_object(root))
	{
		json_decref(root);
		return NULL;
	}
	return root;
}

const char *
ps_vault_parse_write(const char *data, size_t len, PsVaultWrite *out)
{
	json_t	   *root;
	json_t	   *d;
	json_t	   *v;
	json_t	   *options;
	const char *field;
	json_t	   *item;

	memset(out, 0, sizeof(*out));
	root = parse_object(data, len);
	if (root == NULL)
		return "failed to parse JSON input";
	out->root = root;
	json_object_foreach(root, field, item)
	{
		if (strcmp(field, "data") != 0 && strcmp(field, "options") != 0)
			return "only \"data\" and \"options\" are accepted";
	}
	d = json_object_get(root, "data");
	if (d == NULL || !json_is_object(d))
		return "no data provided";
	json_object_foreach(d, field, item)
	{
		if (strcmp(field, "key") != 0)
			return "only the field \"key\" is accepted";
	}
	v = json_object_get(d, "key");
	if (v == NULL || !json_is_string(v))
		return "data.key must be a string";
	out->value = json_string_value(v);
	out->value_len = json_string_length(v);
	if (out->value_len == 0)
		return "data.key must not be empty";
	if (ps_rest_utf8_length(out->value, out->value_len) > PS_REST_VALUE_MAX_CHARS)
		return "data.key is longer than 10,000 characters";
	options = json_object_get(root, "options");
	if (options != NULL && !json_is_null(options))
	{
		json_t	   *cas;

		if (!json_is_object(options))
			return "options must be an object";
		json_object_foreach(options, field, item)
		{
			if (strcmp(field, "cas") != 0)
				return "only the option \"cas\" is accepted";
		}
		cas = json_object_get(options, "cas");
		if (cas != NULL)
		{
			if (!json_is_integer(cas) || json_integer_value(cas) < 0)
				return "options.cas must be a non-negative integer";
			out->has_cas = true;
			out->cas = json_integer_value(cas);
		}
	}
	return NULL;
}

const char *
ps_vault_parse_login(const char *data, size_t len, const char **jwt,
					 void **root_out)
{
	json_t	   *root = parse_object(data, len);
	json_t	   *j;
	json_t	   *role;

	*jwt = NULL;
	*root_out = root;
	if (root == NULL)
		return "failed to parse JSON input";
	j = json_object_get(root, "jwt");
	if (j == NULL || !json_is_string(j) || json_string_length(j) == 0)
		return "missing jwt";
	role = json_object_get(root, "role");
	if (role != NULL && !json_is_string(role) && !json_is_null(role))
		return "role must be a string";
	*jwt = json_string_value(j);
	return NULL;
}

long long
ps_vault_jwt_exp(const char *jwt)
{
	const char *dot1;
	const char *dot2;
	unsigned char *payload;
	size_t		cap;
	size_t		len = 0;
	json_t	   *claims;
	json_t	   *exp;
	long long	result = 0;

	if (jwt == NULL || (dot1 = strchr(jwt, '.')) == NULL ||
		(dot2 = strchr(dot1 + 1, '.')) == NULL)
		return 0;
	cap = (size_t) (dot2 - dot1);
	payload = malloc(cap + 1);
	if (payload == NULL)
		return 0;
	if (sodium_base642bin(payload, cap, dot1 + 1, (size_t) (dot2 - dot1 - 1),
						  NULL, &len, NULL,
						  sodium_base64_VARIANT_URLSAFE_NO_PADDING) == 0)
	{
		claims = json_loadb((const char *) payload, len, 0, NULL);
		if (claims)
		{
			exp = json_object_get(claims, "exp");
			if (exp && json_is_integer(exp))
				result = json_integer_value(exp);
			else if (exp && json_is_real(exp))
				result = (long long) json_real_value(exp);
			json_decref(claims);
		}
	}
	free(payload);
	return result;
}
