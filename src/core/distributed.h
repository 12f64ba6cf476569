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

#include "utils/rel.h"

/*
 * True when Citus distributes provsecret's secret table.  Looked up once
 * per backend and again after any invalidation of that table (creating or
 * undistributing a distributed table invalidates it); false without Citus.
 */
extern bool ps_tables_distributed(void);

/*
 * The table whose caches a change of rel concerns: rel itself, or, when
 * rel is a Citus shard placement of a provsecret table ("<table>_<shard
 * id>" beside it), that table.  Citus fires a table's triggers on its
 * shards, never on the coordinator's shell: on the coordinator, the local
 * placements of the reference tables (company, project, access_grant,
 * resolver) are where its own writes fire them.
 */
extern Oid	ps_logical_relation(Relation rel);

/*
 * True on a Citus worker node (its pg_dist_local_group is not the
 * coordinator's group 0).  Read each time: a node becomes a worker when
 * the coordinator adds it.
 */
extern bool ps_citus_worker_node(void);

#endif
