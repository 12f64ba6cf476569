/*
 * distributed.h: whether provsecret's tenant tables are distributed by
 * Citus (docs/DESIGN.md, "Running on Citus").
 *
 * On a Citus coordinator the tenant tables are empty shells: their rows
 * live in shards on the worker nodes, where a query runs in a session of
 * its own, as the role that sent it, with none of this backend's state
 * (the caller, the principals).  Code that reads a table's storage
 * directly, or relies on row-level security seeing the caller, asks here.
 */
#ifndef PROVSECRET_DISTRIBUTED_H
#define PROVSECRET_DISTRIBUTED_H

#include "postgres.h"

/*
 * True when Citus distributes provsecret's secret table.  Looked up once
 * per backend and again after any invalidation of that table (creating or
 * undistributing a distributed table invalidates it); false without Citus.
 */
extern bool ps_tables_distributed(void);

#endif
