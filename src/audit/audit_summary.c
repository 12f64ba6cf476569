/*
 * audit_summary.c: shared-memory reveal counters (audit_level = summary).
 */
#include "postgres.h"

#include <sodium.h>

#include "port/pg_bitutils.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/timestamp.h"

#include "audit/audit_summary.h"
#include "core/provsecret.h"

#define PS_SUMMARY_TRANCHE "provsecret_audit_summary"

/*
 * A counter's identity: its minute and a keyed 128-bit hash (SipHash-x24,
 * with a key drawn when the server starts) of its reference and principal.
 * Nobody can pick two names that collide without that key, so equal keys
 * mean equal names and a count never reads the strings.
 */
typedef struct PsSummaryKey
{
	int64		minute;			/* TimestampTz truncated to the minute */
	unsigned char names[crypto_shorthash_siphashx24_BYTES];
} PsSummaryKey;

/*
 * The hot part, 32 bytes, in an open-addressing table at most half full:
 * a repeated count reads one cache line, not a hash chain and the strings.
 */
typedef struct PsSummarySlot
{
	PsSummaryKey key;
	int32		count;			/* 0: empty */
	uint32		names_index;	/* its PsSummaryNames */
} PsSummarySlot;

/*
 * The cold part, written when a counter starts and read when it is
 * drained.  Room for the usual strings only; a reveal whose reference,
 * principal or names are longer is recorded as its own event.
 */
#define SUMMARY_REFERENCE_LEN	256
#define SUMMARY_PRINCIPAL_LEN	128
#define SUMMARY_NAME_LEN		64

typedef struct PsSummaryNames
{
	char		reference[SUMMARY_REFERENCE_LEN];
	char		principal[SUMMARY_PRINCIPAL_LEN];
	char		company[SUMMARY_NAME_LEN];
	char		project[SUMMARY_NAME_LEN];
	int32		value_version;
} PsSummaryNames;

/*
 * Two tables: reveals count in the active one while the worker drains the
 * other.  A drain only swaps them under the lock; it reads and clears the
 * drained table after releasing it, so a write of thousands of counters
 * never holds up the reveals (it used to, for milliseconds).  Only the
 * worker drains, one drain at a time, so nobody else touches the inactive
 * table.
 */
typedef struct PsSummaryShared
{
	LWLock	   *lock;
	bool		closed;
	bool		flush_requested;
	int			active;			/* 0 or 1: the table reveals count in */
	int			entries[2];		/* counters in use in each table */
	uint32		slot_mask;		/* slots - 1, a power of two */
	unsigned char hash_key[crypto_shorthash_siphashx24_KEYBYTES];
} PsSummaryShared;

int			ps_audit_summary_entries_max = 16384;

static PsSummaryShared *summary = NULL;
static PsSummarySlot *table_slots[2] = {NULL, NULL};
static PsSummaryNames *table_names[2] = {NULL, NULL};	/* entries_max each, in order of use */

static uint32
slot_count(void)
{
	return pg_nextpower2_32((uint32) ps_audit_summary_entries_max * 2);
}

void
ps_audit_summary_request_lock(void)
{
	RequestNamedLWLockTranche(PS_SUMMARY_TRANCHE, 1);
}

/* One table: its slots, then its names. */
static Size
table_size(void)
{
	return add_size(MAXALIGN(mul_size(slot_count(), sizeof(PsSummarySlot))),
					MAXALIGN(mul_size(ps_audit_summary_entries_max, sizeof(PsSummaryNames))));
}

Size
ps_audit_summary_shmem_size(void)
{
	return add_size(MAXALIGN(sizeof(PsSummaryShared)), mul_size(2, table_size()));
}

void
ps_audit_summary_shmem_init(void)
{
	bool		found;
	char	   *base;
	int			t;

	base = ShmemInitStruct("provsecret audit summary",
						   ps_audit_summary_shmem_size(), &found);
	summary = (PsSummaryShared *) base;
	base += MAXALIGN(sizeof(PsSummaryShared));
	for (t = 0; t < 2; t++)
	{
		table_slots[t] = (PsSummarySlot *) base;
		table_names[t] = (PsSummaryNames *)
			(base + MAXALIGN(mul_size(slot_count(), sizeof(PsSummarySlot))));
		base += table_size();
	}
	if (!found)
	{
		summary->lock = &(GetNamedLWLockTranche(PS_SUMMARY_TRANCHE))->lock;
		summary->closed = false;
		summary->flush_requested = false;
		summary->active = 0;
		summary->entries[0] = summary->entries[1] = 0;
		summary->slot_mask = slot_count() - 1;
		if (!pg_strong_random(summary->hash_key, sizeof(summary->hash_key)))
			ereport(FATAL,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("provsecret audit: could not generate the summary counters' hash key")));
		for (t = 0; t < 2; t++)
			memset(table_slots[t], 0, mul_size(slot_count(), sizeof(PsSummarySlot)));
	}
}

static int64
minute_of(TimestampTz at)
{
	return at - (at % USECS_PER_MINUTE);
}

static bool
fits(const char *s, size_t room)
{
	return strnlen(s, room) < room;
}

/* False when a name is too long to be kept in a counter. */
static bool
key_of(PsSummaryKey *key, const PsSummaryReveal *reveal)
{
	char		input[SUMMARY_REFERENCE_LEN + SUMMARY_PRINCIPAL_LEN];
	size_t		reference_len = strnlen(reveal->reference, SUMMARY_REFERENCE_LEN);
	size_t		principal_len = strnlen(reveal->principal, SUMMARY_PRINCIPAL_LEN);

	if (reference_len == SUMMARY_REFERENCE_LEN ||
		principal_len == SUMMARY_PRINCIPAL_LEN ||
		!fits(reveal->company, SUMMARY_NAME_LEN) ||
		!fits(reveal->project, SUMMARY_NAME_LEN))
		return false;
	/* the reference's terminating NUL separates the two names */
	reference_len++;
	memcpy(input, reveal->reference, reference_len);
	memcpy(input + reference_len, reveal->principal, principal_len);
	memset(key, 0, sizeof(*key));
	key->minute = minute_of(reveal->at);
	crypto_shorthash_siphashx24(key->names, (const unsigned char *) input,
								reference_len + principal_len, summary->hash_key);
	return true;
}

/* Under the lock, exclusive: add count to the key's counter. */
static bool
add_count(const PsSummaryKey *key, const PsSummaryReveal *reveal, int64 count)
{
	PsSummarySlot *slots = table_slots[summary->active];
	int		   *entries = &summary->entries[summary->active];
	uint32		i;
	PsSummarySlot *slot;

	/* the minute moves a counter's first slot, so minutes do not cluster */
	memcpy(&i, key->names, sizeof(uint32));
	i ^= (uint32) (key->minute / USECS_PER_MINUTE) * 0x9E3779B1u;
	for (i &= summary->slot_mask;; i = (i + 1) & summary->slot_mask)
	{
		slot = &slots[i];
		if (slot->count == 0 ||
			memcmp(&slot->key, key, sizeof(PsSummaryKey)) == 0)
			break;
	}
	/* a counter full to int32 leaves the rest to individual events */
	if (count > PG_INT32_MAX - slot->count)
		return false;
	if (slot->count == 0)
	{
		PsSummaryNames *n;

		if (*entries >= ps_audit_summary_entries_max)
			return false;
		slot->key = *key;
		slot->names_index = *entries;
		n = &table_names[summary->active][slot->names_index];
		strlcpy(n->reference, reveal->reference, SUMMARY_REFERENCE_LEN);
		strlcpy(n->principal, reveal->principal, SUMMARY_PRINCIPAL_LEN);
		strlcpy(n->company, reveal->company, SUMMARY_NAME_LEN);
		strlcpy(n->project, reveal->project, SUMMARY_NAME_LEN);
		n->value_version = reveal->value_version;
		(*entries)++;
	}
	slot->count += count;
	return true;
}

bool
ps_audit_summary_count(const PsSummaryReveal *reveal, bool *wake_worker)
{
	PsSummaryKey key;
	bool		ok = false;

	*wake_worker = false;
	if (summary == NULL || !key_of(&key, reveal))
		return false;

	LWLockAcquire(summary->lock, LW_EXCLUSIVE);
	if (!summary->closed)
		ok = add_count(&key, reveal, 1);
	/* early enough that reveals rarely find the table full meanwhile */
	if (!summary->flush_requested &&
		summary->entries[summary->active] > ps_audit_summary_entries_max / 4 * 3)
		*wake_worker = summary->flush_requested = true;
	LWLockRelease(summary->lock);
	return ok;
}

int
ps_audit_summary_drain(PsAuditRecord **records, bool close)
{
	int			drained;
	PsSummarySlot *slots;
	const PsSummaryNames *names;
	PsAuditRecord *recs;
	int			entries;
	uint32		i;
	int			n = 0;

	/* swap the tables: reveals count in the other one from now on */
	LWLockAcquire(summary->lock, LW_EXCLUSIVE);
	if (close)
		summary->closed = true;
	drained = summary->active;
	summary->active = 1 - drained;
	LWLockRelease(summary->lock);
	slots = table_slots[drained];
	names = table_names[drained];
	entries = summary->entries[drained];

	/*
	 * The drained table is this process's alone until the next swap.  Over
	 * about 510,000 counters (the setting allows 1,048,576) the records pass
	 * palloc's 1 GB limit, hence MCXT_ALLOC_HUGE.
	 */
	recs = palloc_extended(mul_size(sizeof(PsAuditRecord), Max(entries, 1)),
						   MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	for (i = 0; i <= summary->slot_mask && n < entries; i++)
	{
		PsSummarySlot *slot = &slots[i];
		const PsSummaryNames *from;
		PsAuditRecord *r;

		if (slot->count == 0)
			continue;
		from = &names[slot->names_index];
		r = &recs[n++];
		r->at = slot->key.minute;
		r->value_version = from->value_version;
		r->count = slot->count;
		strlcpy(r->action, "secret.resolved", PS_AUDIT_ACTION_LEN);
		strlcpy(r->reference, from->reference, PS_AUDIT_REFERENCE_LEN);
		strlcpy(r->principal, from->principal, PS_AUDIT_PRINCIPAL_LEN);
		strlcpy(r->company, from->company, PS_AUDIT_NAME_LEN);
		strlcpy(r->project, from->project, PS_AUDIT_NAME_LEN);
		strlcpy(r->channel, "sql", PS_AUDIT_CHANNEL_LEN);
		strlcpy(r->outcome, "ok", PS_AUDIT_OUTCOME_LEN);
		memset(slot, 0, sizeof(*slot));
	}

	/* empty again; the next swap's lock publishes it to the reveals */
	summary->entries[drained] = 0;
	*records = recs;
	return n;
}

void
ps_audit_summary_restore(const PsAuditRecord *records, int n)
{
	int			i;

	LWLockAcquire(summary->lock, LW_EXCLUSIVE);
	for (i = 0; i < n; i++)
	{
		const PsAuditRecord *r = &records[i];
		PsSummaryReveal reveal = {r->at, r->reference, r->principal,
		r->company, r->project, r->value_version};
		PsSummaryKey key;

		if (!key_of(&key, &reveal) || !add_count(&key, &reveal, r->count))
			ereport(WARNING,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg_internal("provsecret audit: summary table full, %lld reveals of one counter dropped", (long long) r->count)));
	}
	LWLockRelease(summary->lock);
}

bool
ps_audit_summary_take_flush_request(void)
{
	bool		requested;

	LWLockAcquire(summary->lock, LW_EXCLUSIVE);
	requested = summary->flush_requested;
	summary->flush_requested = false;
	LWLockRelease(summary->lock);
	return requested;
}

void
ps_audit_summary_open(void)
{
	LWLockAcquire(summary->lock, LW_EXCLUSIVE);
	summary->closed = false;
	LWLockRelease(summary->lock);
}

int
ps_audit_summary_entries(void)
{
	int			n;

	if (summary == NULL)
		return 0;
	LWLockAcquire(summary->lock, LW_SHARED);
	n = summary->entries[summary->active];
	LWLockRelease(summary->lock);
	return n;
}
