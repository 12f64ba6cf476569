/*
 * gen.c: COPY rows of a synthetic tenant population for bench/scale,
 * sealed with provsecret's own seal.c (ps_seal_encrypt, ps_seal_wrap_key):
 * the same ciphertext format, associated data and data-key wrapping as
 * seal(), under the root key derived from the passphrase the server holds.
 * Not part of the extension; built and run by bench/scale/run.sh only.
 *
 *   gen PREFIX FIRST COUNT PER_TENANT FIRST_KEY_ID HIDDEN OUTDIR
 *
 * Tenants are projects PREFIX<k> for k in [FIRST, FIRST + COUNT), FIRST a
 * multiple of 4.  Three
 * of every four belong to company c<PREFIX><k / 4> (which also holds one
 * company-scope secret, SHARED); the fourth has no company.  Every project
 * holds PER_TENANT secrets KEY_<j>.  HIDDEN=1 writes a company-less
 * project's rows with its own company "~<project>" (schema 0.5.0), 0 with
 * NULL (earlier schemas).
 *
 * Small tables go to OUTDIR/{company,project,data_key,access_grant}.copy;
 * the secrets, the bulk, to stdout (COPY text format).  The root key
 * passphrase is read from CLOUDGRID_PROVIDER_SECRET_ENCRYPTION_KEY.
 * Values are random and never printed; data keys and the root key live in
 * sodium_malloc'd memory wiped on exit.
 */
#include "postgres.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>

#include "crypto/keyring.h"
#include "crypto/seal.h"

/* the C library's, not libpgport's (not linked) */
#undef snprintf
#undef fprintf
#undef fputc
#undef fputs
#undef perror

/* --- the little of the backend that seal.c needs ------------------------ */

void *
palloc(Size size)
{
	void	   *p = malloc(size);

	if (p == NULL)
		abort();
	return p;
}

void
pfree(void *pointer)
{
	free(pointer);
}

/* seal.c reports only malformed or forged ciphertexts, never when sealing */
bool
errstart(int elevel, const char *domain)
{
	fprintf(stderr, "gen: seal.c reported an error\n");
	exit(1);
}

bool
errstart_cold(int elevel, const char *domain)
{
	return errstart(elevel, domain);
}

void
errfinish(const char *filename, int lineno, const char *funcname)
{
	abort();
}

int
errcode(int sqlerrcode)
{
	return 0;
}

int
errmsg(const char *fmt,...)
{
	return 0;
}

int
errdetail(const char *fmt,...)
{
	return 0;
}

/* --- the generator --------------------------------------------------------- */

/* keyring.c's derivation and fingerprint, for a passphrase */
static const unsigned char kdf_salt[crypto_pwhash_SALTBYTES] = "provsecret-root1";

static void
derive_root(PsRootKey *root, const char *passphrase)
{
	static const char label[] = "provsecret key check value v1";
	unsigned char kcv[PS_FINGERPRINT_LEN / 2];

	if (crypto_pwhash(root->key, sizeof(root->key), passphrase, strlen(passphrase),
					  kdf_salt, crypto_pwhash_OPSLIMIT_INTERACTIVE,
					  crypto_pwhash_MEMLIMIT_INTERACTIVE,
					  crypto_pwhash_ALG_ARGON2ID13) != 0)
	{
		fprintf(stderr, "gen: key derivation failed\n");
		exit(1);
	}
	crypto_generichash(kcv, sizeof(kcv), (const unsigned char *) label,
					   sizeof(label) - 1, root->key, sizeof(root->key));
	sodium_bin2hex(root->fingerprint, sizeof(root->fingerprint), kcv, sizeof(kcv));
	root->present = true;
}

/* a bytea in COPY text format: \\x and hex */
static void
put_bytea(FILE *out, const bytea *b)
{
	const unsigned char *p = (const unsigned char *) VARDATA(b);
	Size		len = VARSIZE(b) - VARHDRSZ;
	static const char hex[] = "0123456789abcdef";

	fputs("\\\\x", out);
	for (Size i = 0; i < len; i++)
	{
		fputc(hex[p[i] >> 4], out);
		fputc(hex[p[i] & 15], out);
	}
}

static FILE *
open_out(const char *dir, const char *name)
{
	char		path[4096];
	FILE	   *f;

	snprintf(path, sizeof(path), "%s/%s.copy", dir, name);
	f = fopen(path, "w");
	if (f == NULL)
	{
		perror(path);
		exit(1);
	}
	return f;
}

static void
seal_one(FILE *out, const unsigned char *key, int64 key_id,
		 const char *scope, const char *company, const char *project,
		 const char *name)
{
	char		reference[512];
	char		value[64];
	unsigned char raw[24];
	PsSealBinding binding;
	bytea	   *ct;

	snprintf(reference, sizeof(reference), "managed:%s/%s/%s", scope,
			 strcmp(scope, "company") == 0 ? company : project, name);
	/* an API key's shape: sk- and 48 base64url characters */
	randombytes_buf(raw, sizeof(raw));
	memcpy(value, "sk-", 3);
	sodium_bin2base64(value + 3, sizeof(value) - 3, raw, sizeof(raw),
					  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	binding.reference = reference;
	binding.scope = scope;
	binding.value_version = 1;
	ct = ps_seal_encrypt(key, key_id, &binding, value, strlen(value));
	sodium_memzero(value, sizeof(value));
	sodium_memzero(raw, sizeof(raw));

	/* scope, company, project, name, description, ciphertext, data_key_id,
	 * value_version, created_by, updated_by */
	fprintf(out, "%s\t%s\t%s\t%s\tgenerated\t", scope,
			company ? company : "\\N", project ? project : "\\N", name);
	put_bytea(out, ct);
	fprintf(out, "\t%lld\t1\tdb:bench\tdb:bench\n", (long long) key_id);
	pfree(ct);
}

/* access_grant: (company,) principal, scope, target, permission, granted_by */
static void
put_grant(FILE *out, bool hidden, const char *company, const char *who,
		  const char *target, const char *scope, const char *permission)
{
	if (hidden)
		fprintf(out, "%s\t", company);
	fprintf(out, "%s%s\t%s\t%s\t%s\tdb:bench\n", who, target, scope, target, permission);
}

int
main(int argc, char **argv)
{
	const char *prefix;
	long		first,
				count,
				per_tenant,
				next_key;
	bool		hidden;
	const char *passphrase = getenv(PS_ROOT_ENV);
	PsRootKey  *root;
	unsigned char *key;
	FILE	   *companies,
			   *projects,
			   *keys,
			   *grants;
	FILE	   *secrets = stdout;
	char		company[200];
	char		own[200];		/* a company-less project's own company */
	char		project[160];
	char		tenant[256];
	int64		company_key = 0;

	if (argc != 8 || passphrase == NULL)
	{
		fprintf(stderr, "usage: %s=... gen PREFIX FIRST COUNT PER_TENANT FIRST_KEY_ID HIDDEN OUTDIR\n",
				PS_ROOT_ENV);
		return 2;
	}
	prefix = argv[1];
	first = atol(argv[2]);
	count = atol(argv[3]);
	per_tenant = atol(argv[4]);
	next_key = atol(argv[5]);
	hidden = atoi(argv[6]) != 0;
	if (sodium_init() < 0 || first < 0 || first % 4 != 0 || count < 1 || per_tenant < 0 || next_key < 1)
		return 2;

	root = sodium_malloc(sizeof(PsRootKey));
	key = sodium_malloc(PS_KEY_BYTES);
	derive_root(root, passphrase);

	companies = open_out(argv[7], "company");
	projects = open_out(argv[7], "project");
	keys = open_out(argv[7], "data_key");
	grants = open_out(argv[7], "access_grant");

	for (long k = first; k < first + count; k++)
	{
		bool		in_company = k % 4 != 3;
		const char *row_company;
		int64		key_id;
		bytea	   *wrapped;

		snprintf(project, sizeof(project), "%s%ld", prefix, k);
		snprintf(own, sizeof(own), "~%s", project);
		snprintf(company, sizeof(company), "c%s%ld", prefix, k / 4);
		if (k % 4 == 0)
		{
			/* a new company: its row, its data key, its manager, SHARED */
			company_key = next_key++;
			snprintf(tenant, sizeof(tenant), "company/%s", company);
			randombytes_buf(key, PS_KEY_BYTES);
			wrapped = ps_seal_wrap_key(root, company_key, tenant, key);
			fprintf(companies, "%s\tdb:bench\n", company);
			fprintf(keys, "%lld\t%s\t%s\t\\N\t", (long long) company_key, tenant, company);
			put_bytea(keys, wrapped);
			fprintf(keys, "\t%s\n", root->fingerprint);
			pfree(wrapped);
			put_grant(grants, hidden, company, "user:admin-", company, "company", "manage");
			seal_one(secrets, key, company_key, "company", company, NULL, "SHARED");
		}
		if (in_company)
		{
			key_id = company_key;
			row_company = company;
		}
		else
		{
			/* a project of its own: its own data key */
			key_id = next_key++;
			snprintf(tenant, sizeof(tenant), "project/%s", project);
			row_company = hidden ? own : NULL;
			randombytes_buf(key, PS_KEY_BYTES);
			wrapped = ps_seal_wrap_key(root, key_id, tenant, key);
			if (hidden)
				fprintf(companies, "%s\tdb:bench\n", own);
			fprintf(keys, "%lld\t%s\t%s\t%s\t", (long long) key_id, tenant,
					row_company ? row_company : "\\N", project);
			put_bytea(keys, wrapped);
			fprintf(keys, "\t%s\n", root->fingerprint);
			pfree(wrapped);
		}
		fprintf(projects, "%s\t%s\tdb:bench\n", project, row_company ? row_company : "\\N");
		/* a realistic mix: a reader and a writer per project */
		put_grant(grants, hidden, in_company ? company : own, "user:dev-", project, "project", "read");
		put_grant(grants, hidden, in_company ? company : own, "user:ci-", project, "project", "write");
		for (long j = 0; j < per_tenant; j++)
		{
			char		name[32];

			snprintf(name, sizeof(name), "KEY_%ld", j);
			seal_one(secrets, key, key_id, "project", row_company, project, name);
		}
	}
	sodium_memzero(key, PS_KEY_BYTES);
	sodium_free(key);
	sodium_free(root);
	if (fclose(companies) || fclose(projects) || fclose(keys) || fclose(grants) ||
		fflush(secrets))
	{
		perror("gen");
		return 1;
	}
	/* the next free data-key id, for setval */
	fprintf(stderr, "%ld\n", next_key);
	return 0;
}
