/*
 * rest_settings.c: the provsecret.rest_* settings, read by the listener, the
 * router and the worker; and provsecret.metrics_resolver_names, which
 * decides what the /metrics page (no token needed) shows of the resolvers
 * (its variable is resolver_metrics.c's, which renders those series).
 */
#include "postgres.h"

#include "utils/guc.h"

#include "external/resolver_metrics.h"
#include "rest/rest_settings.h"
#include "rest/vault_parse.h"

char	   *ps_rest_listen_addresses = NULL;
int			ps_rest_port = 8787;
int			ps_rest_workers = 1;
int			ps_rest_max_connections = 512;
int			ps_rest_idle_timeout = 10;
int			ps_rest_max_body = 65536;
char	   *ps_rest_tls_cert_file = NULL;
char	   *ps_rest_tls_key_file = NULL;
bool		ps_rest_allow_plain_http = false;
bool		ps_vault_api = true;
char	   *ps_vault_mount = NULL;

/* The mount may not shadow a native /v1/ name (vault_parse.c's list). */
static bool
check_vault_mount(char **newval, void **extra, GucSource source)
{
	if (*newval == NULL || ps_vault_mount_reserved(*newval))
	{
		GUC_check_errdetail("The mount must be one path segment and not a native /v1/ name such as workspaces, companies, projects, resolve, openapi.json, auth or sys.");
		return false;
	}
	return true;
}

void
ps_rest_define_gucs(void)
{
	DefineCustomStringVariable("provsecret.rest_listen_addresses",
							   "Addresses the REST listener binds (comma-separated; empty disables REST).",
							   NULL, &ps_rest_listen_addresses, "127.0.0.1",
							   PGC_SIGHUP, GUC_LIST_INPUT, NULL, NULL, NULL);
	DefineCustomIntVariable("provsecret.rest_port",
							"TCP port of the REST listener.",
							NULL, &ps_rest_port, 8787, 1, 65535,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("provsecret.rest_workers",
							"Number of REST listener workers (they share the port with SO_REUSEPORT).",
							NULL, &ps_rest_workers, 1, 1, 64,
							PGC_POSTMASTER, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("provsecret.rest_max_connections",
							"Most open REST connections per listener.",
							NULL, &ps_rest_max_connections, 512, 1, 100000,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("provsecret.rest_idle_timeout",
							"Seconds a REST connection may stay idle or slow before it is closed.",
							NULL, &ps_rest_idle_timeout, 10, 1, 3600,
							PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("provsecret.rest_max_body",
							"Largest REST request body.",
							NULL, &ps_rest_max_body, 65536, 1024, 64 * 1024 * 1024,
							PGC_SIGHUP, GUC_UNIT_BYTE, NULL, NULL, NULL);
	DefineCustomStringVariable("provsecret.rest_tls_cert_file",
							   "PEM certificate (chain) of the REST listener; enables TLS with rest_tls_key_file.",
							   NULL, &ps_rest_tls_cert_file, "",
							   PGC_SIGHUP, GUC_SUPERUSER_ONLY, NULL, NULL, NULL);
	DefineCustomStringVariable("provsecret.rest_tls_key_file",
							   "PEM private key of the REST listener.",
							   NULL, &ps_rest_tls_key_file, "",
							   PGC_SIGHUP, GUC_SUPERUSER_ONLY, NULL, NULL, NULL);
	DefineCustomBoolVariable("provsecret.rest_allow_plain_http",
							 "Allow plain HTTP on non-loopback REST listen addresses.",
							 NULL, &ps_rest_allow_plain_http, false,
							 PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomBoolVariable("provsecret.vault_api",
							 "Serve the Vault KV v2-compatible dialect on the REST listener.",
							 NULL, &ps_vault_api, true,
							 PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("provsecret.vault_mount",
							   "Mount name of the Vault KV v2-compatible dialect (/v1/<mount>/data/...).",
							   NULL, &ps_vault_mount, "secret",
							   PGC_SIGHUP, 0, check_vault_mount, NULL, NULL);
	DefineCustomBoolVariable("provsecret.metrics_resolver_names",
							 "Label the resolver series of /metrics with resolver names instead of kinds (the page needs no token).",
							 NULL,
							 &ps_resolver_metrics_names,
							 false,
							 PGC_SIGHUP,
							 0,
							 NULL, NULL, NULL);
}
