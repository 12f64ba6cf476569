/*
 * versions.c: versions() and rollback() of managed secrets.
 */
#include "postgres.h"

#include <sodium.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"

#include "api/secret.h"
#include "core/identity.h"
#include "core/provsecret.h"
#include "core/query.h"
#include "crypto/seal.h"
#include "tenancy/authz.h"
#include "tenancy/tenant.h"

/* [ps_schema_keyed()]: before and after 0.5.0's upgrade script */
static SPIPlanPtr plan_versions[2];
static SPIPlanPtr plan_version[2];

/* Parse a managed reference and check perm on its tenant. */
static void
managed_reference(const char *reference, PsPermission perm, PsReference *ref,
				  char *canonical, size_t canonical_len, char **company)
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
	*company = ps_tenant_row_company(&tenant);
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
	char	   *company;
	int			keyed;

	managed_reference(reference, PS_PERM_DESCRIBE, &ref, canonical,
						 sizeof(canonical), &company);
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
	PsIdentity	identity;
	Oid			argtypes[3] = {TEXTOID, INT4OID, TEXTOID};
	Datum		values[3];
	char	   *company;
	int			keyed;
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
	managed_reference(reference, PS_PERM_WRITE, &ref, canonical,
						 sizeof(canonical), &company);

	values[0] = CStringGetTextDatum(canonical);
	values[1] = Int32GetDatum(version);
	values[2] = CStringGetTextDatum(company);
	ps_identity_enter(PS_ACT_SERVICE, &identity);
	SPI_connect();
	keyed = ps_schema_keyed();
	ps_query_plan(&plan_version[keyed], keyed ?
				  "SELECT s.ciphertext FROM provsecret.ai_provider_secret s"
				  " WHERE s.company OPERATOR(pg_catalog.=) $3 AND s.reference OPERATOR(pg_catalog.=) $1"
				  "   AND s.value_version OPERATOR(pg_catalog.=) $2"
				  " UNION ALL "
				  "SELECT v.ciphertext FROM provsecret.ai_provider_secret s"
				  "  JOIN provsecret.ai_provider_secret_version v"
				  "    ON v.company OPERATOR(pg_catalog.=) s.company AND v.secret_id OPERATOR(pg_catalog.=) s.id"
				  " WHERE s.company OPERATOR(pg_catalog.=) $3 AND s.reference OPERATOR(pg_catalog.=) $1"
				  "   AND v.value_version OPERATOR(pg_catalog.=) $2" :
				  "SELECT s.ciphertext FROM provsecret.ai_provider_secret s"
				  " WHERE s.reference OPERATOR(pg_catalog.=) $1"
				  "   AND s.value_version OPERATOR(pg_catalog.=) $2"
				  " UNION ALL "
				  "SELECT v.ciphertext FROM provsecret.ai_provider_secret s"
				  "  JOIN provsecret.ai_provider_secret_version v"
				  "    ON v.secret_id OPERATOR(pg_catalog.=) s.id"
				  " WHERE s.reference OPERATOR(pg_catalog.=) $1"
				  "   AND v.value_version OPERATOR(pg_catalog.=) $2",
				  3, argtypes);
	ps_query_run(plan_version[keyed], values, NULL, false, 1);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("version %d of secret %s is not kept", version, canonical),
				 errhint("provsecret.versions() lists the kept versions.")));
	ciphertext = ps_query_bytea_copy(0, 1, caller_context);
	SPI_finish();
	ps_identity_leave(&identity);

	binding.reference = canonical;
	binding.scope = ps_scope_name(ref.scope);
	binding.value_version = version;
	plaintext = ps_secret_open(&binding, ciphertext, &len, caller_context);
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
