/*
 * rest_listen.c: libmicrohttpd daemons of one REST worker.
 *
 * No MHD thread ever runs: MHD_USE_EPOLL without an internal polling thread
 * leaves all socket work to MHD_run(), called from the worker's latch loop.
 */
#include "postgres.h"

#include <arpa/inet.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <microhttpd.h>

#include "common/string.h"
#include "lib/stringinfo.h"
#include "storage/fd.h"
#include "utils/memutils.h"
#include "utils/varlena.h"

#include "core/provsecret.h"
#include "rest/http.h"
#include "rest/rest_listen.h"
#include "rest/rest_settings.h"

/* Header cap: MHD answers 431/413 itself when the headers pass it. */
#define CONNECTION_MEMORY 32768

typedef struct Listener
{
	struct MHD_Daemon *daemon;
	int			epoll_fd;
} Listener;

static Listener listeners[PS_REST_MAX_LISTENERS];
static int	n_listeners = 0;
static char *tls_cert = NULL;	/* kept while the daemons live */
static char *tls_key = NULL;
static bool starting = false;

static void
mhd_logger(void *cls, const char *fmt, va_list ap)
{
	char		msg[512];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	(void) pg_strip_crlf(msg);
	/* while starting, MHD's word is the reason we do not listen */
	ereport(starting ? LOG : DEBUG1,
			(errmsg("provsecret rest: %s", msg)));
}

char *
ps_rest_listen_signature(void)
{
	return psprintf("%s|%d|%d|%d|%d|%s|%s|%d|%d",
					ps_rest_listen_addresses ? ps_rest_listen_addresses : "",
					ps_rest_port, ps_rest_max_connections, ps_rest_idle_timeout,
					ps_rest_max_body,
					ps_rest_tls_cert_file ? ps_rest_tls_cert_file : "",
					ps_rest_tls_key_file ? ps_rest_tls_key_file : "",
					(int) ps_rest_allow_plain_http, ps_rest_workers);
}

static bool
is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *) sa)->sin_addr.s_addr) >> 24) == 127;
	if (sa->sa_family == AF_INET6)
		return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *) sa)->sin6_addr);
	return false;
}

static char *
read_pem(const char *path)
{
	FILE	   *f = AllocateFile(path, "r");
	StringInfoData buf;
	char		chunk[4096];
	size_t		n;

	if (f == NULL)
	{
		ereport(LOG, (errcode_for_file_access(),
					  errmsg("provsecret rest: could not open \"%s\": %m", path)));
		return NULL;
	}
	initStringInfo(&buf);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		appendBinaryStringInfo(&buf, chunk, n);
	explicit_bzero(chunk, sizeof(chunk));
	FreeFile(f);
	return buf.data;
}

static void
forget_tls(void)
{
	if (tls_key)
	{
		explicit_bzero(tls_key, strlen(tls_key));
		pfree(tls_key);
	}
	if (tls_cert)
		pfree(tls_cert);
	tls_key = tls_cert = NULL;
}

/* Load the key pair when both files are set; false on a broken setup. */
static bool
load_tls(bool *use_tls)
{
	bool		have_cert = ps_rest_tls_cert_file && ps_rest_tls_cert_file[0];
	bool		have_key = ps_rest_tls_key_file && ps_rest_tls_key_file[0];
	MemoryContext old;

	*use_tls = false;
	if (!have_cert && !have_key)
		return true;
	if (have_cert != have_key)
	{
		ereport(LOG, (errmsg("provsecret rest: not listening: provsecret.rest_tls_cert_file and provsecret.rest_tls_key_file must be set together")));
		return false;
	}
	if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
	{
		ereport(LOG, (errmsg("provsecret rest: not listening: libmicrohttpd was built without TLS")));
		return false;
	}
	old = MemoryContextSwitchTo(TopMemoryContext);
	tls_cert = read_pem(ps_rest_tls_cert_file);
	tls_key = read_pem(ps_rest_tls_key_file);
	MemoryContextSwitchTo(old);
	if (tls_cert == NULL || tls_key == NULL)
	{
		forget_tls();
		return false;
	}
	*use_tls = true;
	return true;
}

static void
start_one(const struct sockaddr *sa, const char *label, bool use_tls)
{
	unsigned int flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
	struct MHD_OptionItem opts[20];
	int			n = 0;
	struct MHD_Daemon *daemon;
	const union MHD_DaemonInfo *info;

	if (n_listeners == PS_REST_MAX_LISTENERS)
	{
		ereport(LOG, (errmsg("provsecret rest: too many listen addresses, ignoring %s", label)));
		return;
	}
	if (sa->sa_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	if (use_tls)
		flags |= MHD_USE_TLS;

	opts[n++] = (struct MHD_OptionItem) {MHD_OPTION_EXTERNAL_LOGGER, (intptr_t) mhd_logger, NULL};
	opts[n++] = (struct MHD_OptionItem) {MHD_OPTION_SOCK_ADDR, 0, (void *) sa};
	opts[n++] = (struct MHD_OptionItem) {MHD_OPTION_CONNECTION_LIMIT, ps_rest_max_connections, NULL};
	opts[n++] = (struct MHD_OptionItem) {MHD_OPTION_CONNECTION_TIMEOUT, ps_rest_idle_timeout, NULL};
	opts[n++] = (struct MHD_OptionItem) {MHD_OPTION_CONNECTION_MEMORY_LIMIT, CONNECTION_MEMORY, NULL};
	opts[n++] = (struct MHD_OptionItem) {MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024, NULL};
	opts[n++] = (struct MHD_OptionItem) {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t) ps_http_request_completed, NULL};
	opts[n++] = (struct MHD_OptionItem) {MHD_OPTION_NOTIFY_CONNECTION, (intptr_t) ps_http_connection_notify, NULL};
	opts[n++] = (struct MHD_OptionItem) {MHD_OPTION_UNESCAPE_CALLBACK, (intptr_t) ps_http_unescape_none, NULL};
	opts[n++] = (struct MHD_OptionItem) {MHD_OPTION_SIGPIPE_HANDLED_BY_APP, 1, NULL};
	if (ps_rest_workers > 1)
		opts[n++] = (struct MHD_OptionItem) {MHD_OPTION_LISTENING_ADDRESS_REUSE, 1, NULL};
	if (use_tls)
	{
		opts[n++] = (struct MHD_OptionItem) {MHD_OPTION_HTTPS_MEM_CERT, 0, tls_cert};
		opts[n++] = (struct MHD_OptionItem) {MHD_OPTION_HTTPS_MEM_KEY, 0, tls_key};
	}
	opts[n++] = (struct MHD_OptionItem) {MHD_OPTION_END, 0, NULL};

	daemon = MHD_start_daemon(flags, 0, NULL, NULL,
							  ps_http_access_handler, NULL,
							  MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
	if (daemon == NULL)
	{
		ereport(LOG, (errmsg("provsecret rest: could not listen on %s port %d",
							 label, ps_rest_port)));
		return;
	}
	info = MHD_get_daemon_info(daemon, MHD_DAEMON_INFO_EPOLL_FD);
	if (info == NULL)
	{
		MHD_stop_daemon(daemon);
		ereport(LOG, (errmsg("provsecret rest: libmicrohttpd has no epoll descriptor")));
		return;
	}
	listeners[n_listeners].daemon = daemon;
	listeners[n_listeners].epoll_fd = info->epoll_fd;
	n_listeners++;
	ereport(LOG, (errmsg("provsecret rest: listening on %s port %d%s",
						 label, ps_rest_port, use_tls ? " (TLS)" : "")));
}

int
ps_rest_listen_start(void)
{
	char	   *raw;
	List	   *addresses;
	ListCell   *lc;
	bool		use_tls;

	ps_http_max_body = (size_t) ps_rest_max_body;
	if (ps_rest_listen_addresses == NULL || ps_rest_listen_addresses[0] == '\0')
		return 0;
	raw = pstrdup(ps_rest_listen_addresses);
	if (!SplitGUCList(raw, ',', &addresses))
	{
		ereport(LOG, (errmsg("provsecret rest: not listening: provsecret.rest_listen_addresses is not a list of addresses")));
		return 0;
	}
	if (!load_tls(&use_tls))
		return 0;

	starting = true;
	foreach(lc, addresses)
	{
		char	   *host = lfirst(lc);
		struct addrinfo hints = {0};
		struct addrinfo *res = NULL;
		char		port[16];
		int			rc;

		hints.ai_family = AF_UNSPEC;
		hints.ai_socktype = SOCK_STREAM;
		hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
		snprintf(port, sizeof(port), "%d", ps_rest_port);
		rc = getaddrinfo(strcmp(host, "*") == 0 ? NULL : host, port, &hints, &res);
		if (rc != 0)
		{
			ereport(LOG, (errmsg("provsecret rest: could not resolve listen address \"%s\": %s",
								 host, gai_strerror(rc))));
			continue;
		}
		for (struct addrinfo *ai = res; ai; ai = ai->ai_next)
		{
			char		label[INET6_ADDRSTRLEN + 2];

			if (getnameinfo(ai->ai_addr, ai->ai_addrlen, label, sizeof(label),
							NULL, 0, NI_NUMERICHOST) != 0)
				strlcpy(label, host, sizeof(label));
			if (!use_tls && !ps_rest_allow_plain_http && !is_loopback(ai->ai_addr))
			{
				ereport(LOG,
						(errmsg("provsecret rest: refusing to listen on %s without TLS", label),
						 errhint("Set provsecret.rest_tls_cert_file and provsecret.rest_tls_key_file, or provsecret.rest_allow_plain_http = on.")));
				continue;
			}
			start_one(ai->ai_addr, label, use_tls);
		}
		freeaddrinfo(res);
	}
	starting = false;
	list_free(addresses);
	pfree(raw);
	return n_listeners;
}

void
ps_rest_listen_stop(void)
{
	for (int i = 0; i < n_listeners; i++)
		MHD_stop_daemon(listeners[i].daemon);
	n_listeners = 0;
	forget_tls();
}

int
ps_rest_listen_count(void)
{
	return n_listeners;
}

int
ps_rest_listen_epoll_fd(int i)
{
	return listeners[i].epoll_fd;
}

void
ps_rest_listen_run(void)
{
	for (int i = 0; i < n_listeners; i++)
		MHD_run(listeners[i].daemon);
}

long
ps_rest_listen_timeout_ms(void)
{
	long		best = -1;

	for (int i = 0; i < n_listeners; i++)
	{
		MHD_UNSIGNED_LONG_LONG ms;

		if (MHD_get_timeout(listeners[i].daemon, &ms) == MHD_YES)
		{
			long		t = ms > LONG_MAX ? LONG_MAX : (long) ms;

			if (best < 0 || t < best)
				best = t;
		}
	}
	return best;
}
