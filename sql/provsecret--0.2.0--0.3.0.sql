-- provsecret 0.2.0 -> 0.3.0: batched, online data-key rotation.
\echo Use "ALTER EXTENSION provsecret UPDATE TO '0.3.0'" to load this file. \quit

-- A data-key rotation finds the ciphertexts still under a retired key.
CREATE INDEX ai_provider_secret_data_key_idx ON ai_provider_secret (data_key_id);
CREATE INDEX ai_provider_secret_version_data_key_idx ON ai_provider_secret_version (data_key_id);

-- key_status shows the tenants whose rotation is in progress.
CREATE OR REPLACE VIEW key_status AS
    SELECT k.root_key_fingerprint,
           provsecret.root_key_role(k.root_key_fingerprint) AS root_key,
           pg_catalog.count(*) AS data_keys,
           pg_catalog.sum((SELECT pg_catalog.count(*) FROM provsecret.ai_provider_secret s
                            WHERE s.data_key_id = k.id)) AS secrets,
           pg_catalog.sum((SELECT pg_catalog.count(*) FROM provsecret.ai_provider_secret_version v
                            WHERE v.data_key_id = k.id)) AS kept_versions,
           pg_catalog.count(*) FILTER (WHERE k.retired_at IS NOT NULL) AS retired_data_keys,
           pg_catalog.array_agg(DISTINCT k.tenant) FILTER (WHERE k.retired_at IS NOT NULL) AS rotating_tenants
      FROM provsecret.data_key k
     GROUP BY k.root_key_fingerprint;
COMMENT ON VIEW key_status IS 'per root-key fingerprint: whether the server holds that key, how many data keys, secrets and kept versions depend on it, and the retired data keys of tenants whose data-key rotation is in progress';

COMMENT ON FUNCTION rotate_data_key(text) IS
  'new data key for company/<c> or project/<p>, re-encrypting its secrets and kept versions in one transaction (or finishing a batched rotation in progress); returns how many ciphertexts (manage permission)';

CREATE FUNCTION rotate_data_key(target text, batch integer)
RETURNS integer
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'ps_rotate_data_key_batch';
COMMENT ON FUNCTION rotate_data_key(text, integer) IS
  'batched data-key rotation of company/<c> or project/<p>: the first call starts it (new active key, old key retired), each call re-encrypts up to batch ciphertexts still under the retired key and returns how many; the call that finds none destroys the retired key and returns 0 (manage permission)';

REVOKE ALL ON FUNCTION rotate_data_key(text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rotate_data_key(text, integer) TO PUBLIC;

------------------------------------------------------------------------------
-- 0.3.0: the REST workers keep listing answers while the metadata they show
-- is unchanged; every table a listing is made of tells them when it changes
-- (grants and projects already do, through invalidate_caches()).
------------------------------------------------------------------------------
CREATE FUNCTION invalidate_listings()
RETURNS trigger
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'ps_invalidate_listings';
COMMENT ON FUNCTION invalidate_listings() IS
  'trigger: when the writing transaction commits, the REST workers'' kept listing answers are retired';
REVOKE ALL ON FUNCTION invalidate_listings() FROM PUBLIC;

CREATE TRIGGER ai_provider_secret_listings AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON ai_provider_secret FOR EACH STATEMENT EXECUTE FUNCTION invalidate_listings();
CREATE TRIGGER bound_secret_listings AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON bound_secret FOR EACH STATEMENT EXECUTE FUNCTION invalidate_listings();
CREATE TRIGGER workspace_binding_listings AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON workspace_binding FOR EACH STATEMENT EXECUTE FUNCTION invalidate_listings();
