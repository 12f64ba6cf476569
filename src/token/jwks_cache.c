/*
 * jwks_cache.c: where the token verifier's keys come from.
 *
 * One cache per process (backend or REST worker).  A file source is
 * stat()ed on every use, which is cheap and picks up a rotated file at once;
 * a URL source is fetched with the latch-driven client of outbound.c, and
 * every refetch is rate limited so a stream of tokens with made-up kids
 * cannot turn the server into a load generator against Keycloak.
 */
#include "postgres.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage/fd.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "core/provsecret.h"
#include "outbound/outbound.h"
#include "token/jwks_cache.h"
#include "token/token_settings.h"

#define JWKS_CONNECT_TIMEOUT_MS	3000
#define JWKS_TOTAL_TIMEOUT_MS	5000
#define JWKS_MAX_AGE_MS			(300 * 1000)	/* refresh a URL source this often */
#define JWKS_KID_REFETCH_MS		(10 * 1000)		/* an unknown kid refetches at most this often */
#define JWKS_RETRY_MS			1000	/* after a failed first fetch */

typedef struct JwksCache
{
	PsJwks	   *jwks;			/* malloc'd by jwks.c */
	char	   *source;			/* path or URL, in TopMemoryContext */
	bool		is_file;
	struct stat file_stat;		/* of the file jwks was read from */
	TimestampTz loaded_at;
	TimestampTz last_attempt;	/* last fetch, successful or not */
	TimestampTz last_kid_refetch;
	char		last_error[256];
} JwksCache;

static JwksCache cache;
static uint32 source_generation_seen = 0;	/* ps_token_jwks_source_generation */
static uint32 cache_generation = 0;

uint32
ps_jwks_cache_generation(void)
{
	return cache_generation;
}

/* The source settings were (re)loaded since the set was read. */
static bool
source_reloaded(void)
{
	return source_generation_seen != ps_token_jwks_source_generation();
}

static void
cache_reset(const char *source, bool is_file)
{
	ps_jwks_free(cache.jwks);
	cache_generation++;
	if (cache.source)
		pfree(cache.source);
	memset(&cache, 0, sizeof(cache));
	cache.source = MemoryContextStrdup(TopMemoryContext, source);
	cache.is_file = is_file;
}

static void
cache_install(PsJwks *jwks)
{
	ps_jwks_free(cache.jwks);
	cache_generation++;
	cache.jwks = jwks;
	cache.loaded_at = GetCurrentTimestamp();
}

static bool
same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino &&
		a->st_size == b->st_size &&
		a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
		a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
		a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
		a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

static void
read_jwks_file(const char *path)
{
	int			fd;
	struct stat st;
	char	   *buf;
	size_t		len = 0;
	char		err[256];
	PsJwks	   *jwks;

	fd = OpenTransientFile(path, O_RDONLY | PG_BINARY);
	if (fd < 0)
		ereport(ERROR,
				(errcode(ERRCODE_IO_ERROR),
				 errmsg("could not open JWKS file \"%s\": %m", path),
				 errhint("Check provsecret.jwt_jwks_file.")));
	if (fstat(fd, &st) != 0 || st.st_size > PS_JWKS_MAX_BYTES)
	{
		CloseTransientFile(fd);
		ereport(ERROR,
				(errcode(ERRCODE_IO_ERROR),
				 errmsg("JWKS file \"%s\" is unreadable or larger than %d bytes",
						path, PS_JWKS_MAX_BYTES)));
	}
	buf = palloc(st.st_size + 1);
	while (len < (size_t) st.st_size)
	{
		ssize_t		n = read(fd, buf + len, st.st_size - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += n;
	}
	CloseTransientFile(fd);

	jwks = ps_jwks_parse(buf, len, err, sizeof(err));
	pfree(buf);
	if (jwks == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_IO_ERROR),
				 errmsg("could not load JWKS file \"%s\": %s", path, err)));
	cache_install(jwks);
	cache.file_stat = st;
}

/* Fetch the URL; false with cache.last_error set on failure. */
static bool
fetch_url(const char *url)
{
	PsOutboundRequest req = {url, NULL, JWKS_CONNECT_TIMEOUT_MS,
	JWKS_TOTAL_TIMEOUT_MS, PS_JWKS_MAX_BYTES};
	PsOutboundResponse resp;
	char		err[256];
	PsJwks	   *jwks;

	req.operator_url = true;	/* set by a superuser: not bound by the allowlist */
	cache.last_attempt = GetCurrentTimestamp();
	if (!ps_outbound_get(&req, &resp))
	{
		snprintf(cache.last_error, sizeof(cache.last_error), "%s", resp.error);
		return false;
	}
	if (resp.status != 200)
	{
		snprintf(cache.last_error, sizeof(cache.last_error),
				 "the JWKS endpoint answered HTTP %ld", resp.status);
		pfree(resp.body);
		return false;
	}
	jwks = ps_jwks_parse(resp.body, resp.body_len, err, sizeof(err));
	pfree(resp.body);
	if (jwks == NULL)
	{
		snprintf(cache.last_error, sizeof(cache.last_error), "%s", err);
		return false;
	}
	cache_install(jwks);
	cache.last_error[0] = '\0';
	return true;
}

static bool
elapsed_ms(TimestampTz since, TimestampTz now, int ms)
{
	return since == 0 || TimestampDifferenceExceeds(since, now, ms);
}

static void
refresh_from_url(const char *url, bool unknown_kid)
{
	TimestampTz now = GetCurrentTimestamp();

	if (cache.jwks == NULL)
	{
		if (elapsed_ms(cache.last_attempt, now, JWKS_RETRY_MS))
			(void) fetch_url(url);
		if (cache.jwks == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_IO_ERROR),
					 errmsg("could not fetch the JWKS: %s",
							cache.last_error[0] ? cache.last_error : "fetch failed"),
					 errhint("Check provsecret.jwt_jwks_url.")));
		return;
	}
	if (unknown_kid && elapsed_ms(cache.last_kid_refetch, now, JWKS_KID_REFETCH_MS))
		cache.last_kid_refetch = now;
	else if (!(elapsed_ms(cache.loaded_at, now, JWKS_MAX_AGE_MS) &&
			   elapsed_ms(cache.last_attempt, now, JWKS_KID_REFETCH_MS)))
		return;
	if (!fetch_url(url))
		ereport(LOG,
				(errmsg("could not refresh the JWKS, keeping the cached keys: %s",
						cache.last_error)));
}

/* The configured source: the file if set, else the URL; NULL if neither. */
static const char *
configured_source(bool *is_file)
{
	*is_file = ps_jwt_jwks_file != NULL && ps_jwt_jwks_file[0] != '\0';
	if (*is_file)
		return ps_jwt_jwks_file;
	if (ps_jwt_jwks_url == NULL || ps_jwt_jwks_url[0] == '\0')
		return NULL;
	return ps_jwt_jwks_url;
}

bool
ps_jwks_cache_usable(uint32 *generation)
{
	bool		is_file;
	const char *source = configured_source(&is_file);

	if (source == NULL || source_reloaded() || cache.jwks == NULL ||
		cache.source == NULL || cache.is_file != is_file ||
		strcmp(cache.source, source) != 0)
		return false;
	if (is_file)
	{
		struct stat st;

		if (stat(source, &st) != 0 || !same_file(&st, &cache.file_stat))
			return false;
	}
	else if (elapsed_ms(cache.loaded_at, GetCurrentTimestamp(), JWKS_MAX_AGE_MS))
		return false;
	*generation = cache_generation;
	return true;
}

const PsJwks *
ps_jwks_cache_get(bool unknown_kid)
{
	bool		is_file;
	const char *source = configured_source(&is_file);

	if (source == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("no JWKS is configured for bearer tokens"),
				 errhint("Set provsecret.jwt_jwks_file or provsecret.jwt_jwks_url.")));
	if (source_reloaded() || cache.source == NULL || cache.is_file != is_file ||
		strcmp(cache.source, source) != 0)
	{
		cache_reset(source, is_file);
		source_generation_seen = ps_token_jwks_source_generation();
	}

	if (is_file)
	{
		struct stat st;

		if (stat(source, &st) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_IO_ERROR),
					 errmsg("could not stat JWKS file \"%s\": %m", source),
					 errhint("Check provsecret.jwt_jwks_file.")));
		if (cache.jwks == NULL || !same_file(&st, &cache.file_stat))
			read_jwks_file(source);
	}
	else
		refresh_from_url(source, unknown_kid);
	return cache.jwks;
}
