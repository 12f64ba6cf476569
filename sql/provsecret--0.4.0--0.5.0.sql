-- provsecret 0.4.0 -> 0.5.0: the Vault dialect completed, settings pages,
-- audit partitioned by month with one chain per company, a schema Citus can
-- distribute by company, health routes for orchestrators.
\echo Use "ALTER EXTENSION provsecret UPDATE TO '0.5.0'" to load this file. \quit

------------------------------------------------------------------------------
-- Company on every tenant row (Citus-ready schema)
------------------------------------------------------------------------------

------------------------------------------------------------------------------
-- Audit: monthly partitions, retention, one chain per company
------------------------------------------------------------------------------

------------------------------------------------------------------------------
-- Vault dialect: kept versions, login audit
------------------------------------------------------------------------------

------------------------------------------------------------------------------
-- Settings pages
------------------------------------------------------------------------------

------------------------------------------------------------------------------
-- Health routes
------------------------------------------------------------------------------
