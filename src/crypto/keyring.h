/*
 * keyring.h: the root keys.
 *
 * Read once from the postmaster's environment in _PG_init, stretched to 256
 * bits, kept in locked, read-only memory that children inherit, and scrubbed
 * from the environment.  Only fingerprints ever leave this module.
 */
#ifndef PROVSECRET_KEYRING_H
#define PROVSECRET_KEYRING_H

#include "postgres.h"

#define PS_ROOT_ENV "CLOUDGRID_PROVIDER_SECRET_ENCRYPTION_KEY"
#define PS_ROOT_ENV_PREVIOUS "CLOUDGRID_PROVIDER_SECRET_ENCRYPTION_KEY_PREVIOUS"
#define PS_ROOT_KEY_MIN_CHARS 32
#define PS_KEY_BYTES 32
#define PS_FINGERPRINT_LEN 16	/* hex characters */

typedef struct PsRootKey
{
	bool		present;
	unsigned char key[PS_KEY_BYTES];
	char		fingerprint[PS_FINGERPRINT_LEN + 1];
} PsRootKey;

/* Postmaster only: read, stretch and scrub the root key variables. */
extern void ps_keyring_load(void);

/* The key new data keys are wrapped with; 55000 with a hint if none. */
extern const PsRootKey *ps_keyring_current(void);

/*
 * The root key with this fingerprint.  55000 explaining what is wrong when
 * the server does not hold it (another key, or the development key in
 * deployed mode).
 */
extern const PsRootKey *ps_keyring_lookup(const char *fingerprint);

/* Fingerprints for key_status: current, previous (NULL if none), dev. */
extern const char *ps_keyring_current_fingerprint(void);
extern const char *ps_keyring_previous_fingerprint(void);
extern const char *ps_keyring_dev_fingerprint(void);

/*
 * The i-th fingerprint (from 0) of a root key other than the current one
 * that the server holds and may rewrap from; "" for an empty slot, NULL past
 * the end.
 */
extern const char *ps_keyring_rewrappable_fingerprint(int i);

/* True if name is one of the root key variables (never resolvable). */
extern bool ps_keyring_is_root_variable(const char *name);

#endif
