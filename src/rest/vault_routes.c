/*
 * vault_routes.c: the Vault KV v2 dialect of the REST listener
 * (docs/vault.md).
 *
 * Nothing here decides access: a request goes path and body checks (pure,
 * vault_parse.c), token (vault_auth.c, with the verification native REST
 * uses), then the secret API (api/secret.c, api/versions.c) or
 * ps_routes_require and the provsecret views, exactly as routes.c does;
 * audit channel "vault" (rest_batch.c).  Answers are shaped by
 * vault_answer.c.
 */
#include "postgres.h"

#include <jansson.h>

#include "access/xlog.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "api/secret.h"
#include "api/versions.h"
#include "core/principal.h"
#include "core/provsecret.h"
#include "core/reference.h"
#include "rest/rest_health.h"
#include "rest/rest_parse.h"
#include "rest/rest_metrics.h"
#include "rest/rest_sql.h"
#include "rest/routes.h"
#include "rest/vault_answer.h"
#include "rest/vault_auth.h"
#include "rest/vault_routes.h"
#include "tenancy/listing_cache.h"
#include "token/token.h"

/* -D by the Makefile, from provsecret.control's default_version */
#ifndef PROVSECRET_VERSION
#error "PROVSECRET_VERSION is not defined: build with the Makefile"
#endif

#define CAS_MISMATCH "check-and-set parameter did not match the current version"

/*
 * The listing cache's route of a Vault list (listing_cache.h), apart from
 * the native PsRestRoute values: what is kept is the envelope's data,
 * {"keys":[...]}, since the envelope carries each request's id.
 */
#define VAULT_LISTING_ROUTE(company) ((company) ? 1001 : 1000)

/*
 * A list answered from the kept listings before the request would wait
 * for a batch, as native listings are (routes.c): only with a token this
 * process verified before and an answer still current for its principals,
 * which were allowed to describe the tenant when it was kept.
 */
static bool
answer_kept_listing(PsHttpRequest *req)
{
	PsVaultMatch *m = &req->vault_match;
	const char *token = ps_vault_token_or_null(req);
	List	   *principals;
	const char *body;
	size_t		len;

	if (token == NULL || !ps_token_cached_principals(token, &principals))
		return false;
	body = ps_listing_lookup(VAULT_LISTING_ROUTE(m->company), m->tenant,
							 principals, &len);
	if (body == NULL)
		return false;
	ps_vault_answer_data_text(req, body, len);
	return true;
}

static bool
valid_name(const char *s)
{
	return ps_name_is_valid(s, strlen(s));
}

static void
health(PsHttpRequest *req)
{
	const char *reason;
	bool		initialized = ps_rest_ready(&reason);
	bool		sealed = !initialized || !ps_rest_healthy(&reason);
	bool		standby = RecoveryInProgress();
	int			status = !initialized ? 501 : sealed ? 503 : standby ? 429 : 200;

	ps_vault_answer(req, status,
		   json_pack("{s:b, s:b, s:b, s:s, s:s, s:I}",
					 "initialized", initialized, "sealed", sealed,
					 "standby", standby, "version", PROVSECRET_VERSION "+provsecret",
					 "cluster_name", "provsecret",
					 "server_time_utc", (json_int_t) time(NULL)));
}

bool
ps_vault_prepare(PsHttpRequest *req)
{
	PsVaultMatch *m = &req->vault_match;
	const char *reason;
	const char *msg;

	if (m->status != 0)
	{
		if (m->status == 405)
			strlcpy(req->allow, "GET, PUT, POST, DELETE, LIST", sizeof(req->allow));
		ps_http_set_error(req, m->status, m->error);
		return false;
	}
	if (m->route == PS_VAULT_HEALTH)
	{
		health(req);
		return false;
	}
	if (!ps_rest_ready(&reason))
	{
		ps_http_set_error(req, 503, reason);
		return false;
	}
	if (m->route != PS_VAULT_JWT_LOGIN && req->authorization == NULL)
	{
		ps_http_set_error(req, 403, "permission denied");
		return false;
	}
	if ((m->route == PS_VAULT_DATA || m->route == PS_VAULT_METADATA ||
		 m->route == PS_VAULT_LIST) && !valid_name(m->tenant))
	{
		ps_http_set_error(req, 400, m->company ? "malformed company name" :
						  "malformed workspace or project name");
		return false;
	}
	if ((m->route == PS_VAULT_DATA || m->route == PS_VAULT_METADATA) &&
		!valid_name(m->name))
	{
		ps_http_set_error(req, 400, "malformed secret name");
		return false;
	}
	if (req->vault_version < 0)
	{
		ps_http_set_error(req, 400, "version must be a positive integer");
		return false;
	}
	if (m->route == PS_VAULT_LIST && answer_kept_listing(req))
		return false;
	if (m->route == PS_VAULT_DATA &&
		(m->method == PS_VAULT_PUT || m->method == PS_VAULT_POST))
	{
		msg = ps_vault_parse_write(req->body ? req->body : "", req->body_len,
								   &req->vault_write);
		if (msg)
		{
			ps_http_set_error(req, 400, msg);
			return false;
		}
	}
	if (m->route == PS_VAULT_JWT_LOGIN)
	{
		msg = ps_vault_parse_login(req->body ? req->body : "", req->body_len,
								   &req->vault_jwt, &req->vault_write.root);
		if (msg)
		{
			ps_http_set_error(req, 400, msg);
			return false;
		}
	}
	return true;
}

static char *
reference(PsVaultMatch *m)
{
	return psprintf("managed:%s/%s/%s", m->company ? "company" : "project",
					m->tenant, m->name);
}

static json_t *
custom_metadata(PsSecretMeta *meta)
{
	return meta->description ?
		json_pack("{s:s}", "description", meta->description) :
		json_pack("{}");		/* not json_object(): the server has one */
}

/* The metadata of one version, as Vault's data endpoints show it. */
static json_t *
version_metadata(PsSecretMeta *meta, int version)
{
	return json_pack("{s:s, s:o, s:s, s:b, s:i}",
					 "created_time", meta->updated_at ? meta->updated_at : "",
					 "custom_metadata", custom_metadata(meta),
					 "deletion_time", "", "destroyed", 0, "version", version);
}

/* Vault's data.data and data.metadata around a revealed value. */
static json_t *
data_doc(const char *value, Size len, PsSecretMeta *meta, int version)
{
	return json_pack("{s:{s:s%}, s:o}", "data", "key", value, (size_t) len,
					 "metadata", version_metadata(meta, version));
}

static void
read_data(PsHttpRequest *req)
{
	PsVaultMatch *m = &req->vault_match;
	char	   *ref = reference(m);
	PsSecretMeta meta;
	bool		described = false;
	Size		len = 0;
	char	   *value;
	json_t	   *volatile doc = NULL;

	if (req->vault_version > 0)
		described = ps_rest_sql_secret(ref, &meta);

	/*
	 * ?version=N other than the current one the caller can see: that version,
	 * current or kept, through the API (read permission, audited as a reveal
	 * of version N; 404 when not kept).  The row is visible to describers
	 * only: a reader without describe always takes this path.
	 */
	if (req->vault_version > 0 &&
		!(described && meta.value_version == req->vault_version))
	{
		char	   *created_at = NULL;

		value = ps_secret_resolve_version(ref, req->vault_version, &len,
										  &created_at);
		if (!described)
			memset(&meta, 0, sizeof(meta));
		meta.updated_at = created_at;
		PG_TRY();
		{
			doc = data_doc(value, len, &meta, req->vault_version);
		}
		PG_FINALLY();
		{
			explicit_bzero(value, len);
		}
		PG_END_TRY();
	}
	else
	{
		value = ps_secret_resolve(ref, &len);
		PG_TRY();
		{
			if (!ps_rest_sql_secret(ref, &meta))
				memset(&meta, 0, sizeof(meta));
			if (req->vault_version > 0 && meta.value_version != 0 &&
				meta.value_version != req->vault_version)
				ereport(ERROR, (errcode(ERRCODE_NO_DATA_FOUND),
								errmsg("secret version not found")));
			doc = data_doc(value, len, &meta, meta.value_version);
		}
		PG_FINALLY();
		{
			explicit_bzero(value, len);
		}
		PG_END_TRY();
	}
	if (doc == NULL)
		ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION),
						errmsg("secret value is not valid UTF-8")));
	ps_rest_metrics_count_reveal();
	ps_vault_answer(req, 200, ps_vault_envelope(req, doc));
}

static void
write_data(PsHttpRequest *req)
{
	PsVaultMatch *m = &req->vault_match;
	PsVaultWrite *w = &req->vault_write;
	char	   *ref = reference(m);
	PsSecretMeta meta;
	PsSealResult result;
	MemoryContext cxt = CurrentMemoryContext;

	/*
	 * cas is compared under the row lock the write takes (0: must not
	 * exist), after the write permission: a mismatch tells a writer only.
	 */
	PG_TRY();
	{
		result = ps_secret_seal_checked(ref, w->value, w->value_len, NULL,
										w->has_cas ? w->cas : PS_SEAL_ANY_VERSION,
										false);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		if (edata->sqlerrcode != ERRCODE_PS_VERSION_MISMATCH)
			PG_RE_THROW();
		FlushErrorState();
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg(CAS_MISMATCH)));
	}
	PG_END_TRY();
	if (!ps_rest_sql_secret(ref, &meta))
		memset(&meta, 0, sizeof(meta));
	ps_vault_answer(req, 200, ps_vault_envelope(req, version_metadata(&meta, result.value_version)));
}

static void
read_metadata(PsHttpRequest *req)
{
	PsVaultMatch *m = &req->vault_match;
	char	   *ref = reference(m);
	PsSecretMeta meta;
	char		key[16];
	json_t	   *versions;
	const char *t;
	const char *created;
	int			oldest;
	List	   *kept;
	ListCell   *lc;

	ps_routes_require(m->company ? m->tenant : NULL,
					  m->company ? NULL : m->tenant, PS_PERM_DESCRIBE);
	if (!ps_rest_sql_secret(ref, &meta))
		ereport(ERROR, (errcode(ERRCODE_NO_DATA_FOUND),
						errmsg("secret not found")));
	t = meta.updated_at ? meta.updated_at : "";
	versions = json_pack("{}");
	oldest = meta.value_version;
	created = t;
	/* kept versions (managed storage); a bound secret shows its current one */
	kept = ps_rest_sql_versions(ref);
	if (kept == NIL)
		kept = list_make1(&meta);
	foreach(lc, kept)
	{
		PsSecretMeta *v = lfirst(lc);
		const char *vt = v->updated_at ? v->updated_at : "";

		snprintf(key, sizeof(key), "%d", v->value_version);
		json_object_set_new(versions, key,
							json_pack("{s:s, s:s, s:b}", "created_time", vt,
									  "deletion_time", "", "destroyed", 0));
		if (v->value_version <= oldest)
		{
			oldest = v->value_version;
			created = vt;
		}
	}
	ps_vault_answer(req, 200, ps_vault_envelope(req,
							  json_pack("{s:s, s:i, s:i, s:i, s:s, s:o, s:o, s:b, s:s}",
										"created_time", created,
										"current_version", meta.value_version,
										"max_versions", ps_keep_versions + 1,
										"oldest_version", oldest,
										"updated_time", t,
										"custom_metadata", custom_metadata(&meta),
										"versions", versions,
										"cas_required", 0,
										"delete_version_after", "0s")));
}

static void
list_keys(PsHttpRequest *req, List *principals)
{
	PsVaultMatch *m = &req->vault_match;
	List	   *rows;
	ListCell   *lc;
	json_t	   *keys;
	json_t	   *doc;
	char	   *text;
	uint64		generation;
	bool		keep;

	/* the generation first, then the snapshot the answer is made from */
	keep = ps_listing_begin(&generation);
	if (keep)
		PushActiveSnapshot(GetTransactionSnapshot());
	ps_routes_require(m->company ? m->tenant : NULL,
					  m->company ? NULL : m->tenant, PS_PERM_DESCRIBE);
	rows = ps_rest_sql_list(m->company, m->tenant);
	if (rows == NIL)
		ereport(ERROR, (errcode(ERRCODE_NO_DATA_FOUND),
						errmsg("no secrets")));
	keys = json_array();
	foreach(lc, rows)
		json_array_append_new(keys, json_string(((PsSecretMeta *) lfirst(lc))->name));
	doc = json_pack("{s:o}", "keys", keys);
	text = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	if (text == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY),
						errmsg("could not serialize the response")));
	PG_TRY();
	{
		ps_vault_answer_data_text(req, text, strlen(text));
		if (keep)
		{
			PopActiveSnapshot();
			ps_listing_store(VAULT_LISTING_ROUTE(m->company), m->tenant,
							 principals, generation, text, strlen(text));
		}
	}
	PG_FINALLY();
	{
		ps_rest_secure_free(text);
	}
	PG_END_TRY();
}

void
ps_vault_execute(PsHttpRequest *req)
{
	PsVaultMatch *m = &req->vault_match;
	const char *token;
	char	   *subject = NULL;
	List	   *principals;

	if (m->route == PS_VAULT_JWT_LOGIN)
	{
		ps_vault_login(req);
		return;
	}
	token = ps_vault_client_token(req);
	principals = ps_vault_verify(token, &subject);
	ps_authz_set_token_principals(principals, true);
	switch (m->route)
	{
		case PS_VAULT_LOOKUP_SELF:
			ps_vault_lookup_self(req, token, principals, subject);
			break;
		case PS_VAULT_REVOKE_SELF:

			/*
			 * Nothing to revoke: the client token is the caller's own
			 * access token, valid until its exp (docs/vault.md).  204 so a
			 * client that revokes when it is done (External Secrets) does
			 * not report an error.
			 */
			ps_http_set_body(req, 204, "application/json", "", 0);
			break;
		case PS_VAULT_LIST:
			list_keys(req, principals);
			break;
		case PS_VAULT_DATA:
		case PS_VAULT_METADATA:
			if (m->method == PS_VAULT_DELETE)
			{
				(void) ps_secret_delete(reference(m));
				ps_http_set_body(req, 204, "application/json", "", 0);
			}
			else if (m->route == PS_VAULT_METADATA)
				read_metadata(req);
			else if (m->method == PS_VAULT_GET)
				read_data(req);
			else
				write_data(req);
			break;
		default:
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg_internal("vault route %d does not use the database", m->route)));
	}
}
