/*
 * reference.c: parser of references and tenant targets (README, References).
 *
 * Pure C over bytes: no allocation, no backend state.  Every rejection
 * returns a sentence naming the rule so callers can report it without
 * echoing hostile input.
 */
#include <stdio.h>
#include <string.h>

#include "core/reference.h"

static bool
is_alnum(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		(c >= '0' && c <= '9');
}

bool
ps_name_is_valid(const char *s, size_t len)
{
	if (len == 0 || len > PS_NAME_MAX || !is_alnum((unsigned char) s[0]))
		return false;
	for (size_t i = 1; i < len; i++)
	{
		unsigned char c = (unsigned char) s[i];

		if (!is_alnum(c) && c != '_' && c != '.' && c != '-')
			return false;
	}
	return true;
}

/* [A-Z_][A-Z0-9_]{0,127} */
static bool
env_name_is_valid(const char *s, size_t len)
{
	if (len == 0 || len > PS_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) s[i];
		bool		upper = (c >= 'A' && c <= 'Z') || c == '_';

		if (!upper && !(i > 0 && c >= '0' && c <= '9'))
			return false;
	}
	return true;
}

/* 1-512 printable ASCII characters, no ".." segment. */
static const char *
check_path(const char *s, size_t len)
{
	size_t		segment_start = 0;

	if (len == 0)
		return "the path of an external: reference must not be empty";
	if (len > PS_PATH_MAX)
		return "the path of an external: reference must be at most 512 characters";
	for (size_t i = 0; i <= len; i++)
	{
		if (i == len || s[i] == '/')
		{
			if (i - segment_start == 2 && s[segment_start] == '.' &&
				s[segment_start + 1] == '.')
				return "the path of an external: reference must not contain a \"..\" segment";
			segment_start = i + 1;
			continue;
		}
		if ((unsigned char) s[i] < 0x20 || (unsigned char) s[i] > 0x7e)
			return "the path of an external: reference must be printable ASCII without control characters";
	}
	return NULL;
}

static void
copy_part(char *dst, const char *src, size_t len)
{
	memcpy(dst, src, len);
	dst[len] = '\0';
}

static bool
has_prefix(const char *s, size_t len, const char *prefix, size_t *prefix_len)
{
	*prefix_len = strlen(prefix);
	return len >= *prefix_len && memcmp(s, prefix, *prefix_len) == 0;
}

const char *
ps_target_parse(const char *input, size_t len, PsTarget *out)
{
	size_t		plen;
	const char *rest;
	size_t		rest_len;

	memset(out, 0, sizeof(*out));
	if (input == NULL || len == 0)
		return "a target must not be empty";
	if (memchr(input, '\0', len) != NULL)
		return "a target must not contain a NUL byte";
	if (has_prefix(input, len, "company/", &plen))
		out->scope = PS_SCOPE_COMPANY;
	else if (has_prefix(input, len, "project/", &plen))
		out->scope = PS_SCOPE_PROJECT;
	else
		return "a target must be company/<company> or project/<project>";
	rest = input + plen;
	rest_len = len - plen;
	if (!ps_name_is_valid(rest, rest_len))
		return "a company or project name must match [A-Za-z0-9][A-Za-z0-9_.-]{0,127}";
	copy_part(out->owner, rest, rest_len);
	return NULL;
}

static const char *
parse_managed(const char *s, size_t len, PsReference *out)
{
	PsTarget	target;
	const char *slash;
	size_t		owner_len;
	const char *err;

	/* the target is everything up to the last '/' */
	slash = NULL;
	for (size_t i = len; i > 0; i--)
	{
		if (s[i - 1] == '/')
		{
			slash = s + i - 1;
			break;
		}
	}
	if (slash == NULL)
		return "a managed: reference must be managed:company/<company>/<name> or managed:project/<project>/<name>";
	owner_len = (size_t) (slash - s);
	err = ps_target_parse(s, owner_len, &target);
	if (err != NULL)
	{
		if (strchr(err, '[') != NULL)
			return err;
		return "a managed: reference must be managed:company/<company>/<name> or managed:project/<project>/<name>";
	}
	if (!ps_name_is_valid(slash + 1, len - owner_len - 1))
		return "a secret name must match [A-Za-z0-9][A-Za-z0-9_.-]{0,127}";
	out->kind = PS_REF_MANAGED;
	out->scope = target.scope;
	memcpy(out->owner, target.owner, sizeof(out->owner));
	copy_part(out->name, slash + 1, len - owner_len - 1);
	return NULL;
}

static const char *
parse_external(const char *s, size_t len, PsReference *out)
{
	const char *slash = memchr(s, '/', len);
	const char *hash;
	size_t		resolver_len;
	size_t		path_len;
	size_t		field_len = 0;
	const char *err;

	if (slash == NULL)
		return "an external: reference must be external:<resolver>/<path>";
	resolver_len = (size_t) (slash - s);
	if (!ps_name_is_valid(s, resolver_len))
		return "a resolver name must match [A-Za-z0-9][A-Za-z0-9_.-]{0,127}";
	path_len = len - resolver_len - 1;
	hash = memchr(slash + 1, '#', path_len);
	if (hash != NULL)
	{
		field_len = path_len - (size_t) (hash - slash - 1) - 1;
		path_len = (size_t) (hash - slash - 1);
		if (!ps_name_is_valid(hash + 1, field_len))
			return "the #field of an external: reference must match [A-Za-z0-9][A-Za-z0-9_.-]{0,127}";
	}
	err = check_path(slash + 1, path_len);
	if (err != NULL)
		return err;
	out->kind = PS_REF_EXTERNAL;
	copy_part(out->owner, s, resolver_len);
	copy_part(out->path, slash + 1, path_len);
	if (hash != NULL)
		copy_part(out->field, hash + 1, field_len);
	return NULL;
}

const char *
ps_reference_parse(const char *input, size_t len, PsReference *out)
{
	size_t		plen;

	memset(out, 0, sizeof(*out));
	if (input == NULL || len == 0)
		return "a reference must not be empty";
	if (len > PS_REFERENCE_MAX)
		return "a reference is too long";
	if (memchr(input, '\0', len) != NULL)
		return "a reference must not contain a NUL byte";
	if (has_prefix(input, len, "managed:", &plen))
		return parse_managed(input + plen, len - plen, out);
	if (has_prefix(input, len, "env:", &plen))
	{
		if (!env_name_is_valid(input + plen, len - plen))
			return "an env: name must match [A-Z_][A-Z0-9_]{0,127}";
		out->kind = PS_REF_ENV;
		copy_part(out->name, input + plen, len - plen);
		return NULL;
	}
	if (has_prefix(input, len, "external:", &plen))
		return parse_external(input + plen, len - plen, out);
	return "a reference must start with managed:, env: or external:";
}

const char *
ps_scope_name(PsScope scope)
{
	return scope == PS_SCOPE_COMPANY ? "company" : "project";
}

void
ps_own_company(const char *project, char *buf, size_t buflen)
{
	snprintf(buf, buflen, "%c%s", PS_OWN_COMPANY_PREFIX, project);
}

bool
ps_company_is_own(const char *company)
{
	return company != NULL && company[0] == PS_OWN_COMPANY_PREFIX;
}

/*
 * Concatenate parts into buf, truncating as snprintf would.  resolve
 * formats every reference it is given: this is a tenth of snprintf's cost.
 */
static void
join_parts(char *buf, size_t buflen, const char *const *parts, int nparts)
{
	size_t		at = 0;
	int			i;

	if (buflen == 0)
		return;
	for (i = 0; i < nparts && at < buflen - 1; i++)
	{
		size_t		len = strlen(parts[i]);

		if (len > buflen - 1 - at)
			len = buflen - 1 - at;
		memcpy(buf + at, parts[i], len);
		at += len;
	}
	buf[at] = '\0';
}

void
ps_reference_format(const PsReference *ref, char *buf, size_t buflen)
{
	const char *parts[6];
	int			n = 0;

	switch (ref->kind)
	{
		case PS_REF_MANAGED:
			parts[n++] = "managed:";
			parts[n++] = ps_scope_name(ref->scope);
			parts[n++] = "/";
			parts[n++] = ref->owner;
			parts[n++] = "/";
			parts[n++] = ref->name;
			break;
		case PS_REF_ENV:
			parts[n++] = "env:";
			parts[n++] = ref->name;
			break;
		case PS_REF_EXTERNAL:
			parts[n++] = "external:";
			parts[n++] = ref->owner;
			parts[n++] = "/";
			parts[n++] = ref->path;
			if (ref->field[0])
			{
				parts[n++] = "#";
				parts[n++] = ref->field;
			}
			break;
	}
	join_parts(buf, buflen, parts, n);
}
