/*
 * audit_chain.c: the keyed hash of a chain row, the MACs of checkpoints and
 * verified points, and the append-only guard.  Verification is
 * audit_verify.c's, retention audit_retain.c's (audit_legacy.c: both for a
 * schema older than 0.5.0, with its single chain).
 */
#include "postgres.h"

#include <sodium.h>

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "audit/audit_chain.h"
#include "audit/audit_key.h"
#include "audit/audit_queue.h"
#include "core/identity.h"
#include "core/provsecret.h"

PG_FUNCTION_INFO_V1(provsecret_audit_guard);

static const char chain_tag[] = "provsecret audit chain v1";
static const char checkpoint_tag[] = "provsecret audit checkpoint v1";
static const char chain_checkpoint_tag[] = "provsecret audit chain checkpoint v2";
static const char verified_tag[] = "provsecret audit verified point v1";

/* Set only by C code (retention, the worker's pending move). */
static bool delete_allowed = false;

void
ps_audit_allow_delete(bool allow)
{
	delete_allowed = allow;
}

static void
update_int64(crypto_generichash_state *st, int64 v)
{
	unsigned char b[8];
	int			i;

	for (i = 7; i >= 0; i--, v = (int64) ((uint64) v >> 8))
		b[i] = (unsigned char) (v & 0xff);
	crypto_generichash_update(st, b, 8);
}

static void
update_text(crypto_generichash_state *st, const char *s)
{
	unsigned char present = s != NULL;

	crypto_generichash_update(st, &present, 1);
	if (s != NULL)
	{
		int64		len = strlen(s);

		update_int64(st, len);
		crypto_generichash_update(st, (const unsigned char *) s, len);
	}
}

void
ps_audit_chain_hash(const unsigned char *key, const unsigned char *prev_hash,
					const PsAuditChainRow *row, unsigned char *hash)
{
	crypto_generichash_state st;
	int			i;

	crypto_generichash_init(&st, key, PS_AUDIT_CHAIN_KEY_LEN, PS_AUDIT_HASH_LEN);
	crypto_generichash_update(&st, (const unsigned char *) chain_tag,
							  sizeof(chain_tag));
	crypto_generichash_update(&st, prev_hash, PS_AUDIT_HASH_LEN);
	update_int64(&st, row->seq);
	update_int64(&st, row->id);
	update_int64(&st, row->at);
	for (i = 0; i < PS_AF_COUNT_FIELDS; i++)
		update_text(&st, row->text[i]);
	update_int64(&st, row->value_version);
	update_int64(&st, row->count);
	crypto_generichash_final(&st, hash, PS_AUDIT_HASH_LEN);
	sodium_memzero(&st, sizeof(st));
}

void
ps_audit_checkpoint_mac_v1(const unsigned char *key, int64 through_seq,
			   const unsigned char *last_hash, int64 dropped,
			   unsigned char *mac)
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, key, PS_AUDIT_CHAIN_KEY_LEN, PS_AUDIT_HASH_LEN);
	crypto_generichash_update(&st, (const unsigned char *) checkpoint_tag,
							  sizeof(checkpoint_tag));
	update_int64(&st, through_seq);
	crypto_generichash_update(&st, last_hash, PS_AUDIT_HASH_LEN);
	update_int64(&st, dropped);
	crypto_generichash_final(&st, mac, PS_AUDIT_HASH_LEN);
	sodium_memzero(&st, sizeof(st));
}

/*
 * BEFORE UPDATE OR DELETE OR TRUNCATE, FOR EACH STATEMENT, ENABLE ALWAYS
 * (so session_replication_role does not bypass it).
 */
Datum
provsecret_audit_guard(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg_internal("provsecret_audit_guard: not called by trigger manager")));
	if (TRIGGER_FIRED_BY_DELETE(trigdata->tg_event) && delete_allowed)
		return PointerGetDatum(NULL);
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("%s is append-only", RelationGetRelationName(trigdata->tg_relation)),
			 errdetail("Audit events cannot be updated, deleted or truncated; old events are dropped only by provsecret.audit_retain().")));
	PG_RETURN_NULL();
}

bool
ps_audit_hash_equals(Datum d, bool isnull, const unsigned char *expected)
{
	bytea	   *b;

	if (isnull)
		return false;
	b = DatumGetByteaPP(d);
	return VARSIZE_ANY_EXHDR(b) == PS_AUDIT_HASH_LEN &&
		sodium_memcmp(VARDATA_ANY(b), expected, PS_AUDIT_HASH_LEN) == 0;
}

void
ps_audit_checkpoint_mac(const unsigned char *key, const char *chain,
						int64 through_seq, const unsigned char *last_hash,
						int64 dropped, int64 kept_before, unsigned char *mac)
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, key, PS_AUDIT_CHAIN_KEY_LEN, PS_AUDIT_HASH_LEN);
	crypto_generichash_update(&st, (const unsigned char *) chain_checkpoint_tag,
							  sizeof(chain_checkpoint_tag));
	update_text(&st, chain);
	update_int64(&st, through_seq);
	crypto_generichash_update(&st, last_hash, PS_AUDIT_HASH_LEN);
	update_int64(&st, dropped);
	update_int64(&st, kept_before);
	crypto_generichash_final(&st, mac, PS_AUDIT_HASH_LEN);
	sodium_memzero(&st, sizeof(st));
}

void
ps_audit_verified_mac(const unsigned char *key, const char *chain, int64 seq,
					  const unsigned char *hash, unsigned char *mac)
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, key, PS_AUDIT_CHAIN_KEY_LEN, PS_AUDIT_HASH_LEN);
	crypto_generichash_update(&st, (const unsigned char *) verified_tag,
							  sizeof(verified_tag));
	update_text(&st, chain);
	update_int64(&st, seq);
	crypto_generichash_update(&st, hash, PS_AUDIT_HASH_LEN);
	crypto_generichash_final(&st, mac, PS_AUDIT_HASH_LEN);
	sodium_memzero(&st, sizeof(st));
}

Datum
ps_audit_hash_datum(const unsigned char *h)
{
	bytea	   *b = palloc(VARHDRSZ + PS_AUDIT_HASH_LEN);

	SET_VARSIZE(b, VARHDRSZ + PS_AUDIT_HASH_LEN);
	memcpy(VARDATA(b), h, PS_AUDIT_HASH_LEN);
	return PointerGetDatum(b);
}

void
ps_audit_with_key_buffer(void (*fn) (unsigned char *key, void *arg), void *arg)
{
	unsigned char key[PS_AUDIT_CHAIN_KEY_LEN];

	PG_TRY();
	{
		fn(key, arg);
	}
	PG_CATCH();
	{
		sodium_memzero(key, sizeof(key));
		PG_RE_THROW();
	}
	PG_END_TRY();
	sodium_memzero(key, sizeof(key));
}
