-- provsecret 0.5.0 -> 0.6.0: the schema Citus distributes as it is, with
-- no update of company.
\echo Use "ALTER EXTENSION provsecret UPDATE TO '0.6.0'" to load this file. \quit

------------------------------------------------------------------------------
-- Citus: no update of company
------------------------------------------------------------------------------
-- Citus distributes ai_provider_secret and ai_provider_secret_version by
-- company (docs/DESIGN.md, "Running on Citus") and never updates a
-- distribution column: it refuses a foreign key that includes it with
-- ON UPDATE CASCADE ("SET NULL, SET DEFAULT or CASCADE is not supported
-- in ON UPDATE operation when distribution key included in the foreign
-- constraint").  The only statement that changed a secret's company,
-- attaching a company-less project to a company (register_project), now
-- moves the rows of the distributed tables by delete and insert, versions
-- with their secret, so the cascade has nothing left to do: the key keeps
-- its name and ON DELETE CASCADE, and loses its ON UPDATE action.
ALTER TABLE ai_provider_secret_version
    DROP CONSTRAINT ai_provider_secret_version_company_secret_id_fkey;
ALTER TABLE ai_provider_secret_version
    ADD CONSTRAINT ai_provider_secret_version_company_secret_id_fkey
    FOREIGN KEY (company, secret_id) REFERENCES ai_provider_secret (company, id)
    ON DELETE CASCADE;
COMMENT ON CONSTRAINT ai_provider_secret_version_company_secret_id_fkey
    ON ai_provider_secret_version IS
  'a kept version belongs to its secret and goes with it; no ON UPDATE action, which Citus refuses on a key that includes the distribution column (company is never updated: attaching a project moves rows by delete and insert)';

------------------------------------------------------------------------------
-- Citus: key_status joins on the company
------------------------------------------------------------------------------
-- key_status counted each data key's secrets and kept versions with
-- subqueries correlated on data_key_id alone, which Citus cannot run
-- ("complex joins are only supported when all distributed tables are
-- co-located and joined on their distribution columns").  The counts are
-- now grouped per (company, data_key_id) and joined on both, so every
-- join is on the distribution column; same columns, types and values.
CREATE OR REPLACE VIEW key_status AS
    SELECT k.root_key_fingerprint,
           provsecret.root_key_role(k.root_key_fingerprint) AS root_key,
           pg_catalog.count(*) AS data_keys,
           COALESCE(pg_catalog.sum(s.n), 0)::pg_catalog.numeric AS secrets,
           COALESCE(pg_catalog.sum(v.n), 0)::pg_catalog.numeric AS kept_versions,
           pg_catalog.count(*) FILTER (WHERE k.retired_at IS NOT NULL) AS retired_data_keys,
           pg_catalog.array_agg(DISTINCT k.tenant) FILTER (WHERE k.retired_at IS NOT NULL) AS rotating_tenants
      FROM provsecret.data_key k
      LEFT JOIN (SELECT company, data_key_id, pg_catalog.count(*) AS n
                   FROM provsecret.ai_provider_secret GROUP BY company, data_key_id) s
             ON s.company OPERATOR(pg_catalog.=) k.company
            AND s.data_key_id OPERATOR(pg_catalog.=) k.id
      LEFT JOIN (SELECT company, data_key_id, pg_catalog.count(*) AS n
                   FROM provsecret.ai_provider_secret_version GROUP BY company, data_key_id) v
             ON v.company OPERATOR(pg_catalog.=) k.company
            AND v.data_key_id OPERATOR(pg_catalog.=) k.id
     GROUP BY k.root_key_fingerprint;
COMMENT ON VIEW key_status IS 'per root-key fingerprint: whether the server holds that key, how many data keys, secrets and kept versions depend on it, and the retired data keys of tenants whose data-key rotation is in progress';

------------------------------------------------------------------------------
-- Rows a project attached before 0.5.0 left under its own company
------------------------------------------------------------------------------
-- Before 0.5.0, attaching a company-less project to a company moved its
-- secrets and kept versions only; 0.5.0 then gave its data key, binding,
-- bound secrets and resolvers the project's own company '~<p>', where the
-- lookups by company (data keys by id among the secret's company's rows,
-- bindings by company and project) do not find them.  They move to the
-- project's company, unless a row of that key is already there.
UPDATE data_key k SET company = p.company
  FROM project p
 WHERE k.company OPERATOR(pg_catalog.=) ('~' OPERATOR(pg_catalog.||) p.project)
   AND p.company OPERATOR(pg_catalog.<>) ('~' OPERATOR(pg_catalog.||) p.project);
UPDATE workspace_binding w SET company = p.company
  FROM project p
 WHERE w.project OPERATOR(pg_catalog.=) p.project
   AND w.company OPERATOR(pg_catalog.=) ('~' OPERATOR(pg_catalog.||) p.project)
   AND p.company OPERATOR(pg_catalog.<>) ('~' OPERATOR(pg_catalog.||) p.project)
   AND NOT EXISTS (SELECT 1 FROM workspace_binding o
                    WHERE o.company OPERATOR(pg_catalog.=) p.company
                      AND o.project OPERATOR(pg_catalog.=) p.project);
UPDATE bound_secret b SET company = p.company
  FROM project p
 WHERE b.project OPERATOR(pg_catalog.=) p.project
   AND b.company OPERATOR(pg_catalog.=) ('~' OPERATOR(pg_catalog.||) p.project)
   AND p.company OPERATOR(pg_catalog.<>) ('~' OPERATOR(pg_catalog.||) p.project)
   AND NOT EXISTS (SELECT 1 FROM bound_secret o
                    WHERE o.company OPERATOR(pg_catalog.=) p.company
                      AND o.project OPERATOR(pg_catalog.=) p.project
                      AND o.name OPERATOR(pg_catalog.=) b.name);
UPDATE resolver r SET company = p.company
  FROM project p
 WHERE r.scope OPERATOR(pg_catalog.=) 'project'
   AND r.project OPERATOR(pg_catalog.=) p.project
   AND r.company OPERATOR(pg_catalog.=) ('~' OPERATOR(pg_catalog.||) p.project)
   AND p.company OPERATOR(pg_catalog.<>) ('~' OPERATOR(pg_catalog.||) p.project);
