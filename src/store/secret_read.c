/*
 * secret_read.c: reading a secret's value below the API (secret_read.h):
 * decrypt a stored ciphertext, the value of an env: or a managed:
 * reference, and a resolver's token.  The SQL functions in api/secret.c
 * authorize and audit around these; external/ calls
 * ps_secret_resolve_internal for the token of an external resolver.
 */
#include "postgres.h"

#include "utils/varlena.h"

#include "audit/audit.h"
#include "core/provsecret.h"
#include "crypto/datakey.h"
#include "crypto/keyring.h"
#include "crypto/seal.h"
#include "store/secret_fetch.h"
#include "store/secret_read.h"
#include "tenancy/authz.h"
#include "tenancy/tenant.h"

void
ps_secret_audit(const char *action, const char *reference, const PsTenant *tenant,
				int32 value_version, bool durable)
{
	PsAuditEvent event = {0};

	event.action = action;
	event.reference = reference;
	event.company = tenant ? ps_event_company(tenant->company, tenant->project) : NULL;
	event.project = tenant ? tenant->project : NULL;
	event.value_version = value_version;
	event.outcome = "ok";
	event.count = 1;
	ps_audit_record(&event, durable);
}

char *
ps_secret_open(const PsSealBinding *binding, const char *company,
			   const bytea *ciphertext, Size *len, MemoryContext context)
{
	char	   *plaintext;

	*len = ps_seal_plaintext_len(ciphertext);
	plaintext = MemoryContextAlloc(context, *len + 1);
	ps_seal_decrypt(ps_datakey_by_id(ps_seal_data_key_id(ciphertext), company),
					binding, ciphertext, plaintext);
	plaintext[*len] = '\0';
	return plaintext;
}

bool
ps_secret_env_allowed(const char *name)
{
	bool		listed = false;
	char	   *list;
	List	   *names;
	ListCell   *lc;

	if (ps_keyring_is_root_variable(name))
		return false;
	list = pstrdup(ps_env_allowlist ? ps_env_allowlist : "");
	if (SplitGUCList(list, ',', &names))
	{
		foreach(lc, names)
			if (strcmp(lfirst(lc), name) == 0)
				listed = true;
	}
	return listed;
}

/*
 * env: only for allow-listed names, never a root key variable, and (for a
 * caller's resolve) only with read on env/<NAME>.  The grant is checked
 * first, so a caller without it learns nothing about the allowlist.  The
 * unaudited form is a resolver's token, whose use was authorized when the
 * resolver was created or altered.
 */
char *
ps_secret_resolve_env(const PsReference *ref, const char *canonical, Size *len,
					  bool audited)
{
	const char *value;
	char	   *result;

	if (audited && !ps_authz_allows_env(ref->name, PS_PERM_READ))
		ps_authz_deny_env(PS_PERM_READ, ref->name, canonical);
	if (!ps_secret_env_allowed(ref->name))
	{
		PsAuditEvent event = {0};

		event.action = "access.denied";
		event.reference = canonical;
		event.outcome = "denied";
		event.detail = "not in provsecret.env_allowlist";
		event.count = 1;
		ps_audit_record(&event, true);
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("environment variable %s may not be resolved", ref->name),
				 errhint("A superuser lists resolvable names in provsecret.env_allowlist; the root key variables are never resolvable.")));
	}
	value = getenv(ref->name);
	if (value == NULL && !audited)
		return NULL;
	if (value == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("environment variable %s is not set in the server", ref->name)));
	/* fail closed, and before the copy: a failing audit leaves no copy */
	if (audited)
		ps_secret_audit("secret.revealed", canonical, NULL, 0, true);
	*len = strlen(value);
	result = palloc(*len + 1);
	memcpy(result, value, *len + 1);
	return result;
}

/* Decrypt a managed secret; NULL when there is none (no authz, no audit). */
char *
ps_secret_open_managed(const PsReference *ref, const char *canonical, Size *len,
					   int32 *value_version)
{
	bytea	   *ciphertext;
	PsSealBinding binding;
	PsTenant	tenant;
	MemoryContext caller_context = CurrentMemoryContext;

	tenant = ps_tenant_of(ref->scope, ref->owner);
	ciphertext = ps_secret_fetch(ps_tenant_row_company(&tenant), canonical,
								 value_version, caller_context);
	if (ciphertext == NULL)
		return NULL;

	binding.reference = canonical;
	binding.scope = ps_scope_name(ref->scope);
	binding.value_version = *value_version;
	return ps_secret_open(&binding, ps_tenant_row_company(&tenant), ciphertext,
						  len, caller_context);
}

char *
ps_secret_resolve_internal(const char *reference, Size *value_len)
{
	PsReference ref;
	char		canonical[PS_REFERENCE_MAX + 1];
	int32		value_version;

	ps_parse_reference_or_error(reference, &ref);
	ps_reference_format(&ref, canonical, sizeof(canonical));
	if (ref.kind == PS_REF_MANAGED)
		return ps_secret_open_managed(&ref, canonical, value_len, &value_version);
	if (ref.kind == PS_REF_ENV)
		return ps_secret_resolve_env(&ref, canonical, value_len, false);
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("only managed: and env: references can name a resolver's token")));
	return NULL;				/* keep compiler quiet */
}
