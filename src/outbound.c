/*
 * outbound.c: an HTTP request (GET, or PUT/POST/PATCH/DELETE with a JSON
 * body) through libcurl's multi socket interface, waited
 * on with a WaitEventSet that also holds the process latch and postmaster
 * death, so interrupts are serviced during the transfer.
 */
#include "postgres.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <curl/curl.h>

#include "lib/stringinfo.h"

#include "provsecret.h"
#include "miscadmin.h"
#include "storage/latch.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#include "outbound.h"

#define MAX_SOCKETS 8			/* curl may race IPv4 and IPv6 connects */

/* One transfer's state; palloc'd so PG_FINALLY sees its latest contents. */
typedef struct Transfer
{
	CURLM	   *multi;
	CURL	   *easy;
	struct curl_slist *headers;
	struct curl_slist *resolve;	/* pre-resolved addresses, see pre_resolve() */
	WaitEventSet *set;
	char	   *buf;			/* malloc'd: curl callbacks must not ereport */
	size_t		len;
	size_t		cap;
	size_t		max;
	bool		too_large;
	int			nsockets;
	curl_socket_t sockets[MAX_SOCKETS];
	int			what[MAX_SOCKETS];
	bool		socket_overflow;
	TimestampTz timer_at;		/* when curl wants its timeout action; 0 none */
} Transfer;

static bool curl_ready = false;

static size_t
write_cb(char *data, size_t size, size_t nmemb, void *userp)
{
	Transfer   *t = userp;
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
	Transfer   *t = userp;
	int			i;

	for (i = 0; i < t->nsockets; i++)
		if (t->sockets[i] == s)
			break;
	if (what == CURL_POLL_REMOVE)
	{
		if (i < t->nsockets)
		{
			t->nsockets--;
			t->sockets[i] = t->sockets[t->nsockets];
			t->what[i] = t->what[t->nsockets];
		}
		return 0;
	}
	if (i == t->nsockets)
	{
		if (t->nsockets == MAX_SOCKETS)
		{
			t->socket_overflow = true;
			return -1;
		}
		t->sockets[t->nsockets++] = s;
	}
	t->what[i] = what;
	return 0;
}

static int
timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	Transfer   *t = userp;

	t->timer_at = timeout_ms < 0 ? 0 :
		TimestampTzPlusMilliseconds(GetCurrentTimestamp(), timeout_ms);
	return 0;
}

static bool
host_is_loopback(const char *host)
{
	struct in_addr a4;

	if (pg_strcasecmp(host, "localhost") == 0 || strcmp(host, "[::1]") == 0)
		return true;
	return inet_pton(AF_INET, host, &a4) == 1 &&
		(ntohl(a4.s_addr) >> 24) == 127;
}

bool
ps_outbound_url_allowed(const char *url, char *err, size_t errlen)
{
	CURLU	   *u = curl_url();
	char	   *scheme = NULL;
	char	   *host = NULL;
	bool		ok = false;

	if (u == NULL)
		snprintf(err, errlen, "out of memory");
	else if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
			 curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
			 curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
		snprintf(err, errlen, "the URL is not valid");
	else if (pg_strcasecmp(scheme, "https") == 0)
		ok = true;
	else if (pg_strcasecmp(scheme, "http") != 0)
		snprintf(err, errlen, "only https:// URLs are allowed");
	else if (host_is_loopback(host))
		ok = true;
	else
		snprintf(err, errlen, "plain http:// is allowed only to a loopback address");
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return ok;
}

bool
ps_outbound_base_url_allowed(const char *url, char *err, size_t errlen)
{
	CURLU	   *u;
	char	   *part = NULL;
	bool		ok = true;

	if (!ps_outbound_url_allowed(url, err, errlen))
		return false;
	u = curl_url();
	if (u == NULL || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK)
	{
		snprintf(err, errlen, "the URL is not valid");
		ok = false;
	}
	else if (curl_url_get(u, CURLUPART_USER, &part, 0) == CURLUE_OK ||
			 curl_url_get(u, CURLUPART_PASSWORD, &part, 0) == CURLUE_OK)
	{
		snprintf(err, errlen, "the URL must not carry a user name or password");
		ok = false;
	}
	else if (curl_url_get(u, CURLUPART_QUERY, &part, 0) == CURLUE_OK ||
			 curl_url_get(u, CURLUPART_FRAGMENT, &part, 0) == CURLUE_OK ||
			 strpbrk(url, "?#") != NULL)
	{
		snprintf(err, errlen, "the URL must not have a query or fragment");
		ok = false;
	}
	curl_free(part);
	curl_url_cleanup(u);
	return ok;
}

/* Wipe and free header lines (they carry tokens). */
static void
free_headers(struct curl_slist *list)
{
	for (struct curl_slist *l = list; l != NULL; l = l->next)
		explicit_bzero(l->data, strlen(l->data));
	curl_slist_free_all(list);
}

/*
 * libcurl's threaded resolver would start a thread inside the backend, so
 * names are resolved here (blocking, as libpq does) and handed to curl as
 * CURLOPT_RESOLVE entries; curl then never resolves on its own.  NULL when
 * the host is an address literal, which curl does not resolve anyway.
 */
static struct curl_slist *
pre_resolve(const char *url, char *err, size_t errlen, bool *ok)
{
	CURLU	   *u = curl_url();
	char	   *host = NULL;
	char	   *port = NULL;
	char		bare[256];
	unsigned char probe[sizeof(struct in6_addr)];
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
	if (inet_pton(AF_INET, bare, probe) == 1 || inet_pton(AF_INET6, bare, probe) == 1)
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
	for (struct addrinfo *ai = res; ai != NULL && naddrs < MAX_SOCKETS; ai = ai->ai_next)
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

static void
transfer_setup(Transfer *t, const PsOutboundRequest *req)
{
	const char *const *h;

	/* The URL passed ps_outbound_url_allowed: plain http means loopback. */
	bool		loopback = pg_strncasecmp(req->url, "http:", 5) == 0;

	t->easy = curl_easy_init();
	t->multi = curl_multi_init();
	if (t->easy == NULL || t->multi == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("could not initialize libcurl")));
	t->headers = curl_slist_append(NULL, "Accept: application/json");
	for (h = req->headers; t->headers != NULL && h && *h; h++)
	{
		/* on failure curl keeps the list: wipe it rather than lose it */
		struct curl_slist *grown = curl_slist_append(t->headers, *h);

		if (grown == NULL)
		{
			free_headers(t->headers);
			t->headers = NULL;
		}
		else
			t->headers = grown;
	}
	/* never send the request without its token header */
	if (t->headers == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("could not initialize libcurl")));

	if (req->body != NULL)
	{
		t->headers = curl_slist_append(t->headers, "Content-Type: application/json");
		/* no 100-continue round trip: the body is small */
		t->headers = curl_slist_append(t->headers, "Expect:");
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
	curl_easy_setopt(t->easy, CURLOPT_NOSIGNAL, 1L);	/* the backend owns signals */
	curl_easy_setopt(t->easy, CURLOPT_CONNECTTIMEOUT_MS, (long) req->connect_timeout_ms);
	curl_easy_setopt(t->easy, CURLOPT_TIMEOUT_MS, (long) req->total_timeout_ms);
	curl_easy_setopt(t->easy, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t) req->max_response_bytes);
	curl_easy_setopt(t->easy, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(t->easy, CURLOPT_WRITEDATA, t);
	if (loopback)
		curl_easy_setopt(t->easy, CURLOPT_NOPROXY, "*");	/* loopback stays loopback */
	if (t->resolve)
		curl_easy_setopt(t->easy, CURLOPT_RESOLVE, t->resolve);

	curl_multi_setopt(t->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
	curl_multi_setopt(t->multi, CURLMOPT_SOCKETDATA, t);
	curl_multi_setopt(t->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(t->multi, CURLMOPT_TIMERDATA, t);
	if (curl_multi_add_handle(t->multi, t->easy) != CURLM_OK)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("could not initialize libcurl")));
}

/* Wait for curl's sockets, its timer, the latch or the deadline; run curl. */
static void
transfer_step(Transfer *t, TimestampTz deadline, int *running)
{
	WaitEvent	occurred[MAX_SOCKETS + 2];
	TimestampTz now = GetCurrentTimestamp();
	TimestampTz wake = deadline;
	long		wait_ms;
	int			n;

	if (t->timer_at != 0 && t->timer_at < wake)
		wake = t->timer_at;
	wait_ms = wake > now ? (long) ((wake - now + 999) / 1000) : 0;

	t->set = CreateWaitEventSet(CurrentMemoryContext, t->nsockets + 2);
	AddWaitEventToSet(t->set, WL_LATCH_SET, PGINVALID_SOCKET, MyLatch, NULL);
	AddWaitEventToSet(t->set, WL_EXIT_ON_PM_DEATH, PGINVALID_SOCKET, NULL, NULL);
	for (int i = 0; i < t->nsockets; i++)
	{
		uint32		events = 0;

		if (t->what[i] & CURL_POLL_IN)
			events |= WL_SOCKET_READABLE;
		if (t->what[i] & CURL_POLL_OUT)
			events |= WL_SOCKET_WRITEABLE;
		AddWaitEventToSet(t->set, events, t->sockets[i], NULL, NULL);
	}
	n = WaitEventSetWait(t->set, wait_ms, occurred, lengthof(occurred),
						 PG_WAIT_EXTENSION);
	FreeWaitEventSet(t->set);
	t->set = NULL;

	for (int i = 0; i < n; i++)
	{
		if (occurred[i].events & WL_LATCH_SET)
		{
			ResetLatch(MyLatch);
			CHECK_FOR_INTERRUPTS();
		}
		else if (occurred[i].events & (WL_SOCKET_READABLE | WL_SOCKET_WRITEABLE))
		{
			int			flags = 0;

			if (occurred[i].events & WL_SOCKET_READABLE)
				flags |= CURL_CSELECT_IN;
			if (occurred[i].events & WL_SOCKET_WRITEABLE)
				flags |= CURL_CSELECT_OUT;
			curl_multi_socket_action(t->multi, occurred[i].fd, flags, running);
		}
	}
	if (t->timer_at != 0 && GetCurrentTimestamp() >= t->timer_at)
	{
		t->timer_at = 0;
		curl_multi_socket_action(t->multi, CURL_SOCKET_TIMEOUT, 0, running);
	}
}

bool
ps_outbound_get(const PsOutboundRequest *req, PsOutboundResponse *resp)
{
	Assert(req->method == NULL && req->body == NULL);
	return ps_outbound_request(req, resp);
}

bool
ps_outbound_request(const PsOutboundRequest *req, PsOutboundResponse *resp)
{
	Transfer   *t;
	volatile bool ok = false;

	memset(resp, 0, sizeof(*resp));
	if (!ps_outbound_url_allowed(req->url, resp->error, sizeof(resp->error)))
		return false;
	if (!curl_ready)
	{
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("could not initialize libcurl")));
		curl_ready = true;
	}

	t = palloc0(sizeof(Transfer));
	t->max = req->max_response_bytes;
	PG_TRY();
	{
		/* curl enforces the timeouts; this deadline only guards the loop. */
		TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
														   req->total_timeout_ms + 1000);
		int			running = 1;
		int			pending;
		CURLMsg    *msg;
		bool		resolved;

		t->resolve = pre_resolve(req->url, resp->error, sizeof(resp->error), &resolved);
		if (!resolved)
			running = 0;
		else
			transfer_setup(t, req);
		if (running)
			curl_multi_socket_action(t->multi, CURL_SOCKET_TIMEOUT, 0, &running);
		while (running > 0 && !t->socket_overflow &&
			   GetCurrentTimestamp() < deadline)
		{
			CHECK_FOR_INTERRUPTS();
			transfer_step(t, deadline, &running);
		}

		while (t->multi && (msg = curl_multi_info_read(t->multi, &pending)) != NULL)
		{
			if (msg->msg != CURLMSG_DONE)
				continue;
			if (t->too_large || msg->data.result == CURLE_FILESIZE_EXCEEDED)
				snprintf(resp->error, sizeof(resp->error),
						 "the response is larger than %zu bytes", t->max);
			else if (msg->data.result != CURLE_OK)
				snprintf(resp->error, sizeof(resp->error), "%s",
						 curl_easy_strerror(msg->data.result));
			else
			{
				char	   *ctype = NULL;

				curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &resp->status);
				if (curl_easy_getinfo(t->easy, CURLINFO_CONTENT_TYPE, &ctype) == CURLE_OK &&
					ctype != NULL)
					strlcpy(resp->content_type, ctype, sizeof(resp->content_type));
				resp->body = palloc(t->len + 1);
				if (t->len > 0)
					memcpy(resp->body, t->buf, t->len);
				resp->body[t->len] = '\0';
				resp->body_len = t->len;
				ok = true;
			}
		}
		if (!ok && resp->error[0] == '\0')
			snprintf(resp->error, sizeof(resp->error), "%s",
					 t->socket_overflow ? "too many sockets" : "timed out");
	}
	PG_FINALLY();
	{
		if (t->set)
			FreeWaitEventSet(t->set);
		if (t->multi && t->easy)
			curl_multi_remove_handle(t->multi, t->easy);
		if (t->easy)
			curl_easy_cleanup(t->easy);
		if (t->multi)
			curl_multi_cleanup(t->multi);
		free_headers(t->headers);
		curl_slist_free_all(t->resolve);
		if (t->buf)
			explicit_bzero(t->buf, t->cap);
		free(t->buf);
	}
	PG_END_TRY();
	pfree(t);
	return ok;
}
