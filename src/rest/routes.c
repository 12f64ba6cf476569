/*
 * routes.c: the REST routes (docs/rest.md).
 *
 * A request reads top to bottom: path and body checks (pure, rest_parse.c),
 * bearer token (token.c), then the same C functions a SQL caller reaches
 * (secret.c), which authorize (authz.c) and audit (audit.c).  Listings go
 * through SPI on the provsecret views, so row-level security applies.
 */
#include "postgres.h"

#include <jansson.h>

#include "utils/json.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "api/secret.h"
#include "audit/audit.h"
#include "core/principal.h"
#include "core/provsecret.h"
#include "core/reference.h"
#include "rest/rest_health.h"
#include "rest/rest_metrics.h"
#include "rest/rest_openapi.h"
#include "rest/rest_sql.h"
#include "rest/routes.h"
#include "tenancy/authz.h"
#include "tenancy/tenant.h"
#include "tenancy/listing_cache.h"
#include "token/token.h"

void
ps_routes_init(void)
{
	ps_rest_json_use_secure_alloc();
}

/* Serialize (json_dumps uses the wiping allocator) and drop the document. */
static char *
serialize(json_t *doc)
{
	char	   *text = json_dumps(doc, JSON_COMPACT);

	json_decref(doc);
	if (text == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY),
						errmsg("could not serialize the response")));
	return text;
}

static void
answer_json(PsHttpRequest *req, int status, json_t *doc)
{
	char	   *text = serialize(doc);

	ps_http_set_malloced_body(req, status, "application/json", text,
							  strlen(text));
}

static void
answer_health(PsHttpRequest *req)
{
	const char *reason;
	StringInfoData buf;

	if (ps_rest_healthy(&reason))
	{
		ps_http_set_body(req, 200, "application/json", "{\"status\":\"ok\"}", 15);
		return;
	}
	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"status\":\"unavailable\",\"error\":{\"code\":\"unavailable\",\"message\":");
	escape_json(&buf, reason);
	appendStringInfoString(&buf, "}}");
	ps_http_set_body(req, 503, "application/json", buf.data, buf.len);
	pfree(buf.data);
}

/*
 * GET /readyz: 200 {"status":"ready"}, or 503 with a fixed reason code and
 * message (never a key's or the database's own words).
 */
static bool
answer_ready(PsHttpRequest *req, bool in_transaction)
{
	const char *message = NULL;
	const char *code = ps_rest_not_ready(in_transaction, &message);
	StringInfoData buf;

	if (code == NULL)
	{
		if (in_transaction)
			ps_http_set_body(req, 200, "application/json", "{\"status\":\"ready\"}", 18);
		return true;
	}
	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"status\":\"unavailable\",\"reason\":");
	escape_json(&buf, code);
	appendStringInfoString(&buf, ",\"error\":{\"code\":\"unavailable\",\"message\":");
	escape_json(&buf, message);
	appendStringInfoString(&buf, "}}");
	ps_http_set_body(req, 503, "application/json", buf.data, buf.len);
	pfree(buf.data);
	return false;
}

static void
answer_metrics(PsHttpRequest *req)
{
	StringInfoData buf;

	initStringInfo(&buf);
	ps_rest_metrics_render(&buf);
	ps_http_set_body(req, 200, "text/plain; version=0.0.4; charset=utf-8",
					 buf.data, buf.len);
	pfree(buf.data);
}

/* The name rule of references, from the one reference parser. */
static bool
valid_name(const char *s)
{
	return ps_name_is_valid(s, strlen(s));
}

static bool
route_has_name(PsRestRoute route)
{
	return route == PS_ROUTE_WORKSPACE_SECRET ||
		route == PS_ROUTE_COMPANY_PROVIDER ||
		route == PS_ROUTE_PROJECT_PROVIDER;
}

static bool
route_has_owner(PsRestRoute route)
{
	return route != PS_ROUTE_RESOLVE && route != PS_ROUTE_HEALTHZ &&
		route != PS_ROUTE_READYZ &&
		route != PS_ROUTE_METRICS && route != PS_ROUTE_OPENAPI &&
		route != PS_ROUTE_NONE;
}

/*
 * "Bearer <token>": the scheme is case-insensitive, the token one word.
 * NULL for anything else.
 */
static const char *
bearer_or_null(const char *header)
{
	const char *p;

	if (pg_strncasecmp(header, "Bearer ", 7) != 0)
		return NULL;
	p = header + 7;
	while (*p == ' ')
		p++;
	if (*p == '\0' || strpbrk(p, " \t") != NULL)
		return NULL;
	return p;
}

/* Answer a listing from the kept answers, if one is current. */
static bool
answer_kept(PsHttpRequest *req, List *principals)
{
	size_t		len;
	const char *body = ps_listing_lookup(req->match.route, req->match.owner,
										 principals, &len);

	if (body == NULL)
		return false;
	ps_http_set_body(req, 200, "application/json", body, len);
	return true;
}

static bool
route_is_listing(PsRestRoute route)
{
	return route == PS_ROUTE_WORKSPACE_SECRETS ||
		route == PS_ROUTE_COMPANY_PROVIDERS ||
		route == PS_ROUTE_PROJECT_PROVIDERS;
}

/*
 * A listing answered from the kept answers (listing_cache.c) before the
 * request would wait for a batch: only with a token this process verified
 * before and an answer still current for its principals.
 */
static bool
answer_kept_listing(PsHttpRequest *req)
{
	const char *token = bearer_or_null(req->authorization);
	List	   *principals;

	return token != NULL && ps_token_cached_principals(token, &principals) &&
		answer_kept(req, principals);
}

bool
ps_routes_prepare(PsHttpRequest *req)
{
	const char *reason;
	const char *msg;

	switch (req->match_status)
	{
		case PS_MATCH_NOT_FOUND:
			ps_http_set_error(req, 404, "no such route");
			return false;
		case PS_MATCH_METHOD_NOT_ALLOWED:
			ps_rest_allow_header(req->match.allowed, req->allow, sizeof(req->allow));
			ps_http_set_error(req, 405, "method not allowed on this route");
			return false;
		case PS_MATCH_BAD_SEGMENT:
			ps_http_set_error(req, 400, "malformed path segment");
			return false;
		case PS_MATCH_OK:
			break;
	}

	if (req->match.route == PS_ROUTE_HEALTHZ)
	{
		answer_health(req);
		return false;
	}
	/* what needs no transaction now; the rest in the batch, unauthenticated */
	if (req->match.route == PS_ROUTE_READYZ)
		return answer_ready(req, false);
	/* every other route answers 503 until the extension exists */
	if (!ps_rest_ready(&reason))
	{
		ps_http_set_error(req, 503, reason);
		return false;
	}
	switch (req->match.route)
	{
		case PS_ROUTE_METRICS:
			answer_metrics(req);
			return false;
		case PS_ROUTE_OPENAPI:
			ps_http_set_body(req, 200, "application/json", ps_openapi_document,
							 ps_openapi_document_end - ps_openapi_document);
			return false;
		default:
			break;
	}
	if (req->authorization == NULL)
	{
		ps_http_set_error(req, 401, "missing bearer token");
		return false;
	}
	if (route_has_owner(req->match.route) && !valid_name(req->match.owner))
	{
		ps_http_set_error(req, 400, req->match.route == PS_ROUTE_COMPANY_PROVIDERS ||
						  req->match.route == PS_ROUTE_COMPANY_PROVIDER ?
						  "malformed company name" : "malformed workspace or project name");
		return false;
	}
	if (route_has_name(req->match.route) && !valid_name(req->match.name))
	{
		ps_http_set_error(req, 400, req->match.route == PS_ROUTE_WORKSPACE_SECRET ?
						  "malformed secret key" : "malformed provider name");
		return false;
	}
	if (req->if_match != NULL)
	{
		PsIfMatch	kind;
		long		version = 0;

		if (!route_has_name(req->match.route) || req->method != PS_METHOD_PUT)
			msg = "If-Match is honoured on PUT of a secret only";
		else
			msg = ps_rest_parse_if_match(req->if_match, &kind, &version);
		if (msg)
		{
			ps_http_set_error(req, 400, msg);
			return false;
		}
	}
	if (route_is_listing(req->match.route) && answer_kept_listing(req))
		return false;
	if (req->method == PS_METHOD_PUT || req->method == PS_METHOD_POST)
	{
		PsRestBodyField kind = req->match.route == PS_ROUTE_RESOLVE ? PS_BODY_REFERENCE :
			req->match.route == PS_ROUTE_WORKSPACE_SECRET ? PS_BODY_VALUE :
			PS_BODY_CREDENTIAL_VALUE;

		msg = ps_rest_parse_body(req->body ? req->body : "", req->body_len,
								 kind, &req->parsed);
		if (msg)
		{
			ps_http_set_error(req, 400, msg);
			return false;
		}
	}
	return true;
}


/* Verify the request's token and install its principals; returns them. */
static List *
authenticate(PsHttpRequest *req)
{
	const char *token = bearer_or_null(req->authorization);
	char	   *subject = NULL;
	List	   *principals;

	if (token == NULL)
		ereport(ERROR, (errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
						errmsg("Authorization header is not a bearer token")));
	principals = ps_token_authenticate(token, &subject);
	ps_authz_set_token_principals(principals, true);
	return principals;
}

void
ps_routes_require(const char *company, const char *project, PsPermission perm)
{
	if (!ps_authz_allows(company, project, perm))
	{
		PsAuditEvent ev = {0};

		ev.action = "access.denied";
		ev.company = ps_event_company(company, project);
		ev.project = project;
		ev.outcome = "denied";
		ev.count = 1;
		ps_audit_record(&ev, true);
		ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
						errmsg("permission denied: \"%s\" is required",
							   ps_permission_name(perm))));
	}
}

static char *
managed_reference(PsHttpRequest *req)
{
	bool		company = req->match.route == PS_ROUTE_COMPANY_PROVIDER ||
		req->match.route == PS_ROUTE_COMPANY_PROVIDERS;

	return psprintf("managed:%s/%s/%s", company ? "company" : "project",
					req->match.owner, req->match.name);
}

static json_t *
text_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static void
list_secrets(PsHttpRequest *req, List *principals)
{
	bool		company = req->match.route == PS_ROUTE_COMPANY_PROVIDERS;
	bool		with_references = req->match.route != PS_ROUTE_WORKSPACE_SECRETS;
	json_t	   *items;
	List	   *rows;
	ListCell   *lc;
	uint64		generation;
	bool		keep;
	char	   *text;

	if (answer_kept(req, principals))
		return;
	/* the generation first, then the snapshot the answer is made from */
	keep = ps_listing_begin(&generation);
	if (keep)
		PushActiveSnapshot(GetTransactionSnapshot());
	ps_routes_require(company ? req->match.owner : NULL, company ? NULL : req->match.owner,
			PS_PERM_DESCRIBE);
	rows = ps_rest_sql_list(company, req->match.owner);
	items = json_array();
	foreach(lc, rows)
	{
		PsSecretMeta *m = lfirst(lc);

		if (with_references)
			json_array_append_new(items,
								  json_pack("{s:s, s:s, s:o, s:i}",
											"provider", m->name,
											"reference", m->reference,
											"description", text_or_null(m->description),
											"valueVersion", (int) m->value_version));
		else
			json_array_append_new(items,
								  json_pack("{s:s, s:o}", "key", m->name,
											"description", text_or_null(m->description)));
	}
	text = serialize(json_pack("{s:o}", with_references ? "providerSecrets" : "secrets",
							   items));
	/* the request owns text from here, whatever happens next */
	ps_http_set_malloced_body(req, 200, "application/json", text, strlen(text));
	if (keep)
	{
		PopActiveSnapshot();
		ps_listing_store(req->match.route, req->match.owner, principals,
						 generation, text, strlen(text));
	}
}

/* ETag: "<value_version>" on the answer (a strong tag, RFC 9110) */
static void
set_etag(PsHttpRequest *req, int32 value_version)
{
	snprintf(req->etag, sizeof(req->etag), "\"%d\"", (int) value_version);
}

/* The If-Match of the request as seal's expected version (checked in prepare). */
static int32
expected_version(PsHttpRequest *req)
{
	PsIfMatch	kind;
	long		version = 0;

	if (req->if_match == NULL ||
		ps_rest_parse_if_match(req->if_match, &kind, &version) != NULL)
		return PS_SEAL_ANY_VERSION;
	switch (kind)
	{
		case PS_IF_MATCH_STAR:
			return PS_SEAL_MUST_EXIST;
		case PS_IF_MATCH_VERSION:
			return (int32) version;
		case PS_IF_MATCH_NOTHING:
			break;
	}
	return PS_SEAL_NO_MATCH;
}

static void
reveal(PsHttpRequest *req)
{
	char	   *reference = managed_reference(req);
	Size		len = 0;
	char	   *value;
	PsSecretMeta meta;
	bool		found;
	json_t	   *volatile doc = NULL;

	/*
	 * The version before the value: should a write land in between, the
	 * ETag is older than the value and a PUT with it is refused, never the
	 * other way round (a lost update).
	 */
	found = ps_rest_sql_secret(reference, &meta);
	value = ps_secret_resolve(reference, &len);
	if (found)
		set_etag(req, meta.value_version);
	PG_TRY();
	{
		doc = json_pack("{s:s, s:s%, s:o}", "key", req->match.name,
						"value", value, (size_t) len,
						"description", text_or_null(meta.description));
	}
	PG_FINALLY();
	{
		explicit_bzero(value, len);
	}
	PG_END_TRY();
	if (doc == NULL)
		ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION),
						errmsg("secret value is not valid UTF-8")));
	ps_rest_metrics_count_reveal();
	answer_json(req, 200, doc);
}

static void
upsert(PsHttpRequest *req, bool provider)
{
	char	   *reference = managed_reference(req);
	PsSealResult result;
	const char *description = req->parsed.description;

	result = ps_secret_seal_checked(reference, req->parsed.value,
									req->parsed.value_len, description,
									expected_version(req), false);
	set_etag(req, result.value_version);
	if (description == NULL)
	{
		PsSecretMeta meta;

		if (ps_rest_sql_secret(reference, &meta))
			description = meta.description;
	}
	if (provider)
		answer_json(req, result.created ? 201 : 200,
					json_pack("{s:s, s:s, s:o, s:i}",
							  "provider", req->match.name,
							  "reference", result.reference,
							  "description", text_or_null(description),
							  "valueVersion", (int) result.value_version));
	else
		answer_json(req, result.created ? 201 : 200,
					json_pack("{s:s, s:o}", "key", req->match.name,
							  "description", text_or_null(description)));
}

static void
describe_provider(PsHttpRequest *req)
{
	char	   *reference = managed_reference(req);
	bool		company = req->match.route == PS_ROUTE_COMPANY_PROVIDER;
	PsSecretMeta meta;

	ps_routes_require(company ? req->match.owner : NULL, company ? NULL : req->match.owner,
			PS_PERM_DESCRIBE);
	if (!ps_rest_sql_secret(reference, &meta))
		ereport(ERROR, (errcode(ERRCODE_NO_DATA_FOUND),
						errmsg("secret not found")));
	set_etag(req, meta.value_version);
	answer_json(req, 200,
				json_pack("{s:s, s:s, s:o, s:i}", "provider", req->match.name,
						  "reference", reference,
						  "description", text_or_null(meta.description),
						  "valueVersion", (int) meta.value_version));
}

static void
resolve(PsHttpRequest *req)
{
	const char *reference = req->parsed.reference;
	Size		len = 0;
	char	   *value = ps_secret_resolve(reference, &len);
	json_t	   *doc;

	doc = json_pack("{s:s, s:s%}", "reference", reference,
					"value", value, (size_t) len);
	explicit_bzero(value, len);
	if (doc == NULL)
		ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION),
						errmsg("secret value is not valid UTF-8")));
	ps_rest_metrics_count_reveal();
	answer_json(req, 200, doc);
}

void
ps_routes_execute(PsHttpRequest *req)
{
	List	   *principals;

	if (req->match.route == PS_ROUTE_READYZ)
	{
		(void) answer_ready(req, true);
		return;
	}
	principals = authenticate(req);

	switch (req->match.route)
	{
		case PS_ROUTE_WORKSPACE_SECRETS:
		case PS_ROUTE_COMPANY_PROVIDERS:
		case PS_ROUTE_PROJECT_PROVIDERS:
			list_secrets(req, principals);
			break;
		case PS_ROUTE_WORKSPACE_SECRET:
		case PS_ROUTE_COMPANY_PROVIDER:
		case PS_ROUTE_PROJECT_PROVIDER:
			if (req->method == PS_METHOD_PUT)
				upsert(req, req->match.route != PS_ROUTE_WORKSPACE_SECRET);
			else if (req->method == PS_METHOD_DELETE)
			{
				(void) ps_secret_delete(managed_reference(req));
				ps_http_set_body(req, 204, "application/json", "", 0);
			}
			else if (req->match.route == PS_ROUTE_WORKSPACE_SECRET)
				reveal(req);
			else
				describe_provider(req);
			break;
		case PS_ROUTE_RESOLVE:
			resolve(req);
			break;
		default:
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg_internal("route %d does not use the database", req->match.route)));
	}
}
