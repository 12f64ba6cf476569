/*
 * ui_oidc.c: discovery, authorization URL and code exchange (ui_oidc.h).
 *
 * The discovery document is read once per worker and again after five
 * minutes or when provsecret.jwt_issuer changes; its issuer must be the
 * configured one exactly (OpenID Connect Discovery 1.0, section 4.3).
 */
#include "postgres.h"

#include <time.h>
#include <curl/curl.h>
#include <jansson.h>
#include <sodium.h>

#include "lib/stringinfo.h"

#include "outbound/outbound.h"
#include "token/token_settings.h"
#include "ui/ui_oidc.h"
#include "ui/ui_settings.h"

#define DISCOVERY_MAX_AGE 300
#define CALL_CONNECT_MS 3000
#define CALL_TOTAL_MS 5000
#define MAX_RESPONSE (256 * 1024)

/* malloc'd: they outlive every transaction */
static char *cached_issuer = NULL;
static char *authorization_endpoint = NULL;
static char *token_endpoint = NULL;
static time_t fetched_at = 0;

static void
require_configured(void)
{
	if (ps_jwt_issuer == NULL || ps_jwt_issuer[0] == '\0' ||
		ps_ui_client_id == NULL || ps_ui_client_id[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("sign-in is not configured"),
				 errhint("Set provsecret.jwt_issuer and provsecret.ui_client_id.")));
}

static void
discovery_failed(const char *why)
{
	ereport(ERROR,
			(errcode(ERRCODE_IO_ERROR),
			 errmsg("the OpenID provider's discovery document could not be read: %s", why)));
}

static char *
string_member(json_t *doc, const char *name)
{
	json_t	   *v = json_object_get(doc, name);

	return json_is_string(v) ? strdup(json_string_value(v)) : NULL;
}

static void
discover(void)
{
	PsOutboundRequest req = {0};
	PsOutboundResponse resp = {0};
	char	   *url;
	size_t		ilen = strlen(ps_jwt_issuer);
	json_t	   *doc;
	json_error_t jerr;
	char	   *issuer,
			   *authz,
			   *token;

	if (cached_issuer != NULL && strcmp(cached_issuer, ps_jwt_issuer) == 0 &&
		time(NULL) - fetched_at < DISCOVERY_MAX_AGE)
		return;
	url = psprintf("%.*s/.well-known/openid-configuration",
				   (int) (ilen > 0 && ps_jwt_issuer[ilen - 1] == '/' ? ilen - 1 : ilen),
				   ps_jwt_issuer);
	req.url = url;
	req.connect_timeout_ms = CALL_CONNECT_MS;
	req.total_timeout_ms = CALL_TOTAL_MS;
	req.max_response_bytes = MAX_RESPONSE;
	req.operator_url = true;	/* derived from provsecret.jwt_issuer */
	if (!ps_outbound_get(&req, &resp))
		discovery_failed(resp.error);
	if (resp.status != 200)
		discovery_failed(psprintf("HTTP status %ld", resp.status));
	doc = json_loadb(resp.body, resp.body_len, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(doc))
	{
		json_decref(doc);
		discovery_failed("not a JSON object");
	}
	issuer = string_member(doc, "issuer");
	authz = string_member(doc, "authorization_endpoint");
	token = string_member(doc, "token_endpoint");
	json_decref(doc);
	if (issuer == NULL || authz == NULL || token == NULL ||
		strcmp(issuer, ps_jwt_issuer) != 0)
	{
		free(issuer);
		free(authz);
		free(token);
		discovery_failed("issuer, authorization_endpoint or token_endpoint missing, or the issuer is not provsecret.jwt_issuer");
	}
	free(cached_issuer);
	free(authorization_endpoint);
	free(token_endpoint);
	cached_issuer = issuer;
	authorization_endpoint = authz;
	token_endpoint = token;
	fetched_at = time(NULL);
}

/* name=value&, percent-encoded by libcurl */
static void
append_param(StringInfo buf, const char *name, const char *value)
{
	char	   *escaped = curl_easy_escape(NULL, value, 0);

	if (escaped == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	if (buf->len > 0 && buf->data[buf->len - 1] != '?')
		appendStringInfoChar(buf, '&');
	appendStringInfo(buf, "%s=%s", name, escaped);
	curl_free(escaped);
}

/* BASE64URL(SHA-256(verifier)), RFC 7636 section 4.2 */
static void
code_challenge(const char *verifier, char *out, size_t size)
{
	unsigned char digest[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(digest, (const unsigned char *) verifier, strlen(verifier));
	sodium_bin2base64(out, size, digest, sizeof(digest),
					  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

char *
ps_ui_oidc_authorize_url(const PsUiLogin *login, const char *redirect_uri)
{
	StringInfoData buf;
	char		challenge[sodium_base64_ENCODED_LEN(crypto_hash_sha256_BYTES,
												   sodium_base64_VARIANT_URLSAFE_NO_PADDING)];

	require_configured();
	discover();
	code_challenge(login->verifier, challenge, sizeof(challenge));
	initStringInfo(&buf);
	appendStringInfo(&buf, "%s%c", authorization_endpoint,
					 strchr(authorization_endpoint, '?') ? '&' : '?');
	append_param(&buf, "response_type", "code");
	append_param(&buf, "client_id", ps_ui_client_id);
	append_param(&buf, "redirect_uri", redirect_uri);
	append_param(&buf, "scope", "openid");
	append_param(&buf, "state", login->state);
	append_param(&buf, "nonce", login->nonce);
	append_param(&buf, "code_challenge", challenge);
	append_param(&buf, "code_challenge_method", "S256");
	return buf.data;
}

static char *
take_string(json_t *doc, const char *name)
{
	json_t	   *v = json_object_get(doc, name);

	return json_is_string(v) ? pstrdup(json_string_value(v)) : NULL;
}

void
ps_ui_oidc_exchange(const char *code, const PsUiLogin *login,
					const char *redirect_uri, char **access_token,
					char **id_token)
{
	PsOutboundRequest req = {0};
	PsOutboundResponse resp = {0};
	const char *headers[] = {"Content-Type: application/x-www-form-urlencoded", NULL};
	StringInfoData body;
	json_t	   *doc;
	json_error_t jerr;

	require_configured();
	discover();
	initStringInfo(&body);
	append_param(&body, "grant_type", "authorization_code");
	append_param(&body, "code", code);
	append_param(&body, "redirect_uri", redirect_uri);
	append_param(&body, "client_id", ps_ui_client_id);
	append_param(&body, "code_verifier", login->verifier);
	req.url = token_endpoint;
	req.headers = headers;
	req.method = "POST";
	req.body = body.data;
	req.body_len = body.len;
	req.connect_timeout_ms = CALL_CONNECT_MS;
	req.total_timeout_ms = CALL_TOTAL_MS;
	req.max_response_bytes = MAX_RESPONSE;
	req.operator_url = true;	/* named by the issuer's own document */
	if (!ps_outbound_request(&req, &resp))
	{
		explicit_bzero(body.data, body.len);
		ereport(ERROR,
				(errcode(ERRCODE_IO_ERROR),
				 errmsg("the OpenID provider's token endpoint could not be reached: %s",
						resp.error)));
	}
	explicit_bzero(body.data, body.len);
	doc = json_loadb(resp.body, resp.body_len, JSON_REJECT_DUPLICATES, &jerr);
	explicit_bzero(resp.body, resp.body_len);
	if (resp.status != 200 || !json_is_object(doc))
	{
		json_decref(doc);
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("the OpenID provider refused the sign-in (HTTP status %ld)",
						resp.status)));
	}
	*access_token = take_string(doc, "access_token");
	*id_token = take_string(doc, "id_token");
	json_decref(doc);
	if (*access_token == NULL || *id_token == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("the OpenID provider's answer has no access token or ID token")));
}
