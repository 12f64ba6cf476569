/*
 * token_cache.c: the bearer tokens this process has already verified (see
 * token_cache.h for the rules).
 *
 * The key is BLAKE2b keyed with a random per-process key, so the table
 * holds nothing that could be checked against a guessed or leaked token
 * outside this process.  The table is bounded: when it is full it is
 * emptied, which costs only re-verification.
 */
#include "postgres.h"

#include <sodium.h>

#include "utils/hsearch.h"
#include "utils/memutils.h"

#include "core/provsecret.h"
#include "token/token_cache.h"

#define TOKEN_CACHE_MAX		1024
#define TOKEN_HASH_LEN		32

typedef struct TokenEntry
{
	unsigned char hash[TOKEN_HASH_LEN];	/* the hash table key */
	int64		expires_at;
	char	   *subject;
	int			nprincipals;
	char	  **principals;
} TokenEntry;

static HTAB *tokens = NULL;
static MemoryContext token_cxt = NULL;
static uint64 tokens_epoch = 0;
static unsigned char hash_key[crypto_generichash_KEYBYTES];

static void
token_cache_reset(uint64 epoch)
{
	HASHCTL		ctl;

	if (token_cxt == NULL)
	{
		token_cxt = AllocSetContextCreate(TopMemoryContext,
										  "provsecret verified tokens",
										  ALLOCSET_DEFAULT_SIZES);
		randombytes_buf(hash_key, sizeof(hash_key));
	}
	MemoryContextReset(token_cxt);
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = TOKEN_HASH_LEN;
	ctl.entrysize = sizeof(TokenEntry);
	ctl.hcxt = token_cxt;
	tokens = hash_create("provsecret verified tokens", 64, &ctl,
						 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	tokens_epoch = epoch;
}

static void
token_hash(const char *token, size_t len, unsigned char *out)
{
	crypto_generichash(out, TOKEN_HASH_LEN, (const unsigned char *) token, len,
					   hash_key, sizeof(hash_key));
}

static void
entry_free(TokenEntry *e)
{
	for (int i = 0; i < e->nprincipals; i++)
		pfree(e->principals[i]);
	pfree(e->principals);
	pfree(e->subject);
}

bool
ps_token_cache_lookup(const char *token, size_t len, uint64 epoch,
					  int64 now, int leeway, List **principals, char **subject)
{
	unsigned char hash[TOKEN_HASH_LEN];
	TokenEntry *e;

	if (tokens == NULL || tokens_epoch != epoch)
		return false;
	token_hash(token, len, hash);
	e = hash_search(tokens, hash, HASH_FIND, NULL);
	if (e == NULL)
		return false;
	if (now - leeway >= e->expires_at)
	{
		/* the verifier would now say "expired": let it */
		entry_free(e);
		(void) hash_search(tokens, hash, HASH_REMOVE, NULL);
		return false;
	}
	*subject = pstrdup(e->subject);
	*principals = NIL;
	for (int i = 0; i < e->nprincipals; i++)
		*principals = lappend(*principals, pstrdup(e->principals[i]));
	return true;
}

void
ps_token_cache_store(const char *token, size_t len, uint64 epoch,
					 int64 expires_at, const char *subject, List *principals)
{
	unsigned char hash[TOKEN_HASH_LEN];
	TokenEntry	entry;
	TokenEntry *e;
	bool		found;
	ListCell   *lc;
	int			i = 0;

	if (tokens == NULL || tokens_epoch != epoch ||
		hash_get_num_entries(tokens) >= TOKEN_CACHE_MAX)
		token_cache_reset(epoch);
	token_hash(token, len, hash);
	if (hash_search(tokens, hash, HASH_FIND, NULL) != NULL)
		return;

	/* everything allocated before the entry exists: no half-made entry */
	entry.expires_at = expires_at;
	entry.subject = MemoryContextStrdup(token_cxt, subject);
	entry.nprincipals = list_length(principals);
	entry.principals = MemoryContextAlloc(token_cxt,
										  sizeof(char *) * Max(entry.nprincipals, 1));
	foreach(lc, principals)
		entry.principals[i++] = MemoryContextStrdup(token_cxt, (char *) lfirst(lc));
	e = hash_search(tokens, hash, HASH_ENTER, &found);
	memcpy(entry.hash, hash, TOKEN_HASH_LEN);
	*e = entry;
}
