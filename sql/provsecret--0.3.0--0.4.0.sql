-- provsecret 0.3.0 -> 0.4.0: the authorization and secrecy model closed by
-- construction (project attachment, env: grants, bindings across targets,
-- write guard on every table, resolver-token audit, outbound allowlist).
\echo Use "ALTER EXTENSION provsecret UPDATE TO '0.4.0'" to load this file. \quit

------------------------------------------------------------------------------
-- Tenancy: attaching an existing project, bindings across targets
------------------------------------------------------------------------------
--
--
--
--

------------------------------------------------------------------------------
-- env: references need a grant on env/<NAME>
------------------------------------------------------------------------------
--
--
--
--

------------------------------------------------------------------------------
-- Write guard on every table of the extension
------------------------------------------------------------------------------
-- One statement-level trigger on every table of the extension refuses
-- INSERT, UPDATE, DELETE and TRUNCATE (42501) unless the write comes from
-- the extension's own C code (a backend-local flag only its C code raises,
-- closed again when an error aborts the (sub)transaction) or from a
-- superuser (pg_restore; a superuser could disable the trigger anyway).
-- Table privileges no longer matter for writes: pg_write_all_data,
-- provsecret_service, provsecret_admin and a non-superuser owner are all
-- refused.  ENABLE ALWAYS: session_replication_role does not skip it.
-- The loop covers every table the extension owns when this section runs,
-- partitions included; a table added later needs its own
--   CREATE TRIGGER write_guard BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE
--       ON <table> FOR EACH STATEMENT EXECUTE FUNCTION write_guard();
--   ALTER TABLE <table> ENABLE ALWAYS TRIGGER write_guard;
-- (test/sql/table_guard.sql fails for a table without it).
CREATE FUNCTION write_guard() RETURNS trigger
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'provsecret_write_guard';
COMMENT ON FUNCTION write_guard() IS
  'trigger: refuses INSERT, UPDATE, DELETE and TRUNCATE on provsecret''s tables (42501) except from provsecret''s own functions and workers, and from superusers (restore)';
REVOKE ALL ON FUNCTION write_guard() FROM PUBLIC;

DO $guard$
DECLARE
    t regclass;
BEGIN
    FOR t IN
        SELECT c.oid::pg_catalog.regclass
          FROM pg_catalog.pg_class c
          JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
         WHERE n.nspname OPERATOR(pg_catalog.=) 'provsecret'
           AND c.relkind OPERATOR(pg_catalog.=) ANY (ARRAY['r', 'p']::pg_catalog."char"[])
           AND (EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                         WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
                           AND d.objid OPERATOR(pg_catalog.=) c.oid
                           AND d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_extension'::pg_catalog.regclass
                           AND d.refobjid OPERATOR(pg_catalog.=) (SELECT e.oid FROM pg_catalog.pg_extension e
                                                                  WHERE e.extname OPERATOR(pg_catalog.=) 'provsecret')
                           AND d.deptype OPERATOR(pg_catalog.=) 'e')
                OR c.relispartition)
         ORDER BY c.relname
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

------------------------------------------------------------------------------
-- Resolver tokens and outbound calls
------------------------------------------------------------------------------
--
--
--
--
