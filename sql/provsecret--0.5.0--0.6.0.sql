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
