/*
 * http.c: libmicrohttpd glue of the REST listener.
 *
 * MHD calls ps_http_access_handler several times per request: once with the
 * headers, once per body chunk, once more when the body is complete, and
 * again after MHD_resume_connection.  Nothing here may throw through MHD's
 * frames, so every callback catches its own errors.
 */
#include "postgres.h"

#include <sys/socket.h>
#include <netdb.h>
#include <jansson.h>
#include <sodium.h>

#include "port.h"
#include "utils/json.h"
#include "utils/memutils.h"

#include "core/provsecret.h"
#include "rest/http.h"
#include "rest/rest_metrics.h"
#include "rest/rest_settings.h"
#include "rest/routes.h"
#include "rest/vault_routes.h"

dlist_head	ps_http_pending = DLIST_STATIC_INIT(ps_http_pending);
size_t		ps_http_max_body = 65536;

/* Under connection pressure, idle connections older than this are closed. */
#define PRESSURE_IDLE_SECONDS 0.25

/* Bytes of an oversized body read and dropped before the connection goes. */
#define DISCARD_LIMIT (64 * 1024 * 1024)

/* One open TCP connection (MHD's socket context), tracked for shedding. */
typedef struct PsHttpConnection
{
	struct MHD_Connection *connection;
	bool		busy;			/* a request is being read or answered */
	bool		suspended;		/* waiting for its batch */
	instr_time	phase_start;	/* when busy last changed */
	dlist_node	node;
} PsHttpConnection;

static dlist_head open_connections = DLIST_STATIC_INIT(open_connections);
static int	n_open_connections = 0;

/* MHD frees response buffers through this: they may hold a value. */
static void
free_wiped(void *buffer)
{
	ps_rest_secure_free(buffer);
}

static void
set_client_address(PsHttpRequest *req)
{
	const union MHD_ConnectionInfo *info;
	socklen_t	len;

	req->client_addr[0] = '\0';	/* unknown */
	info = MHD_get_connection_info(req->connection,
								   MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (info == NULL || info->client_addr == NULL)
		return;
	len = info->client_addr->sa_family == AF_INET6 ?
		sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
	if (getnameinfo(info->client_addr, len, req->client_addr,
					sizeof(req->client_addr), NULL, 0, NI_NUMERICHOST) != 0)
		req->client_addr[0] = '\0';
}

/*
 * A request id the client did not give: 32 hex digits, unique and
 * unpredictable, made as a keyed BLAKE2b of a per-process counter so that a
 * request costs no call into the system's random source.
 */
static void
set_request_id(PsHttpRequest *req)
{
	static unsigned char key[crypto_generichash_KEYBYTES];
	static uint64 counter = 0;
	const char *given = MHD_lookup_connection_value(req->connection,
													MHD_HEADER_KIND,
													"X-Request-Id");
	unsigned char id[16];

	if (ps_rest_request_id_valid(given))
	{
		strlcpy(req->request_id, given, sizeof(req->request_id));
		return;
	}
	if (counter++ == 0)
		randombytes_buf(key, sizeof(key));
	crypto_generichash(id, sizeof(id), (const unsigned char *) &counter,
					   sizeof(counter), key, sizeof(key));
	sodium_bin2hex(req->request_id, sizeof(req->request_id), id, sizeof(id));
}

/*
 * A path the Vault dialect claims: match it, read ?list and ?version, and
 * take X-Vault-Token in place of Authorization when given.
 */
static void
vault_request(PsHttpRequest *req, const char *url, const char *method,
			  const char **auth)
{
	const char *list = MHD_lookup_connection_value(req->connection,
												   MHD_GET_ARGUMENT_KIND, "list");
	const char *version = MHD_lookup_connection_value(req->connection,
													  MHD_GET_ARGUMENT_KIND, "version");
	const char *token = MHD_lookup_connection_value(req->connection,
													MHD_HEADER_KIND, "X-Vault-Token");

	req->vault = true;
	ps_vault_match(url, method, ps_vault_mount, ps_vault_parse_bool(list),
				   &req->vault_match);
	if (version != NULL && !ps_vault_parse_version(version, &req->vault_version))
		req->vault_version = -1;
	if (token != NULL && token[0] != '\0')
	{
		*auth = token;
		req->vault_raw_token = true;
	}
}

static PsHttpRequest *
request_create(struct MHD_Connection *connection, const char *url,
			   const char *method)
{
	MemoryContext cxt = AllocSetContextCreate(TopMemoryContext,
											  "provsecret rest request",
											  ALLOCSET_SMALL_SIZES);
	PsHttpRequest *req = MemoryContextAllocZero(cxt, sizeof(PsHttpRequest));
	const char *auth;

	req->cxt = cxt;
	req->connection = connection;
	INSTR_TIME_SET_CURRENT(req->started);
	req->method = ps_rest_method_from_string(method);
	req->match_status = ps_rest_match(url, req->method, &req->match);
	set_client_address(req);
	set_request_id(req);
	auth = MHD_lookup_connection_value(connection, MHD_HEADER_KIND,
									   MHD_HTTP_HEADER_AUTHORIZATION);
	if (ps_vault_api && ps_vault_claims(url, ps_vault_mount))
		vault_request(req, url, method, &auth);
	else if (ps_http_dialect != NULL && ps_http_dialect->claims(url))
	{
		req->dialect = ps_http_dialect;
		req->dialect->begin(req, url, method);
		auth = NULL;			/* its requests authenticate otherwise */
	}
	if (auth)
		req->authorization = MemoryContextStrdup(cxt, auth);
	auth = MHD_lookup_connection_value(connection, MHD_HEADER_KIND,
									   MHD_HTTP_HEADER_IF_MATCH);
	if (auth)
		req->if_match = MemoryContextStrdup(cxt, auth);
	return req;
}

/* Does the announced Content-Length exceed limit? */
static bool
declared_body_too_large(PsHttpRequest *req, size_t limit)
{
	const char *cl = MHD_lookup_connection_value(req->connection,
												 MHD_HEADER_KIND,
												 MHD_HTTP_HEADER_CONTENT_LENGTH);
	char	   *end;
	unsigned long long n;

	if (cl == NULL)
		return false;
	errno = 0;
	n = strtoull(cl, &end, 10);
	return errno != 0 || n > limit;
}

/* Append a body chunk; false when it would pass the cap. */
static bool
append_body(PsHttpRequest *req, const char *data, size_t len)
{
	if (len > ps_http_max_body - req->body_len)
		return false;
	if (req->body_len + len + 1 > req->body_cap)
	{
		size_t		cap = Max(req->body_cap * 2, 1024);
		char	   *grown;

		while (cap < req->body_len + len + 1)
			cap *= 2;
		cap = Min(cap, ps_http_max_body + 1);
		/* copy and wipe ourselves: repalloc would leave the old bytes */
		grown = MemoryContextAlloc(req->cxt, cap);
		if (req->body)
		{
			memcpy(grown, req->body, req->body_len);
			explicit_bzero(req->body, req->body_cap);
			pfree(req->body);
		}
		req->body = grown;
		req->body_cap = cap;
	}
	memcpy(req->body + req->body_len, data, len);
	req->body_len += len;
	req->body[req->body_len] = '\0';
	return true;
}

static enum MHD_Result
queue_answer(PsHttpRequest *req)
{
	struct MHD_Response *response;
	enum MHD_Result ret;

	if (req->status == 0)
		ps_http_set_error(req, 500, "internal error");
	response = MHD_create_response_from_buffer_with_free_callback(req->response_len,
																  req->response,
																  free_wiped);
	if (response == NULL)
		return MHD_NO;
	req->response = NULL;		/* MHD owns it now */
	if (req->response_len > 0)
		MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE,
								req->content_type ? req->content_type : "application/json");
	MHD_add_response_header(response, "X-Request-Id", req->request_id);
	MHD_add_response_header(response, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(response, "X-Content-Type-Options", "nosniff");
	if (req->status == 401 && req->dialect == NULL)
		MHD_add_response_header(response, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
								"Bearer");
	if (req->status == 405 && req->allow[0])
		MHD_add_response_header(response, MHD_HTTP_HEADER_ALLOW, req->allow);
	if (req->status >= 200 && req->status < 300 && req->etag[0])
		MHD_add_response_header(response, MHD_HTTP_HEADER_ETAG, req->etag);
	for (int i = 0; i < req->n_extra_headers; i++)
		MHD_add_response_header(response, req->extra_header_names[i],
								req->extra_header_values[i]);
	ret = MHD_queue_response(req->connection, req->status, response);
	MHD_destroy_response(response);
	req->queued = true;
	return ret;
}

static enum MHD_Result
handle(struct MHD_Connection *connection, const char *url, const char *method,
	   const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	PsHttpRequest *req = *con_cls;

	if (req == NULL)
	{
		const union MHD_ConnectionInfo *info =
			MHD_get_connection_info(connection, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

		if (info && info->socket_context)
		{
			PsHttpConnection *c = info->socket_context;

			c->busy = true;
			INSTR_TIME_SET_CURRENT(c->phase_start);
		}
		req = request_create(connection, url, method);
		req->socket = info ? info->socket_context : NULL;
		*con_cls = req;
		if (declared_body_too_large(req, DISCARD_LIMIT))
		{
			/* hopeless: answer now, MHD closes once the answer is out */
			ps_http_set_error(req, 413, "request body is larger than provsecret.rest_max_body");
			return queue_answer(req);
		}
		/*
		 * Otherwise read and drop an oversized body before answering 413:
		 * closing with unread data makes the kernel reset the connection,
		 * and a client still writing would lose our answer.
		 */
		req->body_too_large = declared_body_too_large(req, ps_http_max_body);
		return MHD_YES;
	}
	if (req->queued)
	{
		/* an early answer (413) is queued; swallow what the client still sends */
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (*upload_data_size > 0)
	{
		/*
		 * MHD cannot send an answer in the middle of a body: past the cap,
		 * discard the rest and answer 413 at the end; a client that keeps
		 * streaming far past it is cut off.
		 */
		if (req->body_too_large || !append_body(req, upload_data, *upload_data_size))
		{
			req->body_too_large = true;
			req->body_discarded += *upload_data_size;
			if (req->body_discarded > DISCARD_LIMIT)
				return MHD_NO;
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (req->body_too_large)
	{
		ps_http_set_error(req, 413, "request body is larger than provsecret.rest_max_body");
		return queue_answer(req);
	}
	if (req->status != 0)
		return queue_answer(req);	/* resumed after its batch */

	if (req->dialect ? req->dialect->prepare(req) :
		req->vault ? ps_vault_prepare(req) : ps_routes_prepare(req))
	{
		req->suspended = true;
		if (req->socket)
			((PsHttpConnection *) req->socket)->suspended = true;
		dlist_push_tail(&ps_http_pending, &req->node);
		MHD_suspend_connection(connection);
		return MHD_YES;
	}
	return queue_answer(req);
}

enum MHD_Result
ps_http_access_handler(void *cls, struct MHD_Connection *connection,
					   const char *url, const char *method,
					   const char *version, const char *upload_data,
					   size_t *upload_data_size, void **con_cls)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	volatile enum MHD_Result ret = MHD_NO;

	PG_TRY();
	{
		ret = handle(connection, url, method, upload_data, upload_data_size,
					 con_cls);
	}
	PG_CATCH();
	{
		/* never unwind through MHD: drop this connection, keep serving */
		MemoryContextSwitchTo(oldcxt);
		EmitErrorReport();
		FlushErrorState();
		ret = MHD_NO;
	}
	PG_END_TRY();
	MemoryContextSwitchTo(oldcxt);
	return ret;
}

void
ps_http_request_completed(void *cls, struct MHD_Connection *connection,
						  void **con_cls, enum MHD_RequestTerminationCode toe)
{
	PsHttpRequest *req = *con_cls;
	instr_time	elapsed;
	const union MHD_ConnectionInfo *info =
		MHD_get_connection_info(connection, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	if (info && info->socket_context)
	{
		PsHttpConnection *c = info->socket_context;

		c->busy = false;
		c->suspended = false;
		INSTR_TIME_SET_CURRENT(c->phase_start);
	}
	if (req == NULL)
		return;
	*con_cls = NULL;
	if (req->suspended)
		dlist_delete(&req->node);	/* cannot happen while suspended; be safe */
	if (req->queued)
	{
		INSTR_TIME_SET_CURRENT(elapsed);
		INSTR_TIME_SUBTRACT(elapsed, req->started);
		ps_rest_metrics_count_request(req->match.route, req->status,
									  INSTR_TIME_GET_DOUBLE(elapsed));
	}
	ps_http_drop_response(req);
	if (req->dialect && req->dialect->finish)
		req->dialect->finish(req);
	for (int i = 0; i < req->n_extra_headers; i++)
		explicit_bzero(req->extra_header_values[i],
					   strlen(req->extra_header_values[i]));	/* a cookie */
	if (req->parsed.root)
		json_decref((json_t *) req->parsed.root);
	if (req->vault_write.root)
		json_decref((json_t *) req->vault_write.root);
	if (req->body)
		explicit_bzero(req->body, req->body_cap);
	if (req->authorization)
		explicit_bzero(req->authorization, strlen(req->authorization));
	MemoryContextDelete(req->cxt);
}

void
ps_http_connection_notify(void *cls, struct MHD_Connection *connection,
						  void **socket_context,
						  enum MHD_ConnectionNotificationCode toe)
{
	PsHttpConnection *c = *socket_context;

	if (toe == MHD_CONNECTION_NOTIFY_STARTED)
	{
		/* malloc, not palloc: an error must not unwind through MHD */
		c = calloc(1, sizeof(PsHttpConnection));
		if (c == NULL)
			return;
		c->connection = connection;
		INSTR_TIME_SET_CURRENT(c->phase_start);
		dlist_push_tail(&open_connections, &c->node);
		n_open_connections++;
		*socket_context = c;
	}
	else if (toe == MHD_CONNECTION_NOTIFY_CLOSED && c != NULL)
	{
		dlist_delete(&c->node);
		n_open_connections--;
		free(c);
		*socket_context = NULL;
	}
}

long
ps_http_enforce_limits(int max_connections, int idle_timeout)
{
	static instr_time last_scan;
	instr_time	now;
	bool		pressure = n_open_connections >= max_connections - max_connections / 4;
	dlist_iter	iter;

	INSTR_TIME_SET_CURRENT(now);
	if (!pressure && !INSTR_TIME_IS_ZERO(last_scan))
	{
		instr_time	since = now;

		INSTR_TIME_SUBTRACT(since, last_scan);
		if (INSTR_TIME_GET_MILLISEC(since) < 500)
			return 500 - (long) INSTR_TIME_GET_MILLISEC(since);
	}
	last_scan = now;

	dlist_foreach(iter, &open_connections)
	{
		PsHttpConnection *c = dlist_container(PsHttpConnection, node, iter.cur);
		instr_time	age = now;

		if (c->suspended)
			continue;
		INSTR_TIME_SUBTRACT(age, c->phase_start);
		if (INSTR_TIME_GET_DOUBLE(age) > idle_timeout)
		{
			const union MHD_ConnectionInfo *info =
				MHD_get_connection_info(c->connection, MHD_CONNECTION_INFO_CONNECTION_FD);

			/* MHD owns the descriptor; a shutdown makes it close the connection */
			if (info)
				(void) shutdown(info->connect_fd, SHUT_RDWR);
			continue;
		}
		if (pressure && !c->busy && INSTR_TIME_GET_DOUBLE(age) > PRESSURE_IDLE_SECONDS)
		{
			const union MHD_ConnectionInfo *info =
				MHD_get_connection_info(c->connection, MHD_CONNECTION_INFO_CONNECTION_FD);

			if (info)
				(void) shutdown(info->connect_fd, SHUT_RDWR);
		}
	}
	/* with connections open, look again soon: nothing else may wake us */
	if (n_open_connections == 0)
		return -1;
	return pressure ? 100 : 500;
}

/* Keep the path exactly as sent: routes decode each segment once. */
size_t
ps_http_unescape_none(void *cls, struct MHD_Connection *c, char *s)
{
	return strlen(s);
}

void
ps_http_resume(PsHttpRequest *req)
{
	if (!req->suspended)
		return;
	dlist_delete(&req->node);
	req->suspended = false;
	if (req->socket)
		((PsHttpConnection *) req->socket)->suspended = false;
	MHD_resume_connection(req->connection);
}
