/*
 * audit_summary.c: shared-memory reveal counters (audit_level = summary).
 */
#include "postgres.h"

#include "provsecret.h"

#include "audit_summary.h"

#include "common/hashfn.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/hsearch.h"
#include "utils/timestamp.h"

#define PS_SUMMARY_TRANCHE "provsecret_audit_summary"

/*
 * A small key, so a count hashes 24 bytes instead of a kilobyte; the
 * strings themselves are in the entry and compared on every hit, so two
 * counters whose strings collide in the key are never merged (the second
 * one is recorded as its own event instead).
 */
typedef struct PsSummaryKey
{
	int64		minute;			/* TimestampTz truncated to the minute */
	uint64		reference_hash;
	uint64		principal_hash;
} PsSummaryKey;

/*
 * Room for the usual strings only, so a counter takes about 550 bytes of
 * shared memory instead of 1.3 kB; a reveal whose reference, principal or
 * names are longer is recorded as its own event.
 */
#define SUMMARY_REFERENCE_LEN	256
#define SUMMARY_PRINCIPAL_LEN	128
#define SUMMARY_NAME_LEN		64

/* what a repeated count touches first, so it reads few cache lines */
typedef struct PsSummaryEntry
{
	PsSummaryKey key;
	int64		count;
	int32		value_version;
	char		reference[SUMMARY_REFERENCE_LEN];
	char		principal[SUMMARY_PRINCIPAL_LEN];
	char		company[SUMMARY_NAME_LEN];
	char		project[SUMMARY_NAME_LEN];
} PsSummaryEntry;

typedef struct PsSummaryShared
{
	LWLock	   *lock;
	bool		closed;
	bool		flush_requested;
	int			entries;
} PsSummaryShared;

int			ps_audit_summary_entries_max = 16384;

static PsSummaryShared *summary = NULL;
static HTAB *counters = NULL;

void
ps_audit_summary_request_lock(void)
{
	RequestNamedLWLockTranche(PS_SUMMARY_TRANCHE, 1);
}

Size
ps_audit_summary_shmem_size(void)
{
	return add_size(MAXALIGN(sizeof(PsSummaryShared)),
					hash_estimate_size(ps_audit_summary_entries_max,
									   sizeof(PsSummaryEntry)));
}

void
ps_audit_summary_shmem_init(void)
{
	bool		found;
	HASHCTL		info;

	summary = ShmemInitStruct("provsecret audit summary",
							  sizeof(PsSummaryShared), &found);
	if (!found)
	{
		summary->lock = &(GetNamedLWLockTranche(PS_SUMMARY_TRANCHE))->lock;
		summary->closed = false;
		summary->flush_requested = false;
		summary->entries = 0;
	}
	memset(&info, 0, sizeof(info));
	info.keysize = sizeof(PsSummaryKey);
	info.entrysize = sizeof(PsSummaryEntry);
	counters = ShmemInitHash("provsecret audit summary counters",
							 ps_audit_summary_entries_max, ps_audit_summary_entries_max,
							 &info, HASH_ELEM | HASH_BLOBS);
}

static int64
minute_of(TimestampTz at)
{
	return at - (at % USECS_PER_MINUTE);
}

static void
key_of(PsSummaryKey *key, TimestampTz minute, const PsAuditRecord *record)
{
	memset(key, 0, sizeof(*key));
	key->minute = minute;
	key->reference_hash = hash_bytes_extended((const unsigned char *) record->reference,
											  strnlen(record->reference, PS_AUDIT_REFERENCE_LEN), 0);
	key->principal_hash = hash_bytes_extended((const unsigned char *) record->principal,
											  strnlen(record->principal, PS_AUDIT_PRINCIPAL_LEN), 0);
}

static bool
fits(const char *s, size_t room)
{
	return strnlen(s, room) < room;
}

static void
add_count(const PsSummaryKey *key, const PsAuditRecord *record, int64 count,
		  bool *ok)
{
	PsSummaryEntry *entry;
	bool		found;

	*ok = false;
	if (!fits(record->reference, SUMMARY_REFERENCE_LEN) ||
		!fits(record->principal, SUMMARY_PRINCIPAL_LEN) ||
		!fits(record->company, SUMMARY_NAME_LEN) ||
		!fits(record->project, SUMMARY_NAME_LEN))
		return;
	entry = hash_search(counters, key, HASH_ENTER_NULL, &found);
	if (entry == NULL)
		return;
	if (!found)
	{
		strlcpy(entry->reference, record->reference, SUMMARY_REFERENCE_LEN);
		strlcpy(entry->principal, record->principal, SUMMARY_PRINCIPAL_LEN);
		strlcpy(entry->company, record->company, SUMMARY_NAME_LEN);
		strlcpy(entry->project, record->project, SUMMARY_NAME_LEN);
		entry->value_version = record->value_version;
		entry->count = 0;
		summary->entries++;
	}
	else if (strcmp(entry->reference, record->reference) != 0 ||
			 strcmp(entry->principal, record->principal) != 0)
		return;
	entry->count += count;
	*ok = true;
}

bool
ps_audit_summary_count(const PsAuditRecord *record, bool *wake_worker)
{
	PsSummaryKey key;
	bool		ok = false;

	*wake_worker = false;
	if (summary == NULL)
		return false;
	key_of(&key, minute_of(record->at), record);

	LWLockAcquire(summary->lock, LW_EXCLUSIVE);
	if (!summary->closed)
		add_count(&key, record, 1, &ok);
	/* early enough that reveals rarely find the table full meanwhile */
	if (!summary->flush_requested &&
		summary->entries > ps_audit_summary_entries_max / 4 * 3)
		*wake_worker = summary->flush_requested = true;
	LWLockRelease(summary->lock);
	return ok;
}

int
ps_audit_summary_drain(PsAuditRecord **records, bool close)
{
	HASH_SEQ_STATUS scan;
	PsSummaryEntry *entry;
	PsAuditRecord *recs;
	PsSummaryKey *keys;
	long		size;
	int			n = 0;
	int			i;

	LWLockAcquire(summary->lock, LW_EXCLUSIVE);
	if (close)
		summary->closed = true;
	size = hash_get_num_entries(counters);
	recs = palloc0(sizeof(PsAuditRecord) * Max(size, 1));
	keys = palloc(sizeof(PsSummaryKey) * Max(size, 1));
	hash_seq_init(&scan, counters);
	while ((entry = hash_seq_search(&scan)) != NULL)
	{
		PsAuditRecord *r;

		if (n >= size)
		{
			hash_seq_term(&scan);
			break;
		}
		r = &recs[n];
		memcpy(&keys[n++], &entry->key, sizeof(PsSummaryKey));

		r->at = entry->key.minute;
		r->value_version = entry->value_version;
		r->count = entry->count;
		strlcpy(r->action, "secret.resolved", PS_AUDIT_ACTION_LEN);
		strlcpy(r->reference, entry->reference, PS_AUDIT_REFERENCE_LEN);
		strlcpy(r->principal, entry->principal, PS_AUDIT_PRINCIPAL_LEN);
		strlcpy(r->company, entry->company, PS_AUDIT_NAME_LEN);
		strlcpy(r->project, entry->project, PS_AUDIT_NAME_LEN);
		strlcpy(r->channel, "sql", PS_AUDIT_CHANNEL_LEN);
		strlcpy(r->outcome, "ok", PS_AUDIT_OUTCOME_LEN);
	}
	for (i = 0; i < n; i++)
		hash_search(counters, &keys[i], HASH_REMOVE, NULL);
	summary->entries = hash_get_num_entries(counters);
	LWLockRelease(summary->lock);
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
		PsSummaryKey key;
		bool		ok;

		key_of(&key, records[i].at, &records[i]);
		add_count(&key, &records[i], records[i].count, &ok);
		if (!ok)
			ereport(WARNING,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg_internal("provsecret audit: summary table full, %lld reveals of one counter dropped", (long long) records[i].count)));
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
	n = summary->entries;
	LWLockRelease(summary->lock);
	return n;
}
