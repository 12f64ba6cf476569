/*
 * versions.c: versions() and rollback() of managed secrets, and the audited
 * reveal of one given version (current or kept), which the Vault dialect's
 * ?version=N reads.
 */
#include "postgres.h"

#include <sodium.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"

#include "api/secret.h"
#include "api/versions.h"
#include "core/identity.h"
#include "core/provsecret.h"
#include "core/query.h"
#include "core/redact.h"
#include "crypto/keyring.h"
#include "crypto/seal.h"
#include "tenancy/authz.h"
#include "tenancy/tenant.h"

/* [ps_schema_keyed()]: before and after 0.5.0's upgrade script */
static SPIPlanPtr plan_versions[2];
static SPIPlanPtr plan_version[2];

/* Parse a managed reference and check perm on its tenant; returns the tenant. */
static PsTenant
managed_reference(const char *reference, PsPermission perm, PsReference *ref,
				  char *canonical, size_t canonical_len)
{
	PsTenant	tenant;

	ps_parse_reference_or_error(reference, ref);
	if (ref->kind != PS_REF_MANAGED)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("only managed: references have versions")));
	ps_reference_format(ref, canonical, canonical_len);
	tenant = ps_tenant_of(ref->scope, ref->owner);
	if (!ps_authz_allows(tenant.company, tenant.project, perm))
		ps_authz_deny(perm, tenant.company, tenant.project, canonical);
	return tenant;
}

/* updated_at / created_at as RFC 3339 in UTC, the form Vault's metadata uses */
#define RFC3339(col) "pg_catalog.to_char(" col " AT TIME ZONE 'UTC', " \
	"'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"

/*
 * The ciphertext of one version (the current one or a kept one) of the
 * secret with this canonical reference, copied into context, and when
 * created_at is not NULL the time that version was written (RFC 3339, in
 * context); NULL when that version is not stored.  No authorization.
 */
static bytea *
kept_ciphertext(const char *canonical, const char *company, int32 version,
				char **created_at, MemoryContext context)
{
	PsIdentity	identity;
	Oid			argtypes[3] = {TEXTOID, INT4OID, TEXTOID};
	Datum		values[3];
	bytea	   *ciphertext = NULL;
	int			keyed;

	values[0] = CStringGetTextDatum(canonical);
	values[1] = Int32GetDatum(version);
	values[2] = CStringGetTextDatum(company);
	ps_identity_enter(PS_ACT_SERVICE, &identity);
	SPI_connect();
	keyed = ps_schema_keyed();
	ps_query_plan(&plan_version[keyed], keyed ?
				  "SELECT s.ciphertext, " RFC3339("s.updated_at")
				  "  FROM provsecret.ai_provider_secret s"
				  " WHERE s.company OPERATOR(pg_catalog.=) $3 AND s.reference OPERATOR(pg_catalog.=) $1"
				  "   AND s.value_version OPERATOR(pg_catalog.=) $2"
				  " UNION ALL "
				  "SELECT v.ciphertext, " RFC3339("v.created_at")
				  "  FROM provsecret.ai_provider_secret s"
				  "  JOIN provsecret.ai_provider_secret_version v"
				  "    ON v.company OPERATOR(pg_catalog.=) s.company AND v.secret_id OPERATOR(pg_catalog.=) s.id"
				  " WHERE s.company OPERATOR(pg_catalog.=) $3 AND s.reference OPERATOR(pg_catalog.=) $1"
				  "   AND v.value_version OPERATOR(pg_catalog.=) $2" :
				  "SELECT s.ciphertext, " RFC3339("s.updated_at")
				  "  FROM provsecret.ai_provider_secret s"
				  " WHERE s.reference OPERATOR(pg_catalog.=) $1"
				  "   AND s.value_version OPERATOR(pg_catalog.=) $2"
				  " UNION ALL "
				  "SELECT v.ciphertext, " RFC3339("v.created_at")
				  "  FROM provsecret.ai_provider_secret s"
				  "  JOIN provsecret.ai_provider_secret_version v"
				  "    ON v.secret_id OPERATOR(pg_catalog.=) s.id"
				  " WHERE s.reference OPERATOR(pg_catalog.=) $1"
				  "   AND v.value_version OPERATOR(pg_catalog.=) $2",
				  3, argtypes);
	ps_query_run(plan_version[keyed], values, NULL, false, 1);
	if (SPI_processed > 0)
	{
		ciphertext = ps_query_bytea_copy(0, 1, context);
		if (created_at)
		{
			char	   *t = ps_query_text(0, 2);

			*created_at = MemoryContextStrdup(context, t ? t : "");
		}
	}
	SPI_finish();
	ps_identity_leave(&identity);
	return ciphertext;
}

PG_FUNCTION_INFO_V1(ps_versions);
Datum
ps_versions(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *reference = ps_arg_text(fcinfo, 0, "reference");
	PsReference ref;
	char		canonical[PS_REFERENCE_MAX + 1];
	PsIdentity	identity;
	Oid			argtypes[2] = {TEXTOID, TEXTOID};
	Datum		values[2];
	PsTenant	tenant;
	char	   *company;
	int			keyed;

	tenant = managed_reference(reference, PS_PERM_DESCRIBE, &ref, canonical,
							   sizeof(canonical));
	company = ps_tenant_row_company(&tenant);
	InitMaterializedSRF(fcinfo, 0);
	values[0] = CStringGetTextDatum(canonical);
	values[1] = CStringGetTextDatum(company);

	ps_identity_enter(PS_ACT_SERVICE, &identity);
	SPI_connect();
	keyed = ps_schema_keyed();
	ps_query_plan(&plan_versions[keyed], keyed ?
				  "SELECT s.value_version, s.updated_at, s.updated_by"
				  "  FROM provsecret.ai_provider_secret s"
				  " WHERE s.company OPERATOR(pg_catalog.=) $2 AND s.reference OPERATOR(pg_catalog.=) $1"
				  " UNION ALL "
				  "SELECT v.value_version, v.created_at, v.created_by"
				  "  FROM provsecret.ai_provider_secret s"
				  "  JOIN provsecret.ai_provider_secret_version v"
				  "    ON v.company OPERATOR(pg_catalog.=) s.company AND v.secret_id OPERATOR(pg_catalog.=) s.id"
				  " WHERE s.company OPERATOR(pg_catalog.=) $2 AND s.reference OPERATOR(pg_catalog.=) $1"
				  " ORDER BY 1 DESC" :
				  "SELECT s.value_version, s.updated_at, s.updated_by"
				  "  FROM provsecret.ai_provider_secret s"
				  " WHERE s.reference OPERATOR(pg_catalog.=) $1"
				  " UNION ALL "
				  "SELECT v.value_version, v.created_at, v.created_by"
				  "  FROM provsecret.ai_provider_secret s"
				  "  JOIN provsecret.ai_provider_secret_version v"
				  "    ON v.secret_id OPERATOR(pg_catalog.=) s.id"
				  " WHERE s.reference OPERATOR(pg_catalog.=) $1"
				  " ORDER BY 1 DESC",
				  2, argtypes);
	ps_query_run(plan_versions[keyed], values, NULL, false, 0);
	for (uint64 row = 0; row < SPI_processed; row++)
	{
		Datum		out[3];
		bool		nulls[3];

		for (int col = 0; col < 3; col++)
			out[col] = ps_query_datum(row, col + 1, &nulls[col]);
		/* the tuplestore copies the row out of SPI memory */
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, out, nulls);
	}
	SPI_finish();
	ps_identity_leave(&identity);
	return (Datum) 0;
}

/*
 * Re-seal a kept version as the newest.  Needs write (not read): the value
 * moves from one ciphertext to another and is never returned.
 */
PG_FUNCTION_INFO_V1(ps_rollback);
Datum
ps_rollback(PG_FUNCTION_ARGS)
{
	char	   *reference = ps_arg_text(fcinfo, 0, "reference");
	int32		version;
	PsReference ref;
	char		canonical[PS_REFERENCE_MAX + 1];
	PsTenant	tenant;
	bytea	   *ciphertext;
	PsSealBinding binding;
	char	   *plaintext;
	Size		len;
	PsSealResult result;
	MemoryContext caller_context = CurrentMemoryContext;

	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("value_version must not be null")));
	version = PG_GETARG_INT32(1);
	tenant = managed_reference(reference, PS_PERM_WRITE, &ref, canonical,
							   sizeof(canonical));

	ciphertext = kept_ciphertext(canonical, ps_tenant_row_company(&tenant),
								 version, NULL, caller_context);
	if (ciphertext == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("version %d of secret %s is not kept", version, canonical),
				 errhint("provsecret.versions() lists the kept versions.")));

	binding.reference = canonical;
	binding.scope = ps_scope_name(ref.scope);
	binding.value_version = version;
	plaintext = ps_secret_open(&binding, ps_tenant_row_company(&tenant), ciphertext,
							   &len, caller_context);
	PG_TRY();
	{
		result = ps_secret_seal_checked(canonical, plaintext, len, NULL,
											PS_SEAL_ANY_VERSION, true);
	}
	PG_FINALLY();
	{
		sodium_memzero(plaintext, len);
	}
	PG_END_TRY();
	PG_RETURN_INT32(result.value_version);
}

char *
ps_secret_resolve_version(const char *reference, int32 version, Size *len,
						  char **created_at)
{
	PsReference ref;
	PsTenant	tenant;
	char		canonical[PS_REFERENCE_MAX + 1];
	bytea	   *ciphertext;
	PsSealBinding binding;
	char	   *plaintext;
	MemoryContext caller_context = CurrentMemoryContext;

	tenant = managed_reference(reference, PS_PERM_READ, &ref, canonical,
							   sizeof(canonical));
	/* no root key, no reveal (55000 with its hint), as ps_secret_resolve */
	(void) ps_keyring_current();

	/* read checked first: only a reader learns which versions are kept */
	ciphertext = version > 0 ?
		kept_ciphertext(canonical, ps_tenant_row_company(&tenant), version,
						created_at, caller_context) : NULL;
	if (ciphertext == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("version %d of secret %s is not kept", version, canonical)));

	binding.reference = canonical;
	binding.scope = ps_scope_name(ref.scope);
	binding.value_version = version;
	plaintext = ps_secret_open(&binding, ps_tenant_row_company(&tenant), ciphertext,
							   len, caller_context);

	/* fail closed: no event, no value */
	PG_TRY();
	{
		ps_secret_audit("secret.revealed", canonical, &tenant, version, true);
	}
	PG_CATCH();
	{
		sodium_memzero(plaintext, *len);
		PG_RE_THROW();
	}
	PG_END_TRY();
	ps_redact_taint();
	return plaintext;
}
