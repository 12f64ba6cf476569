/*
 * keyring.c: root keys from the postmaster environment.
 */
#include "postgres.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fmgr.h"
#include "utils/builtins.h"

#include "core/provsecret.h"
#include "crypto/keyring.h"

typedef enum PsRootState
{
	PS_ROOT_OK,					/* a configured root key */
	PS_ROOT_DEVELOPMENT,		/* local mode without a key */
	PS_ROOT_MISSING,			/* deployed mode without a key */
	PS_ROOT_TOO_SHORT			/* a key was set but refused */
} PsRootState;

typedef struct PsKeyring
{
	PsRootState state;
	PsRootKey	current;
	PsRootKey	previous;
	PsRootKey	development;
} PsKeyring;

/* sodium_malloc'd: guarded, locked, read-only after loading. */
static PsKeyring *keyring = NULL;

/* Public by design: it only unlocks what local mode sealed. */
static const char ps_dev_passphrase[] =
"provsecret built-in development key: local mode only, never production";

/* Fixed salt: the same passphrase must give the same key on every server. */
static const unsigned char ps_kdf_salt[crypto_pwhash_SALTBYTES] =
"provsecret-root1";

static void
compute_fingerprint(PsRootKey *root)
{
	static const char label[] = "provsecret key check value v1";
	unsigned char kcv[PS_FINGERPRINT_LEN / 2];

	crypto_generichash(kcv, sizeof(kcv), (const unsigned char *) label,
					   sizeof(label) - 1, root->key, sizeof(root->key));
	sodium_bin2hex(root->fingerprint, sizeof(root->fingerprint), kcv,
				   sizeof(kcv));
}

/* Stretch the passphrase; Argon2id resists a weak one at startup cost. */
static bool
derive_root_key(PsRootKey *root, const char *passphrase, size_t len)
{
	if (crypto_pwhash(root->key, sizeof(root->key), passphrase, len,
					  ps_kdf_salt, crypto_pwhash_OPSLIMIT_INTERACTIVE,
					  crypto_pwhash_MEMLIMIT_INTERACTIVE,
					  crypto_pwhash_ALG_ARGON2ID13) != 0)
		return false;
	root->present = true;
	compute_fingerprint(root);
	return true;
}

/*
 * Overwrite every "NAME=..." entry of the original environment block, the
 * one /proc/<pid>/environ shows: PostgreSQL moved environ to copies before
 * we run, so unsetenv() alone would leave the block readable.
 */
static void
scrub_original_environment(const char *name)
{
	FILE	   *f = fopen("/proc/self/stat", "r");
	char		buf[4096];
	size_t		n;
	char	   *p;
	unsigned long env_start = 0,
				env_end = 0;
	int			field;
	size_t		name_len = strlen(name);

	if (f == NULL)
		return;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (p == NULL)
		return;
	/* after the command name comes field 3; env_start and env_end are 50, 51 */
	field = 2;
	for (char *tok = strtok(p + 1, " "); tok != NULL; tok = strtok(NULL, " "))
	{
		field++;
		if (field == 50)
			env_start = strtoul(tok, NULL, 10);
		else if (field == 51)
		{
			env_end = strtoul(tok, NULL, 10);
			break;
		}
	}
	if (env_start == 0 || env_end <= env_start)
		return;

	for (char *entry = (char *) env_start; entry < (char *) env_end;)
	{
		size_t		len = strnlen(entry, (char *) env_end - entry);

		if (len > name_len && strncmp(entry, name, name_len) == 0 &&
			entry[name_len] == '=')
			explicit_bzero(entry, len);
		entry += len + 1;
	}
}

/* Take one variable out of the environment, wiping every copy of it. */
static char *
take_variable(const char *name, size_t *len)
{
	char	   *value = getenv(name);
	char	   *copy = NULL;

	*len = 0;
	if (value != NULL)
	{
		*len = strlen(value);
		copy = sodium_malloc(*len + 1);
		if (copy == NULL)
			elog(FATAL, "provsecret: out of locked memory");
		memcpy(copy, value, *len + 1);
		explicit_bzero(value, *len);
		unsetenv(name);
	}
	scrub_original_environment(name);
	return copy;
}

/* Characters, not bytes: UTF-8 continuation bytes do not count. */
static size_t
utf8_chars(const char *s, size_t len)
{
	size_t		chars = 0;

	for (size_t i = 0; i < len; i++)
		if (((unsigned char) s[i] & 0xc0) != 0x80)
			chars++;
	return chars;
}

static void
load_one(PsRootKey *root, const char *name, bool *too_short)
{
	size_t		len;
	char	   *passphrase = take_variable(name, &len);

	*too_short = false;
	if (passphrase == NULL)
		return;
	if (utf8_chars(passphrase, len) < PS_ROOT_KEY_MIN_CHARS)
	{
		*too_short = true;
		ereport(LOG,
				(errmsg("provsecret: %s is shorter than %d characters and is refused",
						name, PS_ROOT_KEY_MIN_CHARS),
				 errhint("Set it to a long random secret, for example the output of \"openssl rand -hex 32\".")));
	}
	else if (!derive_root_key(root, passphrase, len))
		ereport(FATAL,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("provsecret: could not derive the root key from %s", name)));
	sodium_free(passphrase);
}

void
ps_keyring_load(void)
{
	bool		too_short;
	bool		previous_too_short;

	if (sodium_init() < 0)
		ereport(FATAL,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("provsecret: libsodium could not be initialised")));

	keyring = sodium_malloc(sizeof(PsKeyring));
	if (keyring == NULL)
		ereport(FATAL,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("provsecret: could not allocate locked memory for the keyring")));
	memset(keyring, 0, sizeof(PsKeyring));

	load_one(&keyring->current, PS_ROOT_ENV, &too_short);
	load_one(&keyring->previous, PS_ROOT_ENV_PREVIOUS, &previous_too_short);
	if (keyring->previous.present &&
		strcmp(keyring->previous.fingerprint, keyring->current.fingerprint) == 0)
		keyring->previous.present = false;

	crypto_generichash(keyring->development.key, PS_KEY_BYTES,
					   (const unsigned char *) ps_dev_passphrase,
					   sizeof(ps_dev_passphrase) - 1, NULL, 0);
	keyring->development.present = true;
	compute_fingerprint(&keyring->development);

	if (keyring->current.present)
		keyring->state = PS_ROOT_OK;
	else if (too_short)
		keyring->state = PS_ROOT_TOO_SHORT;
	else if (ps_mode == PS_MODE_LOCAL)
	{
		keyring->state = PS_ROOT_DEVELOPMENT;
		ereport(WARNING,
				(errmsg("provsecret: local mode is using the built-in development key"),
				 errdetail("Secrets sealed now are readable by anyone with this build and are refused in deployed mode."),
				 errhint("Set %s to a long random secret before storing real credentials.", PS_ROOT_ENV)));
	}
	else
	{
		keyring->state = PS_ROOT_MISSING;
		ereport(LOG,
				(errmsg("provsecret: %s is not set; seal and resolve are refused until it is",
						PS_ROOT_ENV)));
	}

	sodium_mprotect_readonly(keyring);
}

static void
keyring_not_loaded(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("provsecret keyring is not loaded"),
			 errhint("Add provsecret to shared_preload_libraries and restart the server.")));
}

const PsRootKey *
ps_keyring_current(void)
{
	if (keyring == NULL)
		keyring_not_loaded();
	switch (keyring->state)
	{
		case PS_ROOT_OK:
			return &keyring->current;
		case PS_ROOT_DEVELOPMENT:
			return &keyring->development;
		case PS_ROOT_TOO_SHORT:
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("the provsecret root key was refused: %s is shorter than %d characters",
							PS_ROOT_ENV, PS_ROOT_KEY_MIN_CHARS),
					 errhint("Set %s to a long random secret in the server's environment and restart it.",
							 PS_ROOT_ENV)));
			break;
		case PS_ROOT_MISSING:
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("no provsecret root key is configured"),
					 errhint("Set %s in the server's environment and restart it, or set provsecret.mode = local for development.",
							 PS_ROOT_ENV)));
			break;
	}
	return NULL;				/* keep compiler quiet */
}

const PsRootKey *
ps_keyring_lookup(const char *fingerprint)
{
	const PsRootKey *current = ps_keyring_current();

	if (strcmp(fingerprint, current->fingerprint) == 0)
		return current;
	if (keyring->previous.present &&
		strcmp(fingerprint, keyring->previous.fingerprint) == 0)
		return &keyring->previous;
	if (strcmp(fingerprint, keyring->development.fingerprint) == 0)
	{
		if (ps_mode == PS_MODE_LOCAL)
			return &keyring->development;
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("this secret was sealed with the built-in development key, which deployed mode refuses"),
				 errhint("Re-seal it under the deployed root key, or read it in provsecret.mode = local.")));
	}
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("this is not the key these secrets were sealed with"),
			 errdetail("They need the root key with fingerprint %s; the server holds %s%s%s.",
					   fingerprint, current->fingerprint,
					   keyring->previous.present ? " and previous key " : "",
					   keyring->previous.present ? keyring->previous.fingerprint : ""),
			 errhint("Set %s (or %s during a rotation) to the key these secrets were sealed with and restart the server.",
					 PS_ROOT_ENV, PS_ROOT_ENV_PREVIOUS)));
	return NULL;				/* keep compiler quiet */
}

const char *
ps_keyring_current_fingerprint(void)
{
	if (keyring == NULL)
		return NULL;
	if (keyring->state == PS_ROOT_OK)
		return keyring->current.fingerprint;
	if (keyring->state == PS_ROOT_DEVELOPMENT)
		return keyring->development.fingerprint;
	return NULL;
}

const char *
ps_keyring_previous_fingerprint(void)
{
	if (keyring == NULL || !keyring->previous.present)
		return NULL;
	return keyring->previous.fingerprint;
}

const char *
ps_keyring_dev_fingerprint(void)
{
	return keyring == NULL ? NULL : keyring->development.fingerprint;
}

const char *
ps_keyring_rewrappable_fingerprint(int i)
{
	/* keys other than the current one that the server holds and may use */
	if (keyring == NULL)
		return NULL;
	if (i == 0)
		return keyring->previous.present ? keyring->previous.fingerprint : "";
	if (i == 1 && ps_mode == PS_MODE_LOCAL && keyring->state == PS_ROOT_OK)
		return keyring->development.fingerprint;
	return NULL;
}

bool
ps_keyring_is_root_variable(const char *name)
{
	return strncmp(name, PS_ROOT_ENV, strlen(PS_ROOT_ENV)) == 0;
}

/* SQL: what the server holds for a root-key fingerprint (key_status). */
PG_FUNCTION_INFO_V1(ps_root_key_role);
Datum
ps_root_key_role(PG_FUNCTION_ARGS)
{
	char	   *fingerprint = text_to_cstring(PG_GETARG_TEXT_PP(0));
	const char *role = "unavailable";

	if (keyring != NULL)
	{
		const char *current = ps_keyring_current_fingerprint();

		if (current != NULL && strcmp(fingerprint, current) == 0)
			role = keyring->state == PS_ROOT_DEVELOPMENT ? "current (development)" : "current";
		else if (keyring->previous.present &&
				 strcmp(fingerprint, keyring->previous.fingerprint) == 0)
			role = "previous";
		else if (strcmp(fingerprint, keyring->development.fingerprint) == 0)
			role = ps_mode == PS_MODE_LOCAL ? "development" : "development (refused in deployed mode)";
	}
	PG_RETURN_TEXT_P(cstring_to_text(role));
}
