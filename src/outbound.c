/*
 * outbound.c: an HTTP GET through libcurl's multi socket interface, waited
 * on with a WaitEventSet that also holds the process latch and postmaster
 * death, so interrupts are serviced during the transfer.
 */
#include "postgres.h"

#include <arpa/inet.h>
#include <curl/curl.h>

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
	WaitEventSet *set;
	char	   *buf;			/* malloc'd: curl callbacks must not ereport */
	size_t		len;
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
	grown = realloc(t->buf, t->len + n + 1);
	if (grown == NULL)
		return 0;
	t->buf = grown;
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
	for (h = req->headers; h && *h; h++)
		t->headers = curl_slist_append(t->headers, *h);

	curl_easy_setopt(t->easy, CURLOPT_URL, req->url);
	curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, t->headers);
	curl_easy_setopt(t->easy, CURLOPT_USERAGENT, "provsecret");
	curl_easy_setopt(t->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(t->easy, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(t->easy, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(t->easy, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(t->easy, CURLOPT_NOSIGNAL, 1L);	/* the backend owns signals */
	curl_easy_setopt(t->easy, CURLOPT_CONNECTTIMEOUT_MS, (long) req->connect_timeout_ms);
	curl_easy_setopt(t->easy, CURLOPT_TIMEOUT_MS, (long) req->total_timeout_ms);
	curl_easy_setopt(t->easy, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t) req->max_response_bytes);
	curl_easy_setopt(t->easy, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(t->easy, CURLOPT_WRITEDATA, t);
	if (loopback)
		curl_easy_setopt(t->easy, CURLOPT_NOPROXY, "*");	/* loopback stays loopback */

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

		transfer_setup(t, req);
		curl_multi_socket_action(t->multi, CURL_SOCKET_TIMEOUT, 0, &running);
		while (running > 0 && !t->socket_overflow &&
			   GetCurrentTimestamp() < deadline)
		{
			CHECK_FOR_INTERRUPTS();
			transfer_step(t, deadline, &running);
		}

		while ((msg = curl_multi_info_read(t->multi, &pending)) != NULL)
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
				curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &resp->status);
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
		curl_slist_free_all(t->headers);
		free(t->buf);
	}
	PG_END_TRY();
	pfree(t);
	return ok;
}
