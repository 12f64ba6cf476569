/*
 * outbound_engine.c: HTTP transfers on one long-lived libcurl multi handle
 * with the multi socket interface.  Keeping the handle keeps its connection
 * cache, so calls to the same server reuse one keep-alive connection.
 *
 * Curl's callbacks only record what curl wants (sockets, timer); they never
 * ereport, since a longjmp through libcurl would corrupt it.
 */
#include "postgres.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <curl/curl.h>

#include "lib/ilist.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/timestamp.h"

#include "core/provsecret.h"
#include "outbound/outbound_engine.h"
#include "outbound/outbound_policy.h"

#define ENGINE_MAX_SOCKETS 1024
#define RESOLVE_MAX_ADDRS 8

struct PsOutboundTransfer
{
	dlist_node	node;
	CURL	   *easy;
	struct curl_slist *headers;
	struct curl_slist *resolve; /* pre-resolved addresses, see pre_resolve() */
	void	   *owner;
	char	   *buf;			/* malloc'd: curl callbacks must not ereport */
	size_t		len;
	size_t		cap;
	size_t		max;
	bool		too_large;
	bool		done;
	PsOutboundTarget target;	/* for the address checks */
	char		refused[200];	/* why the policy refused an address */
	PsOutboundResult result;
};

struct PsOutboundEngine
{
	CURLM	   *multi;
	MemoryContext cxt;
	dlist_head	transfers;
	int			nsockets;
	bool		socket_overflow;
	TimestampTz timer_at;		/* when curl wants its timeout action; 0 none */
	curl_socket_t sockets[ENGINE_MAX_SOCKETS];
	int			what[ENGINE_MAX_SOCKETS];
};

static bool curl_ready = false;

static size_t
write_cb(char *data, size_t size, size_t nmemb, void *userp)
{
	PsOutboundTransfer *t = userp;
	size_t		n = size * nmemb;
	char	   *grown;

	if (n > t->max - t->len)
	{
		t->too_large = true;
		return 0;				/* makes curl fail with CURLE_WRITE_ERROR */
	}
	/* grow by copying, never realloc: the old block would keep a copy */
	if (t->len + n + 1 > t->cap)
	{
		size_t		cap = Max(t->len + n + 1, Min(t->cap * 2, t->max + 1));

		grown = malloc(cap);
		if (grown == NULL)
			return 0;
		if (t->buf)
		{
			memcpy(grown, t->buf, t->len);
			explicit_bzero(t->buf, t->cap);
			free(t->buf);
		}
		t->buf = grown;
		t->cap = cap;
	}
	memcpy(t->buf + t->len, data, n);
	t->len += n;
	return n;
}

static int
socket_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
	PsOutboundEngine *e = userp;
	int			i;

	for (i = 0; i < e->nsockets; i++)
		if (e->sockets[i] == s)
			break;
	if (what == CURL_POLL_REMOVE)
	{
		if (i < e->nsockets)
		{
			e->nsockets--;
			e->sockets[i] = e->sockets[e->nsockets];
			e->what[i] = e->what[e->nsockets];
		}
		return 0;
	}
	if (i == e->nsockets)
	{
		if (e->nsockets == ENGINE_MAX_SOCKETS)
		{
			e->socket_overflow = true;
			return -1;
		}
		e->sockets[e->nsockets++] = s;
	}
	e->what[i] = what;
	return 0;
}

static int
timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	PsOutboundEngine *e = userp;

	e->timer_at = timeout_ms < 0 ? 0 :
		TimestampTzPlusMilliseconds(GetCurrentTimestamp(), timeout_ms);
	return 0;
}

PsOutboundEngine *
ps_outbound_engine_create(int max_connections)
{
	PsOutboundEngine *e;

	if (!curl_ready)
	{
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("could not initialize libcurl")));
		curl_ready = true;
	}
	e = palloc0(sizeof(PsOutboundEngine));
	e->cxt = CurrentMemoryContext;
	dlist_init(&e->transfers);
	e->multi = curl_multi_init();
	if (e->multi == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("could not initialize libcurl")));
	curl_multi_setopt(e->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
	curl_multi_setopt(e->multi, CURLMOPT_SOCKETDATA, e);
	curl_multi_setopt(e->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(e->multi, CURLMOPT_TIMERDATA, e);
	ps_outbound_engine_set_pool(e, max_connections);
	return e;
}

void
ps_outbound_engine_set_pool(PsOutboundEngine *e, int max_connections)
{
	/* open connections, and idle ones kept for reuse */
	curl_multi_setopt(e->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long) max_connections);
	curl_multi_setopt(e->multi, CURLMOPT_MAXCONNECTS, (long) max_connections);
}

void
ps_outbound_engine_destroy(PsOutboundEngine *e)
{
	dlist_mutable_iter iter;

	dlist_foreach_modify(iter, &e->transfers)
		ps_outbound_engine_finish(e, dlist_container(PsOutboundTransfer, node, iter.cur));
	curl_multi_cleanup(e->multi);
	pfree(e);
}

static bool
host_is_literal(const char *bare)
{
	unsigned char probe[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, bare, probe) == 1 ||
		inet_pton(AF_INET6, bare, probe) == 1;
}

/*
 * libcurl's threaded resolver would start a thread, so names are resolved
 * here (getaddrinfo, blocking: /etc/hosts or the system resolver) and handed
 * to curl as CURLOPT_RESOLVE entries; curl then never resolves on its own.
 * NULL with *ok when the host is an address literal.
 */
static struct curl_slist *
pre_resolve(const char *url, char *err, size_t errlen, bool *ok)
{
	CURLU	   *u = curl_url();
	char	   *host = NULL;
	char	   *port = NULL;
	char		bare[256];
	struct addrinfo hints;
	struct addrinfo *res = NULL;
	struct curl_slist *list = NULL;
	StringInfoData entry;
	int			naddrs = 0;

	*ok = false;
	if (u == NULL || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
		curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
		curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK)
	{
		snprintf(err, errlen, "the URL is not valid");
		goto done;
	}
	/* curl gives IPv6 literals in brackets */
	snprintf(bare, sizeof(bare), "%.*s",
			 host[0] == '[' ? (int) strlen(host) - 2 : (int) strlen(host),
			 host[0] == '[' ? host + 1 : host);
	if (host_is_literal(bare))
	{
		*ok = true;
		goto done;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(bare, port, &hints, &res) != 0 || res == NULL)
	{
		snprintf(err, errlen, "could not resolve the host name");
		goto done;
	}
	initStringInfo(&entry);
	appendStringInfo(&entry, "%s:%s:", bare, port);
	for (struct addrinfo *ai = res; ai != NULL && naddrs < RESOLVE_MAX_ADDRS; ai = ai->ai_next)
	{
		char		text[INET6_ADDRSTRLEN];

		if (ai->ai_family == AF_INET &&
			inet_ntop(AF_INET, &((struct sockaddr_in *) ai->ai_addr)->sin_addr,
					  text, sizeof(text)))
			appendStringInfo(&entry, "%s%s", naddrs++ ? "," : "", text);
		else if (ai->ai_family == AF_INET6 &&
				 inet_ntop(AF_INET6, &((struct sockaddr_in6 *) ai->ai_addr)->sin6_addr,
						   text, sizeof(text)))
			appendStringInfo(&entry, "%s[%s]", naddrs++ ? "," : "", text);
	}
	freeaddrinfo(res);
	if (naddrs > 0)
	{
		list = curl_slist_append(NULL, entry.data);
		*ok = list != NULL;
	}
	if (!*ok)
		snprintf(err, errlen, "could not resolve the host name");
	pfree(entry.data);
done:
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return list;
}

/*
 * A new connection: the policy judges the address curl is about to connect
 * to (after name resolution), so no packet reaches a refused one.
 */
static curl_socket_t
open_socket_cb(void *clientp, curlsocktype purpose, struct curl_sockaddr *address)
{
	PsOutboundTransfer *t = clientp;

	if (!ps_outbound_policy_check_address(&t->target, &address->addr,
										  t->refused, sizeof(t->refused)))
		return CURL_SOCKET_BAD;
	return socket(address->family, address->socktype, address->protocol);
}

/* Before each request, on a new or a reused connection: its address again. */
static int
prereq_cb(void *clientp, char *primary_ip, char *local_ip, int primary_port,
		  int local_port)
{
	PsOutboundTransfer *t = clientp;

	if (!ps_outbound_policy_check_address_text(&t->target, primary_ip, primary_port,
											   t->refused, sizeof(t->refused)))
		return CURL_PREREQFUNC_ABORT;
	return CURL_PREREQFUNC_OK;
}

/* Wipe and free header lines (they carry tokens). */
static void
free_headers(struct curl_slist *list)
{
	for (struct curl_slist *l = list; l != NULL; l = l->next)
		explicit_bzero(l->data, strlen(l->data));
	curl_slist_free_all(list);
}

/* Append a header line; on failure wipe the list rather than lose it. */
static struct curl_slist *
add_header(struct curl_slist *list, const char *line)
{
	struct curl_slist *grown;

	if (list == NULL)
		return NULL;
	grown = curl_slist_append(list, line);
	if (grown == NULL)
		free_headers(list);
	return grown;
}

/* Did the caller name its body's type (a form, for an OAuth token endpoint)? */
static bool
has_content_type(const char *const *headers)
{
	for (const char *const *h = headers; h && *h; h++)
		if (pg_strncasecmp(*h, "Content-Type:", 13) == 0)
			return true;
	return false;
}

static bool
setup_easy(PsOutboundTransfer *t, const PsOutboundRequest *req)
{
	/* plain http goes only to hosts the operator listed: no proxy */
	bool		plain_http = pg_strncasecmp(req->url, "http:", 5) == 0;

	t->headers = curl_slist_append(NULL, "Accept: application/json");
	for (const char *const *h = req->headers; h && *h; h++)
		t->headers = add_header(t->headers, *h);
	if (req->body != NULL && !has_content_type(req->headers))
	{
		t->headers = add_header(t->headers, "Content-Type: application/json");
		/* no 100-continue round trip: the body is small */
		t->headers = add_header(t->headers, "Expect:");
	}
	/* never send the request without its token header */
	if (t->headers == NULL || (t->easy = curl_easy_init()) == NULL)
		return false;

	if (req->body != NULL)
	{
		curl_easy_setopt(t->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) req->body_len);
		curl_easy_setopt(t->easy, CURLOPT_POSTFIELDS, req->body);
	}
	if (req->method != NULL)
		curl_easy_setopt(t->easy, CURLOPT_CUSTOMREQUEST, req->method);
	curl_easy_setopt(t->easy, CURLOPT_URL, req->url);
	curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, t->headers);
	curl_easy_setopt(t->easy, CURLOPT_USERAGENT, "provsecret");
	curl_easy_setopt(t->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(t->easy, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(t->easy, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(t->easy, CURLOPT_SSL_VERIFYHOST, 2L);
	if (req->ca_file != NULL)
	{
		/* only this bundle: a private CA, not the system's as well */
		curl_easy_setopt(t->easy, CURLOPT_CAINFO, req->ca_file);
		curl_easy_setopt(t->easy, CURLOPT_CAPATH, NULL);
	}
	curl_easy_setopt(t->easy, CURLOPT_NOSIGNAL, 1L);	/* the process owns signals */
	curl_easy_setopt(t->easy, CURLOPT_CONNECTTIMEOUT_MS, (long) req->connect_timeout_ms);
	curl_easy_setopt(t->easy, CURLOPT_TIMEOUT_MS, (long) req->total_timeout_ms);
	curl_easy_setopt(t->easy, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t) req->max_response_bytes);
	curl_easy_setopt(t->easy, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(t->easy, CURLOPT_WRITEDATA, t);
	curl_easy_setopt(t->easy, CURLOPT_PRIVATE, t);
	curl_easy_setopt(t->easy, CURLOPT_OPENSOCKETFUNCTION, open_socket_cb);
	curl_easy_setopt(t->easy, CURLOPT_OPENSOCKETDATA, t);
	curl_easy_setopt(t->easy, CURLOPT_PREREQFUNCTION, prereq_cb);
	curl_easy_setopt(t->easy, CURLOPT_PREREQDATA, t);
	if (plain_http)
		curl_easy_setopt(t->easy, CURLOPT_NOPROXY, "*");
	if (t->resolve)
		curl_easy_setopt(t->easy, CURLOPT_RESOLVE, t->resolve);
	return true;
}

PsOutboundTransfer *
ps_outbound_engine_start(PsOutboundEngine *e, const PsOutboundRequest *req,
						 void *owner, char *err, size_t errlen)
{
	PsOutboundTransfer *t;
	bool		resolved;

	if (!ps_outbound_policy_check_url(req->url, req->operator_url, err, errlen))
	{
		char		rule[200];

		strlcpy(rule, err, sizeof(rule));
		snprintf(err, errlen, "refused by the outbound policy: %s", rule);
		return NULL;
	}
	t = MemoryContextAllocZero(e->cxt, sizeof(PsOutboundTransfer));
	t->owner = owner;
	if (!ps_outbound_policy_target(req->url, req->operator_url, &t->target))
	{
		pfree(t);
		snprintf(err, errlen, "the URL is not valid");
		return NULL;
	}
	t->max = req->max_response_bytes;
	t->resolve = pre_resolve(req->url, err, errlen, &resolved);
	if (!resolved)
	{
		pfree(t);
		return NULL;
	}
	if (!setup_easy(t, req) ||
		curl_multi_add_handle(e->multi, t->easy) != CURLM_OK)
	{
		if (t->easy)
			curl_easy_cleanup(t->easy);
		free_headers(t->headers);
		curl_slist_free_all(t->resolve);
		pfree(t);
		snprintf(err, errlen, "could not initialize libcurl");
		return NULL;
	}
	dlist_push_tail(&e->transfers, &t->node);
	return t;
}

static void
add_sockets(PsOutboundEngine *e, WaitEventSet *set)
{
	for (int i = 0; i < e->nsockets; i++)
	{
		uint32		events = 0;

		if (e->what[i] & CURL_POLL_IN)
			events |= WL_SOCKET_READABLE;
		if (e->what[i] & CURL_POLL_OUT)
			events |= WL_SOCKET_WRITEABLE;
		if (events != 0)
			AddWaitEventToSet(set, events, e->sockets[i], NULL, NULL);
	}
}

/* Milliseconds until curl's timer is due, at most cap_ms (-1: no cap). */
static long
timer_ms(PsOutboundEngine *e, long cap_ms)
{
	long		ms;

	if (e->timer_at == 0)
		return cap_ms;
	ms = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), e->timer_at);
	/* round up: waking a millisecond early would spin */
	if (e->timer_at > GetCurrentTimestamp())
		ms++;
	return cap_ms < 0 ? ms : Min(ms, cap_ms);
}

static void
run_curl(PsOutboundEngine *e, const WaitEvent *occurred, int n)
{
	int			running;

	for (int i = 0; i < n; i++)
	{
		int			flags = 0;

		if (occurred[i].events & WL_SOCKET_READABLE)
			flags |= CURL_CSELECT_IN;
		if (occurred[i].events & WL_SOCKET_WRITEABLE)
			flags |= CURL_CSELECT_OUT;
		if (flags != 0)
			curl_multi_socket_action(e->multi, occurred[i].fd, flags, &running);
	}
	if (e->timer_at != 0 && GetCurrentTimestamp() >= e->timer_at)
	{
		e->timer_at = 0;
		curl_multi_socket_action(e->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	}
}

bool
ps_outbound_engine_wait(PsOutboundEngine *e, long timeout_ms,
						uint32 wait_event_info)
{
	WaitEventSet *volatile set = NULL;
	WaitEvent  *occurred = palloc((e->nsockets + 2) * sizeof(WaitEvent));
	int			n = 0;
	bool		latch = false;

	PG_TRY();
	{
		set = CreateWaitEventSet(CurrentMemoryContext, e->nsockets + 2);
		AddWaitEventToSet(set, WL_LATCH_SET, PGINVALID_SOCKET, MyLatch, NULL);
		AddWaitEventToSet(set, WL_EXIT_ON_PM_DEATH, PGINVALID_SOCKET, NULL, NULL);
		add_sockets(e, set);
		n = WaitEventSetWait(set, timer_ms(e, timeout_ms), occurred,
							 e->nsockets + 2, wait_event_info);
	}
	PG_FINALLY();
	{
		if (set)
			FreeWaitEventSet(set);
	}
	PG_END_TRY();
	for (int i = 0; i < n; i++)
		if (occurred[i].events & WL_LATCH_SET)
			latch = true;
	run_curl(e, occurred, n);
	pfree(occurred);
	return latch;
}

static void
record_result(PsOutboundTransfer *t, CURLcode code)
{
	PsOutboundResult *r = &t->result;
	char	   *ctype = NULL;

	t->done = true;
	if (code != CURLE_OK && t->refused[0] != '\0')
		snprintf(r->error, sizeof(r->error),
				 "refused by the outbound policy: %s", t->refused);
	else if (t->too_large || code == CURLE_FILESIZE_EXCEEDED)
		snprintf(r->error, sizeof(r->error),
				 "the response is larger than %zu bytes", t->max);
	else if (code != CURLE_OK)
		snprintf(r->error, sizeof(r->error), "%s", curl_easy_strerror(code));
	else
	{
		curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &r->status);
		if (curl_easy_getinfo(t->easy, CURLINFO_CONTENT_TYPE, &ctype) == CURLE_OK &&
			ctype != NULL)
			strlcpy(r->content_type, ctype, sizeof(r->content_type));
		r->body = t->buf ? t->buf : "";
		r->body_len = t->len;
		r->ok = true;
	}
}

PsOutboundTransfer *
ps_outbound_engine_next_done(PsOutboundEngine *e, PsOutboundResult *result,
							 void **owner)
{
	CURLMsg    *msg;
	int			pending;

	while ((msg = curl_multi_info_read(e->multi, &pending)) != NULL)
	{
		PsOutboundTransfer *t = NULL;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **) &t);
		if (t == NULL || t->done)
			continue;
		record_result(t, msg->data.result);
		/* curl fails every transfer when the socket callback does */
		if (e->socket_overflow && !t->result.ok)
			snprintf(t->result.error, sizeof(t->result.error), "too many sockets");
		*result = t->result;
		*owner = t->owner;
		return t;
	}
	e->socket_overflow = false;
	return NULL;
}

void
ps_outbound_engine_finish(PsOutboundEngine *e, PsOutboundTransfer *t)
{
	/* removing an unfinished transfer closes its connection */
	curl_multi_remove_handle(e->multi, t->easy);
	curl_easy_cleanup(t->easy);
	free_headers(t->headers);
	curl_slist_free_all(t->resolve);
	if (t->buf)
		explicit_bzero(t->buf, t->cap);
	free(t->buf);
	dlist_delete(&t->node);
	pfree(t);
}
