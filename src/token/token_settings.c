/*
 * token_settings.c: the provsecret.jwt_* settings, and generations that tell
 * the caches (jwks_cache.c, token_cache.c) when a setting they depend on
 * changed or was reloaded.
 */
#include "postgres.h"

#include "utils/guc.h"

#include "core/provsecret.h"
#include "outbound/outbound.h"
#include "token/jwt.h"
#include "token/token_settings.h"

char	   *ps_jwt_issuer = NULL;
char	   *ps_jwt_audience = NULL;
char	   *ps_jwt_jwks_url = NULL;
char	   *ps_jwt_jwks_file = NULL;
char	   *ps_jwt_algorithms = NULL;
int			ps_jwt_leeway = 30;

/* Bumped by every change of a setting the verifier reads (token_cache.c). */
static uint32 settings_generation = 0;

/* Bumped by every (re)load of the JWKS source settings (jwks_cache.c). */
static uint32 jwks_source_generation = 0;

uint32
ps_token_settings_generation(void)
{
	return settings_generation;
}

uint32
ps_token_jwks_source_generation(void)
{
	return jwks_source_generation;
}

static void
assign_verifier_setting(const char *newval, void *extra)
{
	settings_generation++;
}

static void
assign_leeway(int newval, void *extra)
{
	settings_generation++;
}

static bool
check_algorithms(char **newval, void **extra, GucSource source)
{
	unsigned int mask;

	if (!ps_jwt_parse_algorithms(*newval, &mask))
	{
		GUC_check_errdetail("List one or more of RS256, ES256 and EdDSA, comma-separated; \"none\" and HMAC algorithms are never accepted.");
		return false;
	}
	return true;
}

static bool
check_jwks_url(char **newval, void **extra, GucSource source)
{
	char		err[128];

	if (*newval == NULL || (*newval)[0] == '\0')
		return true;
	if (!ps_outbound_url_allowed(*newval, err, sizeof(err)))
	{
		GUC_check_errdetail("%s", err);
		return false;
	}
	return true;
}

/* Called on every (re)load of the setting, so SIGHUP also re-reads the keys. */
static void
assign_jwks_source(const char *newval, void *extra)
{
	jwks_source_generation++;
	settings_generation++;
}

void
ps_token_define_gucs(void)
{
	DefineCustomStringVariable("provsecret.jwt_issuer",
							   "Issuer (iss) that bearer tokens must carry, e.g. https://keycloak.example.com/realms/prod.",
							   NULL, &ps_jwt_issuer, "",
							   PGC_SIGHUP, 0, NULL, assign_verifier_setting, NULL);
	DefineCustomStringVariable("provsecret.jwt_audience",
							   "Audience that bearer tokens must name in aud (or azp).",
							   NULL, &ps_jwt_audience, "",
							   PGC_SIGHUP, 0, NULL, assign_verifier_setting, NULL);
	DefineCustomStringVariable("provsecret.jwt_jwks_url",
							   "URL of the issuer's JWKS (https, or http to loopback).",
							   NULL, &ps_jwt_jwks_url, "",
							   PGC_SIGHUP, 0,
							   check_jwks_url, assign_jwks_source, NULL);
	DefineCustomStringVariable("provsecret.jwt_jwks_file",
							   "File holding the issuer's JWKS; takes precedence over provsecret.jwt_jwks_url.",
							   NULL, &ps_jwt_jwks_file, "",
							   PGC_SIGHUP, 0,
							   NULL, assign_jwks_source, NULL);
	DefineCustomStringVariable("provsecret.jwt_algorithms",
							   "Signature algorithms accepted for bearer tokens.",
							   NULL, &ps_jwt_algorithms, "RS256,ES256,EdDSA",
							   PGC_SIGHUP, 0,
							   check_algorithms, assign_verifier_setting, NULL);
	DefineCustomIntVariable("provsecret.jwt_leeway",
							"Clock skew tolerated when checking exp, nbf and iat.",
							NULL, &ps_jwt_leeway, 30, 0, 3600,
							PGC_SIGHUP, GUC_UNIT_S, NULL, assign_leeway, NULL);
}
