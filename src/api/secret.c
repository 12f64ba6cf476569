/*
 * secret.c: seal, resolve and delete, for SQL callers and as C functions
 * the REST routes call.  One path per operation: parse the reference,
 * authorize, touch the row through row-level security as
 * provsecret_service, encrypt or decrypt in C, audit.
 */
#include "postgres.h"

#include <sodium.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"

#include "api/secret.h"
#include "audit/audit.h"
#include "core/change_notify.h"
#include "core/identity.h"
#include "core/provsecret.h"
#include "core/query.h"
#include "core/redact.h"
#include "crypto/datakey.h"
#include "crypto/keyring.h"
#include "crypto/seal.h"
#include "external/binding.h"
#include "external/external.h"
#include "store/secret_read.h"
#include "tenancy/authz.h"
#include "tenancy/tenant.h"

/* [ps_schema_keyed()]: before and after 0.5.0's upgrade script */
static SPIPlanPtr plan_lock[2];
static SPIPlanPtr plan_insert[2];
static SPIPlanPtr plan_keep_version[2];
static SPIPlanPtr plan_update[2];
static SPIPlanPtr plan_prune[2];
static SPIPlanPtr plan_delete[2];

/* Reject values over the limit or not valid in the database encoding. */
static void
check_value(const char *value, Size len)
{
	if (!pg_verifymbstr(value, (int) len, true))
		ereport(ERROR,
				(errcode(ERRCODE_CHARACTER_NOT_IN_REPERTOIRE),
				 errmsg("the credential value is not valid in the database encoding")));
	if (len > PS_VALUE_MAX_CHARS &&
		pg_mbstrlen_with_len(value, (int) len) > PS_VALUE_MAX_CHARS)
		ereport(ERROR,
				(errcode(ERRCODE_STRING_DATA_RIGHT_TRUNCATION),
				 errmsg("the credential value is longer than %d characters",
						PS_VALUE_MAX_CHARS)));
}

static void
require_managed(const PsReference *ref, const char *operation)
{
	if (ref->kind != PS_REF_MANAGED)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("only managed: references can be %s", operation),
				 errhint("env: and external: references name values kept outside provsecret.")));
}

/* Lock the secret row; returns its id or 0 (SPI connected as service). */
static int64
lock_secret(const PsTenant *tenant, const char *reference, int32 *value_version)
{
	Oid			argtypes[2] = {TEXTOID, TEXTOID};
	Datum		values[2] = {CStringGetTextDatum(reference),
	CStringGetTextDatum(ps_tenant_row_company(tenant))};
	bool		isnull;
	int			keyed = ps_schema_keyed();

	ps_query_plan(&plan_lock[keyed], keyed ?
				  "SELECT id, value_version FROM provsecret.ai_provider_secret"
				  " WHERE company OPERATOR(pg_catalog.=) $2"
				  "   AND reference OPERATOR(pg_catalog.=) $1 FOR UPDATE" :
				  "SELECT id, value_version FROM provsecret.ai_provider_secret"
				  " WHERE reference OPERATOR(pg_catalog.=) $1 FOR UPDATE",
				  2, argtypes);
	ps_query_run(plan_lock[keyed], values, NULL, false, 1);
	if (SPI_processed == 0)
		return 0;
	*value_version = DatumGetInt32(ps_query_datum(0, 2, &isnull));
	return DatumGetInt64(ps_query_datum(0, 1, &isnull));
}

static bool
insert_secret(const PsReference *ref, const PsTenant *tenant,
			  bytea *ciphertext, int64 data_key_id, const char *description)
{
	Oid			argtypes[8] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID,
	BYTEAOID, INT8OID, TEXTOID};
	Datum		values[8];
	char		nulls[8] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '};
	int			keyed;

	values[0] = CStringGetTextDatum(ps_scope_name(ref->scope));
	values[1] = CStringGetTextDatum(ps_tenant_row_company(tenant));
	values[2] = tenant->project ? CStringGetTextDatum(tenant->project) : (Datum) 0;
	nulls[2] = tenant->project ? ' ' : 'n';
	values[3] = CStringGetTextDatum(ref->name);
	values[4] = description ? CStringGetTextDatum(description) : (Datum) 0;
	nulls[4] = description ? ' ' : 'n';
	values[5] = PointerGetDatum(ciphertext);
	values[6] = Int64GetDatum(data_key_id);
	values[7] = CStringGetTextDatum(ps_authz_audit_principal());

	keyed = ps_schema_keyed();
	ps_query_plan(&plan_insert[keyed], keyed ?
				  "INSERT INTO provsecret.ai_provider_secret"
				  " (scope, company, project, name, description, ciphertext,"
				  "  data_key_id, value_version, created_by, updated_by)"
				  " VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8, $8)"
				  " ON CONFLICT (company, reference) DO NOTHING" :
				  "INSERT INTO provsecret.ai_provider_secret"
				  " (scope, company, project, name, description, ciphertext,"
				  "  data_key_id, value_version, created_by, updated_by)"
				  " VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8, $8)"
				  " ON CONFLICT (reference) DO NOTHING",
				  8, argtypes);
	ps_query_run(plan_insert[keyed], values, nulls, false, 0);
	return SPI_processed == 1;
}

/*
 * Keep the current version, write the new one, prune beyond keep_versions.
 * Every statement names the secret's company ($7) once the schema is keyed
 * by it: on Citus each reaches that company's shard only.
 */
static void
rotate_secret(int64 id, const char *company, int32 new_version,
			  bytea *ciphertext, int64 data_key_id, const char *description)
{
	Oid			argtypes[7] = {INT8OID, INT4OID, BYTEAOID, INT8OID, TEXTOID, TEXTOID, TEXTOID};
	Datum		values[7];
	char		nulls[7] = {' ', ' ', ' ', ' ', ' ', ' ', ' '};
	int			keyed = ps_schema_keyed();

	values[0] = Int64GetDatum(id);
	values[1] = Int32GetDatum(new_version);
	values[2] = PointerGetDatum(ciphertext);
	values[3] = Int64GetDatum(data_key_id);
	values[4] = description ? CStringGetTextDatum(description) : (Datum) 0;
	nulls[4] = description ? ' ' : 'n';
	values[5] = CStringGetTextDatum(ps_authz_audit_principal());
	values[6] = CStringGetTextDatum(company);

	ps_query_plan(&plan_keep_version[keyed], keyed ?
				  "INSERT INTO provsecret.ai_provider_secret_version"
				  " (secret_id, company, project, value_version, ciphertext,"
				  "  data_key_id, created_at, created_by)"
				  " SELECT id, company, project, value_version, ciphertext,"
				  "        data_key_id, updated_at, updated_by"
				  "   FROM provsecret.ai_provider_secret"
				  "  WHERE company OPERATOR(pg_catalog.=) $7 AND id OPERATOR(pg_catalog.=) $1" :
				  "INSERT INTO provsecret.ai_provider_secret_version"
				  " (secret_id, company, project, value_version, ciphertext,"
				  "  data_key_id, created_at, created_by)"
				  " SELECT id, company, project, value_version, ciphertext,"
				  "        data_key_id, updated_at, updated_by"
				  "   FROM provsecret.ai_provider_secret"
				  "  WHERE id OPERATOR(pg_catalog.=) $1",
				  7, argtypes);
	ps_query_run(plan_keep_version[keyed], values, nulls, false, 0);

	ps_query_plan(&plan_update[keyed], keyed ?
				  "UPDATE provsecret.ai_provider_secret"
				  "   SET value_version = $2, ciphertext = $3, data_key_id = $4,"
				  "       description = COALESCE($5, description),"
				  "       updated_at = pg_catalog.now(), updated_by = $6"
				  " WHERE company OPERATOR(pg_catalog.=) $7 AND id OPERATOR(pg_catalog.=) $1" :
				  "UPDATE provsecret.ai_provider_secret"
				  "   SET value_version = $2, ciphertext = $3, data_key_id = $4,"
				  "       description = COALESCE($5, description),"
				  "       updated_at = pg_catalog.now(), updated_by = $6"
				  " WHERE id OPERATOR(pg_catalog.=) $1",
				  7, argtypes);
	ps_query_run(plan_update[keyed], values, nulls, false, 0);

	values[1] = Int32GetDatum(new_version - ps_keep_versions);
	ps_query_plan(&plan_prune[keyed], keyed ?
				  "DELETE FROM provsecret.ai_provider_secret_version"
				  " WHERE company OPERATOR(pg_catalog.=) $7"
				  "   AND secret_id OPERATOR(pg_catalog.=) $1"
				  "   AND value_version OPERATOR(pg_catalog.<) $2" :
				  "DELETE FROM provsecret.ai_provider_secret_version"
				  " WHERE secret_id OPERATOR(pg_catalog.=) $1"
				  "   AND value_version OPERATOR(pg_catalog.<) $2",
				  7, argtypes);
	ps_query_run(plan_prune[keyed], values, nulls, false, 0);
}

/* Refuse the write unless the current version (0: none) is the expected one. */
static void
check_expected(const char *canonical, int32 expected_version, int32 current)
{
	bool		ok;

	if (expected_version == PS_SEAL_ANY_VERSION)
		return;
	if (expected_version == PS_SEAL_MUST_EXIST)
		ok = current > 0;
	else
		ok = current == expected_version;
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_PS_VERSION_MISMATCH),
				 current > 0 ?
				 errmsg("secret %s is at version %d, not the version the write expected",
						canonical, current) :
				 errmsg("secret %s does not exist, and the write expected it to",
						canonical)));
}

PsSealResult
ps_secret_seal(const char *reference, const char *value, Size value_len,
			   const char *description)
{
	return ps_secret_seal_checked(reference, value, value_len, description,
								  PS_SEAL_ANY_VERSION, false);
}

PsSealResult
ps_secret_seal_checked(const char *reference, const char *value,
					   Size value_len, const char *description,
					   int32 expected_version, bool rollback)
{
	PsReference ref;
	PsTenant	tenant;
	PsSealResult result = {0};
	char		canonical[PS_REFERENCE_MAX + 1];
	PsIdentity	identity;
	const unsigned char *key;
	int64		data_key_id;
	const char *scope;

	ps_parse_reference_or_error(reference, &ref);
	require_managed(&ref, "sealed");
	(void) ps_keyring_current();
	check_value(value, value_len);
	ps_reference_format(&ref, canonical, sizeof(canonical));
	scope = ps_scope_name(ref.scope);

	tenant = ps_tenant_of(ref.scope, ref.owner);
	if (!ps_authz_allows(tenant.company, tenant.project, PS_PERM_WRITE))
		ps_authz_deny(PS_PERM_WRITE, tenant.company, tenant.project, canonical);
	ps_tenant_ensure_registered(&tenant);

	/*
	 * register_project() may have put the project in a company while we
	 * waited (for its new project row just above, or for the project's
	 * tenant lock, which register_project holds until it commits): read the
	 * project again under that lock, so the secret lands in the company,
	 * under the company's key.
	 */
	if (ref.scope == PS_SCOPE_PROJECT)
	{
		PsTenant	now;

		ps_datakey_lock_tenant(psprintf("project/%s", ref.owner), ShareLock);
		now = ps_tenant_of(ref.scope, ref.owner);
		if ((now.company == NULL) != (tenant.company == NULL) ||
			(now.company != NULL && strcmp(now.company, tenant.company) != 0))
		{
			tenant = now;
			if (!ps_authz_allows(tenant.company, tenant.project, PS_PERM_WRITE))
				ps_authz_deny(PS_PERM_WRITE, tenant.company, tenant.project, canonical);
		}
	}

	if (ref.scope == PS_SCOPE_PROJECT && expected_version != PS_SEAL_ANY_VERSION &&
		ps_binding_is_bound(ref.owner))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("a conditional write is not supported in a workspace bound to an external backend")));
	if (ref.scope == PS_SCOPE_PROJECT &&
		ps_binding_seal(&ref, canonical, &tenant, value, value_len, description,
						&result))
		return result;

	data_key_id = ps_datakey_active(ps_tenant_key_owner(&tenant), tenant.company,
									tenant.project, &key);

	ps_identity_enter(PS_ACT_SERVICE, &identity);
	SPI_connect();
	for (;;)
	{
		int32		current_version;
		int64		id = lock_secret(&tenant, canonical, &current_version);
		PsSealBinding binding = {canonical, scope, 0};

		/* compared under the row lock the write keeps until commit */
		check_expected(canonical, expected_version, id != 0 ? current_version : 0);
		if (id != 0)
		{
			binding.value_version = current_version + 1;
			rotate_secret(id, ps_tenant_row_company(&tenant), binding.value_version,
							 ps_seal_encrypt(key, data_key_id, &binding, value, value_len),
							 data_key_id, description);
			result.created = false;
			result.value_version = binding.value_version;
			break;
		}
		binding.value_version = 1;
		if (insert_secret(&ref, &tenant,
							 ps_seal_encrypt(key, data_key_id, &binding, value, value_len),
							 data_key_id, description))
		{
			result.created = true;
			result.value_version = 1;
			break;
		}
		/* a concurrent seal created it: rotate that one instead */
	}
	SPI_finish();
	ps_identity_leave(&identity);

	ps_secret_audit(result.created ? "secret.sealed" : "secret.rotated",
					canonical, &tenant, result.value_version, false);
	ps_change_notify(canonical, result.value_version,
					 rollback ? "rolled_back" : result.created ? "sealed" : "rotated");
	result.reference = pstrdup(canonical);
	return result;
}

static char *
resolve_managed(const PsReference *ref, const char *canonical, Size *len)
{
	PsTenant	tenant = ps_tenant_of(ref->scope, ref->owner);
	int32		value_version;
	char	   *plaintext;

	if (!ps_authz_allows(tenant.company, tenant.project, PS_PERM_READ))
		ps_authz_deny(PS_PERM_READ, tenant.company, tenant.project, canonical);

	plaintext = ps_secret_open_managed(ref, canonical, len, &value_version);
	/* not in managed storage: a bound workspace's backend (audited there) */
	if (plaintext == NULL && ref->scope == PS_SCOPE_PROJECT &&
		(plaintext = ps_binding_resolve(ref, canonical, &tenant, len)) != NULL)
		return plaintext;
	if (plaintext == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("secret %s not found", canonical)));

	/* fail closed: no event, no value */
	PG_TRY();
	{
		ps_secret_audit("secret.revealed", canonical, &tenant, value_version, true);
	}
	PG_CATCH();
	{
		sodium_memzero(plaintext, *len);
		PG_RE_THROW();
	}
	PG_END_TRY();
	return plaintext;
}

char *
ps_secret_resolve(const char *reference, Size *value_len)
{
	PsReference ref;
	char		canonical[PS_REFERENCE_MAX + 1];
	char	   *value = NULL;

	ps_parse_reference_or_error(reference, &ref);
	ps_reference_format(&ref, canonical, sizeof(canonical));
	/* no root key, no resolve of any kind (55000 with its hint) */
	(void) ps_keyring_current();
	switch (ref.kind)
	{
		case PS_REF_MANAGED:
			value = resolve_managed(&ref, canonical, value_len);
			break;
		case PS_REF_ENV:
			value = ps_secret_resolve_env(&ref, canonical, value_len, true);
			break;
		case PS_REF_EXTERNAL:
			value = ps_external_resolve(&ref, canonical, value_len);
			break;
	}
	/* PostgreSQL may quote the value in errors of this statement (redact.c) */
	ps_redact_taint();
	return value;
}

bool
ps_secret_delete(const char *reference)
{
	PsReference ref;
	PsTenant	tenant;
	char		canonical[PS_REFERENCE_MAX + 1];
	PsIdentity	identity;
	Oid			argtypes[2] = {TEXTOID, TEXTOID};
	Datum		values[2];
	bool		deleted;
	int			keyed;
	int32		value_version = 0;

	ps_parse_reference_or_error(reference, &ref);
	require_managed(&ref, "deleted");
	ps_reference_format(&ref, canonical, sizeof(canonical));
	tenant = ps_tenant_of(ref.scope, ref.owner);
	if (!ps_authz_allows(tenant.company, tenant.project, PS_PERM_DELETE))
		ps_authz_deny(PS_PERM_DELETE, tenant.company, tenant.project, canonical);

	values[0] = CStringGetTextDatum(canonical);
	values[1] = CStringGetTextDatum(ps_tenant_row_company(&tenant));
	ps_identity_enter(PS_ACT_SERVICE, &identity);
	SPI_connect();
	keyed = ps_schema_keyed();
	ps_query_plan(&plan_delete[keyed], keyed ?
				  "DELETE FROM provsecret.ai_provider_secret"
				  " WHERE company OPERATOR(pg_catalog.=) $2"
				  "   AND reference OPERATOR(pg_catalog.=) $1 RETURNING value_version" :
				  "DELETE FROM provsecret.ai_provider_secret"
				  " WHERE reference OPERATOR(pg_catalog.=) $1 RETURNING value_version",
				  2, argtypes);
	ps_query_run(plan_delete[keyed], values, NULL, false, 0);
	deleted = SPI_processed > 0;
	if (deleted)
	{
		bool		isnull;

		value_version = DatumGetInt32(ps_query_datum(0, 1, &isnull));
	}
	SPI_finish();
	ps_identity_leave(&identity);

	/* a bound workspace's backend audits its own deletion */
	if (!deleted && ref.scope == PS_SCOPE_PROJECT &&
		ps_binding_delete(&ref, canonical, &tenant, &deleted))
		return deleted;
	if (deleted)
	{
		ps_secret_audit("secret.deleted", canonical, &tenant, value_version, false);
		ps_change_notify(canonical, value_version, "deleted");
	}
	return deleted;
}

PG_FUNCTION_INFO_V1(ps_seal);
Datum
ps_seal(PG_FUNCTION_ARGS)
{
	char	   *reference;
	text	   *value;
	char	   *description;
	PsSealResult result;

	/* first, so even a failing call leaves no value in pg_stat_activity */
	ps_redact_activity();
	reference = ps_arg_text(fcinfo, 0, "reference");
	description = PG_ARGISNULL(2) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(2));

	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("credential_value must not be null")));
	value = PG_GETARG_TEXT_PP(1);
	PG_TRY();
	{
		result = ps_secret_seal(reference, VARDATA_ANY(value),
								VARSIZE_ANY_EXHDR(value), description);
	}
	PG_FINALLY();
	{
		/* a compressed or out-of-line value was detoasted into our copy */
		if ((Pointer) value != DatumGetPointer(PG_GETARG_DATUM(1)))
			sodium_memzero(VARDATA_ANY(value), VARSIZE_ANY_EXHDR(value));
	}
	PG_END_TRY();
	PG_RETURN_TEXT_P(cstring_to_text(result.reference));
}

PG_FUNCTION_INFO_V1(ps_resolve);
Datum
ps_resolve(PG_FUNCTION_ARGS)
{
	char	   *reference = ps_arg_text(fcinfo, 0, "reference");
	Size		len;
	char	   *plaintext = ps_secret_resolve(reference, &len);
	text	   *result = (text *) palloc(VARHDRSZ + len);

	SET_VARSIZE(result, VARHDRSZ + len);
	memcpy(VARDATA(result), plaintext, len);
	sodium_memzero(plaintext, len);
	pfree(plaintext);
	PG_RETURN_TEXT_P(result);
}

PG_FUNCTION_INFO_V1(ps_delete_secret);
Datum
ps_delete_secret(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(ps_secret_delete(ps_arg_text(fcinfo, 0, "reference")));
}
