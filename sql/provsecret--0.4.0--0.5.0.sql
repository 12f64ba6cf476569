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

------------------------------------------------------------------------------
-- Vault dialect: kept versions, login audit
------------------------------------------------------------------------------

------------------------------------------------------------------------------
-- Settings pages
------------------------------------------------------------------------------

------------------------------------------------------------------------------
-- Health routes
------------------------------------------------------------------------------
