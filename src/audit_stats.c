/*
 * audit_stats.c: per-secret reveal counters written by the audit worker.
 *
 * A batch under load is mostly reveals of a few hot secrets, so counting in
 * a local hash first turns N events into one upsert per secret.
 */
#include "postgres.h"

#include "provsecret.h"

#include "audit_stats.h"
#include "audit_queue.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

typedef struct PsRevealCount
{
	char		reference[PS_AUDIT_REFERENCE_LEN];	/* hash key */
	char	   *company;
	char	   *project;
	TimestampTz last_at;
	int64		count;
} PsRevealCount;

struct PsRevealStats
{
	HTAB	   *counts;
	MemoryContext cxt;
};

PsRevealStats *
ps_audit_stats_begin(void)
{
	PsRevealStats *stats = palloc0(sizeof(PsRevealStats));
	HASHCTL		info;

	stats->cxt = CurrentMemoryContext;
	memset(&info, 0, sizeof(info));
	info.keysize = PS_AUDIT_REFERENCE_LEN;
	info.entrysize = sizeof(PsRevealCount);
	info.hcxt = CurrentMemoryContext;
	stats->counts = hash_create("provsecret reveal counts", 16, &info,
								HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	return stats;
}

void
ps_audit_stats_add(PsRevealStats *stats, const PsAuditChainRow *row)
{
	const char *action = row->text[PS_AF_ACTION];
	const char *reference = row->text[PS_AF_REFERENCE];
	char		key[PS_AUDIT_REFERENCE_LEN];
	PsRevealCount *entry;
	bool		found;

	if (reference == NULL || strcmp(row->text[PS_AF_OUTCOME], "ok") != 0 ||
		(strcmp(action, "secret.revealed") != 0 &&
		 strcmp(action, "secret.resolved") != 0) ||
		strlen(reference) >= PS_AUDIT_REFERENCE_LEN)
		return;
	memset(key, 0, sizeof(key));
	strlcpy(key, reference, sizeof(key));
	entry = hash_search(stats->counts, key, HASH_ENTER, &found);
	if (!found)
	{
		entry->company = row->text[PS_AF_COMPANY] ?
			MemoryContextStrdup(stats->cxt, row->text[PS_AF_COMPANY]) : NULL;
		entry->project = row->text[PS_AF_PROJECT] ?
			MemoryContextStrdup(stats->cxt, row->text[PS_AF_PROJECT]) : NULL;
		entry->last_at = row->at;
		entry->count = 0;
	}
	entry->count += row->count;
	if (row->at > entry->last_at)
		entry->last_at = row->at;
}

void
ps_audit_stats_write(PsRevealStats *stats)
{
	HASH_SEQ_STATUS scan;
	PsRevealCount *entry;
	Oid			types[5] = {TEXTOID, TEXTOID, TEXTOID, TIMESTAMPTZOID, INT8OID};
	SPIPlanPtr	plan = NULL;

	hash_seq_init(&scan, stats->counts);
	while ((entry = hash_seq_search(&scan)) != NULL)
	{
		Datum		values[5];
		char		nulls[6] = "     ";

		if (plan == NULL)
		{
			plan = SPI_prepare("INSERT INTO provsecret.audit_reveal_stats AS s "
							   "(reference, company, project, last_revealed_at, reveal_count) "
							   "VALUES ($1, $2, $3, $4, $5) "
							   "ON CONFLICT (reference) DO UPDATE SET "
							   " company = EXCLUDED.company, project = EXCLUDED.project, "
							   " last_revealed_at = GREATEST(s.last_revealed_at, EXCLUDED.last_revealed_at), "
							   " reveal_count = s.reveal_count OPERATOR(pg_catalog.+) EXCLUDED.reveal_count",
							   5, types);
			if (plan == NULL)
				elog(ERROR, "provsecret audit: preparing the reveal counter upsert failed");
		}
		values[0] = CStringGetTextDatum(entry->reference);
		values[1] = entry->company ? CStringGetTextDatum(entry->company) : (Datum) 0;
		nulls[1] = entry->company ? ' ' : 'n';
		values[2] = entry->project ? CStringGetTextDatum(entry->project) : (Datum) 0;
		nulls[2] = entry->project ? ' ' : 'n';
		values[3] = TimestampTzGetDatum(entry->last_at);
		values[4] = Int64GetDatum(entry->count);
		if (SPI_execute_plan(plan, values, nulls, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "provsecret audit: updating reveal counters failed");
	}
}
