-- Distribute provsecret's tables with Citus (docs/citus.md).
--
-- Run once, as a superuser, on the coordinator, after CREATE EXTENSION
-- provsecret (0.6.0 or later) and after the worker nodes were added.
-- test/t/150_citus.pl runs this file as it is.
\set ON_ERROR_STOP on
BEGIN;
-- provsecret's tables carry statement triggers (the write guard, cache and
-- listing invalidation): Citus creates them on every shard.
SET LOCAL citus.enable_unsafe_triggers = on;
-- company is referenced by project: both become reference tables below, so
-- Citus must not first turn project into a Citus-local table (it would try
-- to create a table the extension already made on every worker).
SET LOCAL citus.enable_local_reference_table_foreign_keys = off;

-- The directory and what every row-level security check reads: on every node.
SELECT pg_catalog.create_reference_table(t::pg_catalog.regclass)
  FROM pg_catalog.unnest(ARRAY['provsecret.company', 'provsecret.project',
                               'provsecret.access_grant', 'provsecret.resolver']) AS t;

-- Tenant data: sharded by company, all in one colocation group.
SELECT pg_catalog.create_distributed_table('provsecret.ai_provider_secret', 'company');
SELECT pg_catalog.create_distributed_table(t::pg_catalog.regclass, 'company',
                                           colocate_with => 'provsecret.ai_provider_secret')
  FROM pg_catalog.unnest(ARRAY['provsecret.ai_provider_secret_version', 'provsecret.data_key',
                               'provsecret.workspace_binding', 'provsecret.bound_secret']) AS t;
COMMIT;

-- The rows copied into the shards stay on the coordinator's disk, unseen;
-- remove them (ciphertexts and wrapped keys only, but no reason to keep them).
SELECT pg_catalog.truncate_local_data_after_distributing_table(t::pg_catalog.regclass)
  FROM pg_catalog.unnest(ARRAY['provsecret.ai_provider_secret_version', 'provsecret.bound_secret',
                               'provsecret.workspace_binding', 'provsecret.ai_provider_secret',
                               'provsecret.data_key', 'provsecret.access_grant',
                               'provsecret.resolver', 'provsecret.project',
                               'provsecret.company']) AS t;
