/*
 * outbound_policy.c: which hosts and addresses an outbound call may reach
 * (provsecret.outbound_allowed_hosts; the rules are in outbound_policy.h
 * and docs/DESIGN.md, "External resolvers").
 */
#include "postgres.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <curl/curl.h>

#include "postmaster/postmaster.h"
#include "utils/guc.h"

#include "outbound/outbound_policy.h"

#define POLICY_MAX_ENTRIES 64
#define ALLOWLIST_NAME "provsecret.outbound_allowed_hosts"

/* An address: IPv4 in the first 4 bytes, or IPv6. */
typedef struct PolicyAddr
{
	int			family;			/* AF_INET, AF_INET6 */
	unsigned char bytes[16];
} PolicyAddr;

typedef struct PolicyEntry
{
	bool		is_addr;
	PolicyAddr	addr;
	char		name[256];		/* lower case, no trailing dot */
	int			port;			/* 0: any */
} PolicyEntry;

typedef struct PolicyList
{
	int			n;
	PolicyEntry entries[POLICY_MAX_ENTRIES];
} PolicyList;

char	   *ps_outbound_allowed_hosts = NULL;
static const PolicyList *allowed = NULL;

typedef enum AddrClass
{
	ADDR_PUBLIC,
	ADDR_LOOPBACK,
	ADDR_UNSPECIFIED,
	ADDR_PRIVATE,
	ADDR_LINK_LOCAL,
	ADDR_RESERVED
} AddrClass;

static const char *const class_names[] = {
	[ADDR_PUBLIC] = "a public",
	[ADDR_LOOPBACK] = "a loopback",
	[ADDR_UNSPECIFIED] = "an unspecified (0.0.0.0 or ::)",
	[ADDR_PRIVATE] = "a private",
	[ADDR_LINK_LOCAL] = "a link-local",
	[ADDR_RESERVED] = "a reserved or special-purpose",
};

/* IPv4 embedded in IPv6 (mapped, compatible, NAT64, 6to4) becomes IPv4. */
static void
addr_normalize(PolicyAddr *a)
{
	static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	static const unsigned char zero[12] = {0};
	static const unsigned char nat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
	const unsigned char *b = a->bytes;

	if (a->family != AF_INET6)
		return;
	if (memcmp(b, mapped, 12) == 0 || memcmp(b, nat64, 12) == 0 ||
		(memcmp(b, zero, 12) == 0 && (b[12] | b[13] | b[14]) != 0))
	{
		memmove(a->bytes, b + 12, 4);
		a->family = AF_INET;
	}
	else if (b[0] == 0x20 && b[1] == 0x02)	/* 6to4: 2002:a.b.c.d::/48 */
	{
		memmove(a->bytes, b + 2, 4);
		a->family = AF_INET;
	}
	if (a->family == AF_INET)
		memset(a->bytes + 4, 0, 12);
}

static bool
addr_from_text(const char *text, PolicyAddr *a)
{
	struct in_addr a4;

	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET6, text, a->bytes) == 1)
		a->family = AF_INET6;
	/* inet_aton takes every IPv4 form curl does (127.1, 0x7f.1, 2130706433) */
	else if (strspn(text, "0123456789abcdefABCDEFxX.") == strlen(text) &&
			 inet_aton(text, &a4) != 0)
	{
		memcpy(a->bytes, &a4, 4);
		a->family = AF_INET;
	}
	else
		return false;
	addr_normalize(a);
	return true;
}

static bool
addr_from_sockaddr(const struct sockaddr *sa, PolicyAddr *a, int *port)
{
	memset(a, 0, sizeof(*a));
	if (sa->sa_family == AF_INET)
	{
		const struct sockaddr_in *s4 = (const struct sockaddr_in *) sa;

		memcpy(a->bytes, &s4->sin_addr, 4);
		a->family = AF_INET;
		*port = ntohs(s4->sin_port);
	}
	else if (sa->sa_family == AF_INET6)
	{
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *) sa;

		memcpy(a->bytes, &s6->sin6_addr, 16);
		a->family = AF_INET6;
		*port = ntohs(s6->sin6_port);
	}
	else
		return false;
	addr_normalize(a);
	return true;
}

static bool
v4_in(uint32 ip, uint32 net, int bits)
{
	return bits == 0 || (ip >> (32 - bits)) == (net >> (32 - bits));
}

static AddrClass
addr_class(const PolicyAddr *a)
{
	const unsigned char *b = a->bytes;

	if (a->family == AF_INET)
	{
		uint32		ip = ((uint32) b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3];

		if (v4_in(ip, 0x00000000, 8))
			return ADDR_UNSPECIFIED;	/* "this network": connects locally */
		if (v4_in(ip, 0x7f000000, 8))
			return ADDR_LOOPBACK;
		if (v4_in(ip, 0x0a000000, 8) || v4_in(ip, 0xac100000, 12) ||
			v4_in(ip, 0xc0a80000, 16) || v4_in(ip, 0x64400000, 10))
			return ADDR_PRIVATE;	/* RFC 1918, and 100.64/10 (CGNAT) */
		if (v4_in(ip, 0xa9fe0000, 16))
			return ADDR_LINK_LOCAL;
		if (v4_in(ip, 0xc0000000, 24) || v4_in(ip, 0xc0000200, 24) ||
			v4_in(ip, 0xc6120000, 15) || v4_in(ip, 0xc6336400, 24) ||
			v4_in(ip, 0xcb007100, 24) || v4_in(ip, 0xe0000000, 4) ||
			v4_in(ip, 0xf0000000, 4))
			return ADDR_RESERVED;	/* IETF, documentation, benchmarking,
									 * multicast, 240/4 and broadcast */
		return ADDR_PUBLIC;
	}
	{
		static const unsigned char any[16] = {0};
		static const unsigned char one[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};

		if (memcmp(b, any, 16) == 0)
			return ADDR_UNSPECIFIED;
		if (memcmp(b, one, 16) == 0)
			return ADDR_LOOPBACK;
		if ((b[0] & 0xfe) == 0xfc)
			return ADDR_PRIVATE;	/* fc00::/7 */
		if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)
			return ADDR_LINK_LOCAL; /* fe80::/10 */
		if ((b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) || /* fec0::/10 */
			b[0] == 0xff ||		/* multicast */
			(b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8) ||
			(b[0] == 0x20 && b[1] == 0x01 && b[2] == 0 && b[3] == 0) ||	/* Teredo */
			(b[0] == 0x01 && b[1] == 0 && memcmp(b + 2, any, 6) == 0) ||	/* 100::/64 */
			(b[0] == 0 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b) ||	/* local NAT64 */
			b[0] == 0)			/* the rest of ::/8 */
			return ADDR_RESERVED;
		return ADDR_PUBLIC;
	}
}

static bool
addr_equal(const PolicyAddr *a, const PolicyAddr *b)
{
	return a->family == b->family && memcmp(a->bytes, b->bytes, 16) == 0;
}

/* An address of one of this host's interfaces? */
static bool
addr_is_interface(const PolicyAddr *a)
{
	struct ifaddrs *list = NULL;
	bool		found = false;

	if (getifaddrs(&list) != 0)
		return true;			/* cannot tell: treat it as local */
	for (struct ifaddrs *i = list; i != NULL && !found; i = i->ifa_next)
	{
		PolicyAddr	mine;
		int			port;

		if (i->ifa_addr != NULL && addr_from_sockaddr(i->ifa_addr, &mine, &port))
			found = addr_equal(a, &mine);
	}
	freeifaddrs(list);
	return found;
}

/*
 * provsecret.rest_port, read by name: the REST layer sits above this one, and
 * its port is refused even while REST is off.
 */
static int
rest_port(void)
{
	const char *value = GetConfigOption("provsecret.rest_port", true, false);

	return value ? atoi(value) : -1;
}

/* The server's own REST or PostgreSQL port on one of its own addresses? */
static bool
is_own_port(const PolicyAddr *a, int port)
{
	AddrClass	c;

	if (port != PostPortNumber && port != rest_port())
		return false;
	c = addr_class(a);
	return c == ADDR_LOOPBACK || c == ADDR_UNSPECIFIED || addr_is_interface(a);
}

static bool
listed(const char *name, const PolicyAddr *addr, int port)
{
	if (allowed == NULL)
		return false;
	for (int i = 0; i < allowed->n; i++)
	{
		const PolicyEntry *e = &allowed->entries[i];

		if (e->port != 0 && e->port != port)
			continue;
		if (e->is_addr ? (addr != NULL && addr_equal(&e->addr, addr)) :
			(name != NULL && strcmp(e->name, name) == 0))
			return true;
	}
	return false;
}

/* Lower case, brackets and a trailing dot removed; false when too long. */
static bool
canonical_host(const char *host, char *out, size_t outlen)
{
	size_t		len = strlen(host);

	if (len >= 2 && host[0] == '[' && host[len - 1] == ']')
	{
		host++;
		len -= 2;
	}
	if (len > 0 && host[len - 1] == '.')
		len--;
	if (len == 0 || len >= outlen)
		return false;
	for (size_t i = 0; i < len; i++)
		out[i] = pg_tolower((unsigned char) host[i]);
	out[len] = '\0';
	return true;
}

static bool
valid_name(const char *name)
{
	return name[0] != '\0' && strlen(name) <= 253 &&
		strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789.-_") == strlen(name);
}

static bool
parse_port(const char *s, int *port)
{
	char	   *end;
	long		n;

	if (s[0] == '\0' || strspn(s, "0123456789") != strlen(s) || strlen(s) > 5)
		return false;
	n = strtol(s, &end, 10);
	if (n < 1 || n > 65535)
		return false;
	*port = (int) n;
	return true;
}

/* One list entry: host, host:port, IPv4, IPv4:port, IPv6, [IPv6], [IPv6]:port. */
static bool
parse_entry(const char *text, PolicyEntry *e, const char **problem)
{
	char		host[300];
	const char *port_text = NULL;
	const char *colon = strchr(text, ':');

	memset(e, 0, sizeof(*e));
	*problem = "is not a host name, an IP address or one of them with :port";
	if (strlen(text) >= sizeof(host))
		return false;
	if (text[0] == '[')
	{
		const char *close = strchr(text, ']');

		if (close == NULL || (close[1] != '\0' && close[1] != ':'))
			return false;
		snprintf(host, sizeof(host), "%.*s", (int) (close - text - 1), text + 1);
		if (close[1] == ':')
			port_text = close + 2;
		if (inet_pton(AF_INET6, host, e->addr.bytes) != 1)
			return false;
	}
	else if (colon != NULL && strchr(colon + 1, ':') == NULL)
	{
		snprintf(host, sizeof(host), "%.*s", (int) (colon - text), text);
		port_text = colon + 1;
	}
	else
		strlcpy(host, text, sizeof(host));
	if (port_text != NULL && !parse_port(port_text, &e->port))
	{
		*problem = "has a port that is not a number from 1 to 65535";
		return false;
	}
	if (addr_from_text(host, &e->addr))
	{
		e->is_addr = true;
		return true;
	}
	if (text[0] == '[' || !canonical_host(host, e->name, sizeof(e->name)) ||
		!valid_name(e->name))
		return false;
	return true;
}

bool
ps_outbound_allowed_hosts_check(char **newval, void **extra, GucSource source)
{
	PolicyList *list;
	char	   *copy;
	char	   *item;
	char	   *save = NULL;
	int			n = 0;

	list = malloc(sizeof(PolicyList));
	if (list == NULL)
	{
		GUC_check_errcode(ERRCODE_OUT_OF_MEMORY);
		return false;
	}
	memset(list, 0, sizeof(PolicyList));
	copy = pstrdup(*newval ? *newval : "");
	for (item = strtok_r(copy, ",", &save); item != NULL; item = strtok_r(NULL, ",", &save))
	{
		const char *problem;
		char	   *end;

		while (isspace((unsigned char) *item))
			item++;
		end = item + strlen(item);
		while (end > item && isspace((unsigned char) end[-1]))
			*--end = '\0';
		if (*item == '\0')
			continue;
		n++;
		if (list->n == POLICY_MAX_ENTRIES)
		{
			GUC_check_errdetail("At most %d entries may be listed.", POLICY_MAX_ENTRIES);
			free(list);
			pfree(copy);
			return false;
		}
		if (!parse_entry(item, &list->entries[list->n], &problem))
		{
			GUC_check_errdetail("Entry %d %s.", n, problem);
			free(list);
			pfree(copy);
			return false;
		}
		list->n++;
	}
	pfree(copy);
	*extra = list;
	return true;
}

void
ps_outbound_allowed_hosts_assign(const char *newval, void *extra)
{
	allowed = extra;
}

void
ps_outbound_policy_define_gucs(void)
{
	DefineCustomStringVariable(ALLOWLIST_NAME,
							   "Comma-separated hosts (name, IP address, optionally :port) that resolvers may call over plain http:// or at a loopback, private or link-local address.",
							   NULL,
							   &ps_outbound_allowed_hosts,
							   "",
							   PGC_SUSET,
							   0,
							   ps_outbound_allowed_hosts_check,
							   ps_outbound_allowed_hosts_assign,
							   NULL);
}

/* Scheme, host and port of a URL; false when curl cannot parse it. */
static bool
url_parts(const char *url, char **scheme, char **host, int *port)
{
	CURLU	   *u = curl_url();
	char	   *port_text = NULL;
	bool		ok;

	*scheme = *host = NULL;
	ok = u != NULL && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
		curl_url_get(u, CURLUPART_SCHEME, scheme, 0) == CURLUE_OK &&
		curl_url_get(u, CURLUPART_HOST, host, 0) == CURLUE_OK &&
		curl_url_get(u, CURLUPART_PORT, &port_text, CURLU_DEFAULT_PORT) == CURLUE_OK;
	*port = ok ? atoi(port_text) : 0;
	curl_free(port_text);
	curl_url_cleanup(u);
	if (!ok)
	{
		curl_free(*scheme);
		curl_free(*host);
		*scheme = *host = NULL;
	}
	return ok;
}

static void
refuse_class(AddrClass c, char *err, size_t errlen)
{
	snprintf(err, errlen,
			 "%s address may be called only when listed in " ALLOWLIST_NAME,
			 class_names[c]);
}

static const char own_port_rule[] =
"the server's own REST and PostgreSQL ports are never called";

bool
ps_outbound_policy_check_url(const char *url, bool operator_url,
							 char *err, size_t errlen)
{
	char	   *scheme;
	char	   *raw_host;
	char		host[256];
	int			port;
	PolicyAddr	addr;
	bool		literal;
	bool		plain;
	bool		ok = false;

	if (!url_parts(url, &scheme, &raw_host, &port))
	{
		snprintf(err, errlen, "the URL is not valid");
		return false;
	}
	plain = pg_strcasecmp(scheme, "http") == 0;
	if (!canonical_host(raw_host, host, sizeof(host)))
		snprintf(err, errlen, "the URL is not valid");
	else if (!plain && pg_strcasecmp(scheme, "https") != 0)
		snprintf(err, errlen, "only https:// URLs are allowed");
	else
	{
		literal = addr_from_text(host, &addr);
		if (literal && is_own_port(&addr, port))
			snprintf(err, errlen, "%s", own_port_rule);
		else if (operator_url)
		{
			/* the JWKS: plain http only to loopback, as before */
			ok = !plain || strcmp(host, "localhost") == 0 ||
				(literal && addr_class(&addr) == ADDR_LOOPBACK);
			if (!ok)
				snprintf(err, errlen, "plain http:// is allowed only to a loopback address");
		}
		else if (listed(literal ? NULL : host, literal ? &addr : NULL, port))
			ok = true;
		else if (plain)
			snprintf(err, errlen,
					 "plain http:// may be used only for hosts listed in " ALLOWLIST_NAME);
		else if (literal && addr_class(&addr) != ADDR_PUBLIC)
			refuse_class(addr_class(&addr), err, errlen);
		else
			ok = true;
	}
	curl_free(scheme);
	curl_free(raw_host);
	return ok;
}

bool
ps_outbound_policy_target(const char *url, bool operator_url,
						  PsOutboundTarget *target)
{
	char	   *scheme;
	char	   *host;
	int			port;
	bool		ok;

	memset(target, 0, sizeof(*target));
	if (!url_parts(url, &scheme, &host, &port))
		return false;
	ok = canonical_host(host, target->host, sizeof(target->host));
	target->plain_http = pg_strcasecmp(scheme, "http") == 0;
	target->operator_url = operator_url;
	curl_free(scheme);
	curl_free(host);
	return ok;
}

static bool
check_address(const PsOutboundTarget *target, const PolicyAddr *addr, int port,
			  char *err, size_t errlen)
{
	AddrClass	c = addr_class(addr);

	if (is_own_port(addr, port))
	{
		snprintf(err, errlen, "%s", own_port_rule);
		return false;
	}
	if (target->operator_url)
		return true;
	/* listed by address, or by the name the URL used */
	if (listed(target->host, addr, port))
		return true;
	if (c != ADDR_PUBLIC)
	{
		refuse_class(c, err, errlen);
		return false;
	}
	if (target->plain_http)
	{
		snprintf(err, errlen,
				 "plain http:// may be used only for hosts listed in " ALLOWLIST_NAME);
		return false;
	}
	return true;
}

bool
ps_outbound_policy_check_address(const PsOutboundTarget *target,
								 const struct sockaddr *sa,
								 char *err, size_t errlen)
{
	PolicyAddr	addr;
	int			port;

	if (!addr_from_sockaddr(sa, &addr, &port))
	{
		snprintf(err, errlen, "only IPv4 and IPv6 addresses are called");
		return false;
	}
	return check_address(target, &addr, port, err, errlen);
}

bool
ps_outbound_policy_check_address_text(const PsOutboundTarget *target,
									  const char *ip, int port,
									  char *err, size_t errlen)
{
	PolicyAddr	addr;

	memset(&addr, 0, sizeof(addr));
	if (inet_pton(AF_INET, ip, addr.bytes) == 1)
		addr.family = AF_INET;
	else if (inet_pton(AF_INET6, ip, addr.bytes) == 1)
		addr.family = AF_INET6;
	else
	{
		snprintf(err, errlen, "the connected address is not known");
		return false;
	}
	addr_normalize(&addr);
	return check_address(target, &addr, port, err, errlen);
}
