/*
 * query.h: prepared SPI statements kept for the life of the backend.
 *
 * Every statement schema-qualifies its tables, functions and operators, so
 * the caller's search_path cannot redirect it while it runs with elevated
 * rights.
 */
#ifndef PROVSECRET_QUERY_H
#define PROVSECRET_QUERY_H

#include "postgres.h"

#include "executor/spi.h"

/* Prepare sql once into *slot (SPI must be connected). */
extern SPIPlanPtr ps_query_plan(SPIPlanPtr *slot, const char *sql, int nargs,
								const Oid *argtypes);

/*
 * Run a kept plan; ereport on SPI failure.  Pass read_only = false even for
 * reads that must see rows written earlier in the same transaction (SPI
 * takes a fresh snapshot only then).
 */
extern int	ps_query_run(SPIPlanPtr plan, Datum *values, const char *nulls,
						 bool read_only, long count);

/*
 * Run a kept plan (a SELECT) under the newest committed data, even in a
 * REPEATABLE READ transaction, as foreign-key checks do.
 */
extern int	ps_query_run_latest(SPIPlanPtr plan, Datum *values,
								const char *nulls, long count);

/*
 * Whether the installed schema keys tenant rows by company (0.5.0 on), or
 * is an earlier one the new library must still serve until ALTER EXTENSION
 * provsecret UPDATE: 1 or 0, to index a statement's two kept plans.
 */
extern int	ps_schema_keyed(void);

/* Text helpers for result rows of the last statement. */
extern char *ps_query_text(int row, int col);	/* NULL for SQL NULL */
extern Datum ps_query_datum(int row, int col, bool *isnull);

/* A bytea column detoasted and copied into context (outlives SPI_finish). */
extern bytea *ps_query_bytea_copy(int row, int col, MemoryContext context);

#endif
