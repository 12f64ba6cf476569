-- provsecret 0.2.0 -> 0.3.0
\echo Use "ALTER EXTENSION provsecret UPDATE TO '0.3.0'" to load this file. \quit

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
