/*
 * http_request.c: deciding a REST request's answer.  Bodies live in
 * ps_rest_secure_malloc'd buffers (they may hold a value) that MHD frees
 * through http.c once sent.
 */
#include "postgres.h"

#include "utils/json.h"
#include "utils/memutils.h"

#include "core/provsecret.h"
#include "rest/http_request.h"

static const char *
error_code_for_status(int status)
{
	switch (status)
	{
		case 400:
			return "bad_request";
		case 401:
			return "unauthorized";
		case 403:
			return "forbidden";
		case 404:
			return "not_found";
		case 405:
			return "method_not_allowed";
		case 412:
			return "precondition_failed";
		case 413:
			return "payload_too_large";
		case 502:
			return "bad_gateway";
		case 503:
			return "unavailable";
		default:
			return "internal_error";
	}
}

const PsHttpDialect *ps_http_dialect = NULL;

void
ps_http_register_dialect(const PsHttpDialect *dialect)
{
	ps_http_dialect = dialect;
}

void
ps_http_add_header(PsHttpRequest *req, const char *name, const char *value)
{
	if (req->n_extra_headers >= PS_HTTP_MAX_EXTRA_HEADERS)
		ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
						errmsg_internal("too many answer headers")));
	req->extra_header_names[req->n_extra_headers] = name;
	req->extra_header_values[req->n_extra_headers] =
		MemoryContextStrdup(req->cxt, value);
	req->n_extra_headers++;
}

void
ps_http_drop_response(PsHttpRequest *req)
{
	ps_rest_secure_free(req->response);
	req->response = NULL;
}

void
ps_http_set_malloced_body(PsHttpRequest *req, int status,
						  const char *content_type, char *data, size_t len)
{
	ps_http_drop_response(req);
	req->status = status;
	req->content_type = content_type;
	req->response = data;
	req->response_len = len;
}

void
ps_http_set_body(PsHttpRequest *req, int status, const char *content_type,
				 const char *data, size_t len)
{
	char	   *copy = ps_rest_secure_malloc(len + 1);

	if (copy == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY),
						errmsg("out of memory")));
	memcpy(copy, data, len);
	copy[len] = '\0';
	ps_http_set_malloced_body(req, status, content_type, copy, len);
}

void
ps_http_set_error(PsHttpRequest *req, int status, const char *message)
{
	StringInfoData buf;

	if (req->dialect && req->dialect->set_error)
	{
		req->dialect->set_error(req, status, message);
		return;
	}
	initStringInfo(&buf);
	if (req->vault)
	{
		/* Vault's shape: a list of messages; a missing thing lists none */
		if (status == 401)
			status = 403;
		if (status == 404)
			appendStringInfoString(&buf, "{\"errors\":[]}");
		else
		{
			appendStringInfoString(&buf, "{\"errors\":[");
			escape_json(&buf, message);
			appendStringInfoString(&buf, "]}");
		}
		ps_http_set_body(req, status, "application/json", buf.data, buf.len);
		pfree(buf.data);
		return;
	}
	appendStringInfo(&buf, "{\"error\":{\"code\":\"%s\",\"message\":",
					 error_code_for_status(status));
	escape_json(&buf, message);
	appendStringInfoString(&buf, "}}");
	ps_http_set_body(req, status, "application/json", buf.data, buf.len);
	pfree(buf.data);
}
