-- provsecret 0.4.0 -> 0.5.0: the Vault dialect completed, settings pages,
-- audit partitioned by month with one chain per company, a schema Citus can
-- distribute by company, health routes for orchestrators.
\echo Use "ALTER EXTENSION provsecret UPDATE TO '0.5.0'" to load this file. \quit

------------------------------------------------------------------------------
-- Company on every tenant row (Citus-ready schema)
------------------------------------------------------------------------------
-- Every tenant row carries a non-NULL company, every primary and unique key
-- of a table Citus would distribute includes it, and the hot paths filter
-- on one company's rows (docs/DESIGN.md, "Running on Citus").  A project
-- without a company has a company of its own, '~' followed by the
-- project's name: no user company can be called that (names match
-- [A-Za-z0-9][A-Za-z0-9_.-]{0,127}), so it is never named in a target,
-- never granted, and the views show NULL for it as before.  env/<NAME>
-- grants, which belong to no tenant, carry the bare '~'.  Attaching the
-- project to a company later moves its rows from '~<project>' to that
-- company (register_project).
--
-- company and project (the directory that maps a project to its company),
-- access_grant (read by every row-level security check) and resolver
-- (named globally by external: references) would be Citus reference
-- tables and keep their keys; data_key, ai_provider_secret,
-- ai_provider_secret_version, workspace_binding and bound_secret would be
-- distributed by company.

-- the directory: every project in a company, its own if it has none
INSERT INTO company (company, created_at, created_by)
    SELECT '~' OPERATOR(pg_catalog.||) project, created_at, created_by
      FROM project WHERE company IS NULL;
UPDATE project SET company = '~' OPERATOR(pg_catalog.||) project WHERE company IS NULL;
ALTER TABLE project ALTER COLUMN company SET NOT NULL;
COMMENT ON COLUMN project.company IS 'the project''s company; ''~<project>'' (its own, never shown) when it has none';

-- secrets and their versions, data keys, bindings, bound secrets, resolvers:
-- the project's company, or its own
UPDATE ai_provider_secret SET company = '~' OPERATOR(pg_catalog.||) project WHERE company IS NULL;
UPDATE ai_provider_secret_version SET company = '~' OPERATOR(pg_catalog.||) project WHERE company IS NULL;
UPDATE data_key SET company = '~' OPERATOR(pg_catalog.||) project WHERE company IS NULL;
UPDATE workspace_binding SET company = '~' OPERATOR(pg_catalog.||) project WHERE company IS NULL;
UPDATE bound_secret SET company = '~' OPERATOR(pg_catalog.||) project WHERE company IS NULL;
UPDATE resolver SET company = '~' OPERATOR(pg_catalog.||) project WHERE company IS NULL;
ALTER TABLE ai_provider_secret ALTER COLUMN company SET NOT NULL;
ALTER TABLE ai_provider_secret_version ALTER COLUMN company SET NOT NULL;
ALTER TABLE data_key ALTER COLUMN company SET NOT NULL;
ALTER TABLE workspace_binding ALTER COLUMN company SET NOT NULL;
ALTER TABLE bound_secret ALTER COLUMN company SET NOT NULL;
ALTER TABLE resolver ALTER COLUMN company SET NOT NULL;

-- grants: the target's company (a project's own for an unregistered one)
ALTER TABLE access_grant ADD COLUMN company text;
UPDATE access_grant g
   SET company = CASE g.scope
                   WHEN 'company' THEN g.target
                   WHEN 'project' THEN COALESCE((SELECT p.company FROM project p
                                                  WHERE p.project OPERATOR(pg_catalog.=) g.target),
                                                 '~' OPERATOR(pg_catalog.||) g.target)
                   ELSE '~' END;
ALTER TABLE access_grant ALTER COLUMN company SET NOT NULL;
COMMENT ON COLUMN access_grant.company IS 'the company of the target (''~<project>'' for a project without one, ''~'' for env/<NAME>)';

-- keys with company in front
ALTER TABLE access_grant DROP CONSTRAINT access_grant_pkey;
ALTER TABLE access_grant ADD PRIMARY KEY (company, principal, scope, target, permission);
DROP INDEX access_grant_target_idx;
CREATE INDEX access_grant_target_idx ON access_grant (company, scope, target);
-- a principal's grants, loaded by the grant check
CREATE INDEX access_grant_principal_idx ON access_grant (principal);

ALTER TABLE data_key DROP CONSTRAINT data_key_pkey;
ALTER TABLE data_key ADD PRIMARY KEY (company, id);
DROP INDEX data_key_active_idx;
CREATE UNIQUE INDEX data_key_active_idx ON data_key (company, tenant) WHERE retired_at IS NULL;
-- a rotation and the key status find keys by tenant and id across companies
CREATE INDEX data_key_tenant_idx ON data_key (tenant);
CREATE INDEX data_key_id_idx ON data_key (id);

ALTER TABLE ai_provider_secret_version DROP CONSTRAINT ai_provider_secret_version_secret_id_fkey;
ALTER TABLE ai_provider_secret_version DROP CONSTRAINT ai_provider_secret_version_pkey;
ALTER TABLE ai_provider_secret DROP CONSTRAINT ai_provider_secret_pkey;
ALTER TABLE ai_provider_secret DROP CONSTRAINT ai_provider_secret_reference_key;
ALTER TABLE ai_provider_secret ADD PRIMARY KEY (company, id);
ALTER TABLE ai_provider_secret ADD UNIQUE (company, reference);
-- a seal's own row, a rotation's batch and a pruning find rows by id
CREATE INDEX ai_provider_secret_id_idx ON ai_provider_secret (id);
ALTER TABLE ai_provider_secret_version ADD PRIMARY KEY (company, secret_id, value_version);
CREATE INDEX ai_provider_secret_version_secret_idx ON ai_provider_secret_version (secret_id);
ALTER TABLE ai_provider_secret_version ADD FOREIGN KEY (company, secret_id)
    REFERENCES ai_provider_secret (company, id) ON DELETE CASCADE ON UPDATE CASCADE;

ALTER TABLE workspace_binding DROP CONSTRAINT workspace_binding_pkey;
ALTER TABLE workspace_binding ADD PRIMARY KEY (company, project);
ALTER TABLE bound_secret DROP CONSTRAINT bound_secret_pkey;
ALTER TABLE bound_secret DROP CONSTRAINT bound_secret_reference_key;
ALTER TABLE bound_secret ADD PRIMARY KEY (company, project, name);
ALTER TABLE bound_secret ADD UNIQUE (company, reference);

-- the views show no company for a project without one, as before
-- Rows of real companies and of projects' own ones in two branches, so a
-- filter on company reaches the (company, name) index in the first and
-- prunes the second, whose company is NULL.
CREATE OR REPLACE VIEW secrets AS
    SELECT reference, scope, company, project, name, description, value_version,
           created_at, created_by, updated_at, updated_by
      FROM provsecret.ai_provider_secret
     WHERE pg_catalog.left(company, 1) OPERATOR(pg_catalog.<>) '~'
    UNION ALL
    SELECT reference, scope, NULL, project, name, description, value_version,
           created_at, created_by, updated_at, updated_by
      FROM provsecret.ai_provider_secret
     WHERE pg_catalog.left(company, 1) OPERATOR(pg_catalog.=) '~'
    UNION ALL
    SELECT reference, 'project'::text,
           CASE WHEN pg_catalog.left(company, 1) OPERATOR(pg_catalog.=) '~' THEN NULL ELSE company END,
           project, name, description, value_version,
           created_at, created_by, updated_at, updated_by
      FROM provsecret.bound_secret;
CREATE OR REPLACE VIEW secret_reveals AS
    SELECT s.reference,
           CASE WHEN pg_catalog.left(s.company, 1) OPERATOR(pg_catalog.=) '~' THEN NULL ELSE s.company END AS company,
           s.project, r.last_revealed_at,
           COALESCE(r.reveal_count, 0) AS reveal_count
      FROM provsecret.ai_provider_secret s
      LEFT JOIN LATERAL (
            SELECT pg_catalog.max(e.at) AS last_revealed_at,
                   pg_catalog.sum(e.count)::bigint AS reveal_count
              FROM provsecret.audit_event e
             WHERE e.reference OPERATOR(pg_catalog.=) s.reference COLLATE "C"
               AND e.action IN ('secret.revealed', 'secret.resolved', 'secret.used')
               AND e.outcome OPERATOR(pg_catalog.=) 'ok') r ON true;
CREATE OR REPLACE VIEW resolvers AS
    SELECT name, scope || '/' || CASE WHEN scope = 'company' THEN company ELSE project END AS target,
           scope,
           CASE WHEN pg_catalog.left(company, 1) OPERATOR(pg_catalog.=) '~' THEN NULL ELSE company END AS company,
           project, kind, base_url, options, auth_reference, revision,
           created_at, created_by, updated_at, updated_by
      FROM provsecret.resolver;
CREATE OR REPLACE VIEW workspace_bindings AS
    SELECT project,
           CASE WHEN pg_catalog.left(company, 1) OPERATOR(pg_catalog.=) '~' THEN NULL ELSE company END AS company,
           resolver, bound_at, bound_by
      FROM provsecret.workspace_binding;


------------------------------------------------------------------------------
-- Audit: monthly partitions, retention, one chain per company
------------------------------------------------------------------------------
-- audit_event becomes partitioned by month on "at"; each event is chained
-- within its company's chain (events without a company form the global
-- chain, named '' in the chain tables and reported as company NULL); the
-- head of every chain is a row of audit_chain_head, found by its key; each
-- row names the chain-key epoch that keyed it.  Partitions are created by
-- the audit worker (this month and the next two, and the month of any
-- event it writes) and, for the events moved below, by this update; they
-- are not members of the extension, so pg_dump dumps them with their rows.  The existing
-- single chain is verified, then re-chained per company in id order by
-- audit_rechain() (C, needs the root key of the newest chain key), which
-- records where the old chain ended in a checkpoint of every new chain and
-- in an audit.rechained event; docs/audit.md.
CREATE TABLE audit_event_chained (
    id             bigint NOT NULL,
    chain_seq      bigint NOT NULL,
    at             timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    action         text NOT NULL,
    reference      text,
    company        text,
    project        text,
    principal      text NOT NULL,
    channel        text NOT NULL,
    client_addr    inet,
    request_id     text,
    value_version  integer,
    outcome        text NOT NULL,
    count          bigint NOT NULL DEFAULT 1,
    detail         text,
    prev_hash      bytea NOT NULL,
    hash           bytea NOT NULL,
    key_epoch      integer NOT NULL,
    CONSTRAINT audit_event_channel_check CHECK (channel IN ('sql', 'rest', 'vault'))
) PARTITION BY RANGE (at);
-- Keys and indexes live on each partition (created with it, see
-- src/audit/audit_partition.c): PRIMARY KEY (id, at), (company, chain_seq),
-- (reference, at).  An index on the parent, a member of the extension,
-- would be created again by pg_restore on every restored partition.

-- The chain tables: one row per chain.  '' is the global chain.
CREATE TABLE audit_chain_head (
    chain          text PRIMARY KEY,
    chain_seq      bigint NOT NULL,
    event_id       bigint NOT NULL,
    hash           bytea NOT NULL
);
COMMENT ON TABLE audit_chain_head IS
  'the newest event of every audit chain (one per company, '''' the global chain), written by the audit worker with the events';

CREATE TABLE audit_chain_verified (
    chain          text PRIMARY KEY,
    chain_seq      bigint NOT NULL,
    hash           bytea NOT NULL,
    key_epoch      integer NOT NULL,
    mac            bytea NOT NULL,
    verified_at    timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE audit_chain_verified IS
  'how far each audit chain was last verified (chain_seq and its hash, MAC-ed by the chain key), where verify_audit_chain(true) resumes';

ALTER TABLE audit_checkpoint ADD COLUMN chain text;
ALTER TABLE audit_checkpoint ADD COLUMN kept_before bigint NOT NULL DEFAULT 0;
ALTER TABLE audit_checkpoint DROP CONSTRAINT audit_checkpoint_through_seq_key;
CREATE INDEX audit_checkpoint_chain_idx ON audit_checkpoint (chain, through_seq, id);
COMMENT ON TABLE audit_checkpoint IS
  'where an audit chain continues after audit_retain() dropped its oldest events (or the 0.5.0 upgrade re-chained it): events up to chain_seq through_seq are gone, last_hash continues the chain, kept_before events older in the chain live on in newer partitions, mac keyed by the chain key; chain NULL: the single chain before 0.5.0';
COMMENT ON TABLE audit_chain_key IS
  'audit hash-chain keys, wrapped by the root key and rewrapped by rewrap(); each event names the epoch that keyed it (first_seq: where the epoch began, informational); a new epoch starts when the root key of the newest is gone';

-- The id sequence outlives the old table (its identity sequence).
CREATE SEQUENCE audit_event_id_seq_chained;
SELECT pg_catalog.setval('provsecret.audit_event_id_seq_chained'::pg_catalog.regclass,
                         s.last_value, s.is_called)
  FROM provsecret.audit_event_id_seq s;
ALTER TABLE audit_pending ALTER COLUMN id
    SET DEFAULT pg_catalog.nextval('provsecret.audit_event_id_seq_chained'::pg_catalog.regclass);

CREATE FUNCTION audit_rechain() RETURNS bigint
LANGUAGE C VOLATILE STRICT
AS 'MODULE_PATHNAME', 'provsecret_audit_rechain';
SELECT provsecret.audit_rechain();
DROP FUNCTION audit_rechain();

ALTER TABLE audit_event RENAME TO audit_event_unpartitioned;
ALTER INDEX audit_event_pkey RENAME TO audit_event_unpartitioned_pkey;
ALTER INDEX audit_event_chain_seq_key RENAME TO audit_event_unpartitioned_chain_seq_key;
ALTER INDEX audit_event_reference_idx RENAME TO audit_event_unpartitioned_reference_idx;
ALTER TABLE audit_event_chained RENAME TO audit_event;
COMMENT ON TABLE audit_event IS
  'audit events; never a value or ciphertext; append-only; one keyed hash chain per company; partitioned by month on at (audit_event_YYYY_MM, created by the audit worker)';

-- A company-less project's own company (~<project>, see the first section)
-- shows as NULL here, as in every view.
CREATE OR REPLACE VIEW audit_log AS
    SELECT id, at, action, reference,
           CASE WHEN pg_catalog.left(company, 1) OPERATOR(pg_catalog.=) '~' THEN NULL ELSE company END AS company,
           project, principal, channel,
           client_addr, request_id, value_version, outcome, count, detail
      FROM provsecret.audit_event
    UNION ALL
    SELECT id, at, action, reference,
           CASE WHEN pg_catalog.left(company, 1) OPERATOR(pg_catalog.=) '~' THEN NULL ELSE company END AS company,
           project, principal, channel,
           client_addr, request_id, value_version, outcome, count, detail
      FROM provsecret.audit_pending;
CREATE OR REPLACE VIEW secret_reveals AS
    SELECT s.reference,
           CASE WHEN pg_catalog.left(s.company, 1) OPERATOR(pg_catalog.=) '~' THEN NULL ELSE s.company END AS company,
           s.project, r.last_revealed_at,
           COALESCE(r.reveal_count, 0) AS reveal_count
      FROM provsecret.ai_provider_secret s
      LEFT JOIN LATERAL (
            SELECT pg_catalog.max(e.at) AS last_revealed_at,
                   pg_catalog.sum(e.count)::bigint AS reveal_count
              FROM provsecret.audit_event e
             WHERE e.reference OPERATOR(pg_catalog.=) s.reference COLLATE "C"
               AND e.action IN ('secret.revealed', 'secret.resolved', 'secret.used')
               AND e.outcome OPERATOR(pg_catalog.=) 'ok') r ON true;
DROP TABLE audit_event_unpartitioned;
ALTER SEQUENCE audit_event_id_seq_chained RENAME TO audit_event_id_seq;
SELECT pg_catalog.pg_extension_config_dump('audit_event_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('audit_chain_head', '');
SELECT pg_catalog.pg_extension_config_dump('audit_chain_verified', '');

ALTER TABLE audit_event ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_event FORCE ROW LEVEL SECURITY;
CREATE POLICY audit_event_audit ON audit_event FOR SELECT
    USING (provsecret.has_permission(company, project, 'audit'));
REVOKE ALL ON audit_event, audit_chain_head, audit_chain_verified FROM PUBLIC;
REVOKE ALL ON SEQUENCE audit_event_id_seq FROM PUBLIC;
GRANT SELECT ON audit_event TO provsecret_service;

-- Append-only and the write guard on the parent (statements naming it) and,
-- by the audit worker, on every partition it creates.
CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE OR TRUNCATE
    ON audit_event FOR EACH STATEMENT EXECUTE FUNCTION audit_guard();
ALTER TABLE audit_event ENABLE ALWAYS TRIGGER audit_event_append_only;
DO $guard$
DECLARE
    t regclass;
BEGIN
    FOREACH t IN ARRAY ARRAY['provsecret.audit_event', 'provsecret.audit_chain_head',
                             'provsecret.audit_chain_verified']::pg_catalog.regclass[]
    LOOP
        EXECUTE pg_catalog.format(
            'CREATE TRIGGER write_guard BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE'
            ' ON %s FOR EACH STATEMENT EXECUTE FUNCTION provsecret.write_guard()', t);
        EXECUTE pg_catalog.format('ALTER TABLE %s ENABLE ALWAYS TRIGGER write_guard', t);
        EXECUTE pg_catalog.format(
            'COMMENT ON TRIGGER write_guard ON %s IS %L', t,
            'refuses direct writes: only provsecret''s own functions and workers (and superusers, for restore) write this table');
    END LOOP;
END
$guard$;

-- verify_audit_chain: one row per chain (DESIGN §10).
DROP FUNCTION verify_audit_chain();
CREATE FUNCTION verify_audit_chain()
RETURNS TABLE (company text, ok boolean, checked bigint, first_bad_id bigint)
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'provsecret_verify_audit_chains';
COMMENT ON FUNCTION verify_audit_chain() IS
  'recompute every audit hash chain from its checkpoint, one row per chain (company NULL: the global chain); checked counts the events verified; first_bad_id is the first id edited, missing or out of place (provsecret_auditor, provsecret_admin)';
CREATE FUNCTION verify_audit_chain(company text)
RETURNS TABLE (company text, ok boolean, checked bigint, first_bad_id bigint)
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'provsecret_verify_audit_chains';
COMMENT ON FUNCTION verify_audit_chain(text) IS
  'recompute one company''s audit hash chain (NULL: the global chain) from its checkpoint (provsecret_auditor, provsecret_admin)';
CREATE FUNCTION verify_audit_chain(incremental boolean)
RETURNS TABLE (company text, ok boolean, checked bigint, first_bad_id bigint)
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'provsecret_verify_audit_chains';
COMMENT ON FUNCTION verify_audit_chain(boolean) IS
  'verify every audit chain; with true, only the events after the point each chain was last verified to (provsecret_auditor, provsecret_admin)';
REVOKE ALL ON FUNCTION verify_audit_chain(), verify_audit_chain(text), verify_audit_chain(boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION verify_audit_chain(), verify_audit_chain(text), verify_audit_chain(boolean) TO PUBLIC;

CREATE OR REPLACE FUNCTION audit_retain(older_than interval)
RETURNS bigint
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'provsecret_audit_retain_partitions';
COMMENT ON FUNCTION audit_retain(interval) IS
  'drop the monthly audit partitions that end before now() - older_than, with a checkpoint per chain that keeps it verifiable; returns how many events (superuser)';

------------------------------------------------------------------------------
-- Vault dialect: kept versions, login audit
------------------------------------------------------------------------------

------------------------------------------------------------------------------
-- Settings pages
------------------------------------------------------------------------------

------------------------------------------------------------------------------
-- Health routes
------------------------------------------------------------------------------
