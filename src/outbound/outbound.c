/*
 * outbound.c: the entry points of outbound.h and the URL checks
 * (outbound_policy.c decides where a URL may point).  An ordinary process
 * (backend, REST worker) hands the call to the outbound worker (outbound_ipc.c) and waits on its
 * latch; inside the outbound worker the call runs in-process on a private
 * engine (outbound_engine.c).
 */
#include "postgres.h"

#include <curl/curl.h>

#include "miscadmin.h"
#include "pgstat.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "core/provsecret.h"
#include "outbound/outbound.h"
#include "outbound/outbound_engine.h"
#include "outbound/outbound_ipc.h"
#include "outbound/outbound_policy.h"
#include "outbound/outbound_worker.h"

bool
ps_outbound_url_allowed(const char *url, char *err, size_t errlen)
{
	return ps_outbound_policy_check_url(url, true, err, errlen);
}

/* https:// or http://; where the URL points is judged elsewhere */
static bool
scheme_allowed(const char *url, char *err, size_t errlen)
{
	CURLU	   *u = curl_url();
	char	   *scheme = NULL;
	bool		ok = false;

	if (u == NULL)
		snprintf(err, errlen, "out of memory");
	else if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
			 curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK)
		snprintf(err, errlen, "the URL is not valid");
	else if (pg_strcasecmp(scheme, "https") == 0 || pg_strcasecmp(scheme, "http") == 0)
		ok = true;
	else
		snprintf(err, errlen, "only https:// URLs are allowed");
	curl_free(scheme);
	curl_url_cleanup(u);
	return ok;
}

bool
ps_outbound_base_url_allowed(const char *url, char *err, size_t errlen)
{
	CURLU	   *u;
	char	   *part = NULL;
	bool		ok = true;

	if (!scheme_allowed(url, err, errlen))
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

/* Run one call on engine until it ends or its deadline passes. */
static bool
run_on(PsOutboundEngine *engine, const PsOutboundRequest *req,
	   PsOutboundResponse *resp)
{
	TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
													   req->total_timeout_ms + 1000);
	PsOutboundResult result;
	void	   *owner;

	if (ps_outbound_engine_start(engine, req, NULL, resp->error,
								 sizeof(resp->error)) == NULL)
		return false;
	while (ps_outbound_engine_next_done(engine, &result, &owner) == NULL)
	{
		long		ms = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), deadline);

		if (ms <= 0)
		{
			snprintf(resp->error, sizeof(resp->error), "timed out");
			return false;
		}
		if (ps_outbound_engine_wait(engine, ms, PG_WAIT_EXTENSION))
			ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
	strlcpy(resp->error, result.error, sizeof(resp->error));
	if (!result.ok)
		return false;
	resp->status = result.status;
	strlcpy(resp->content_type, result.content_type, sizeof(resp->content_type));
	resp->body = palloc(result.body_len + 1);
	memcpy(resp->body, result.body, result.body_len);
	resp->body[result.body_len] = '\0';
	resp->body_len = result.body_len;
	return true;
}

/* The call inside the outbound worker itself: a private engine. */
static bool
run_here(const PsOutboundRequest *req, PsOutboundResponse *resp)
{
	PsOutboundEngine *engine = ps_outbound_engine_create(4);
	bool		ok;

	PG_TRY();
	{
		ok = run_on(engine, req, resp);
	}
	PG_CATCH();
	{
		/* finishing the transfers wipes their buffers */
		ps_outbound_engine_destroy(engine);
		PG_RE_THROW();
	}
	PG_END_TRY();
	ps_outbound_engine_destroy(engine);
	return ok;
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
	char		rule[200];

	memset(resp, 0, sizeof(*resp));
	if (!ps_outbound_policy_check_url(req->url, req->operator_url,
									  rule, sizeof(rule)))
	{
		snprintf(resp->error, sizeof(resp->error),
				 "refused by the outbound policy: %s", rule);
		return false;
	}
	if (ps_outbound_in_worker)
		return run_here(req, resp);
	return ps_outbound_ipc_call(req, resp);
}
