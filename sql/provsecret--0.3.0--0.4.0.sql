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
-- Being on provsecret.env_allowlist is no longer permission: resolving
-- env:<NAME> (and naming it as a resolver's auth_reference) also needs read
-- on env/<NAME>, which only provsecret_admin or a superuser grants.  Such a
-- grant is an access_grant row of scope 'env' whose target is the NAME.
-- has_permission(company, project, …) needs no change: an env row has
-- neither, so the access_grant_audit policy shows it only to those who hold
-- 'audit' everywhere (provsecret_admin, provsecret_auditor, superusers).
ALTER TABLE access_grant DROP CONSTRAINT access_grant_scope_check;
ALTER TABLE access_grant ADD CONSTRAINT access_grant_scope_check
    CHECK (scope IN ('company', 'project', 'env'));
ALTER TABLE access_grant ADD CONSTRAINT access_grant_env_check
    CHECK (scope <> 'env' OR (permission = 'read' AND target ~ '^[A-Z_][A-Z0-9_]{0,127}$'));
COMMENT ON TABLE access_grant IS 'provsecret permissions held by principals on companies, projects and env/<NAME> variables (read only)';
COMMENT ON VIEW grants IS 'grants on the companies and projects the caller manages (all of them, env/<NAME> grants included, for provsecret_auditor and provsecret_admin)';

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
-- Sending a resolver's auth_reference is a reveal of it, recorded as a
-- durable secret.used event (docs/audit.md): a standby forwards those too,
-- and they count among the reveals of the managed secret they name.
-- (provsecret.outbound_allowed_hosts and metrics_resolver_names are GUCs:
-- nothing to install.)
COMMENT ON FUNCTION record_forwarded_event(timestamptz, text, text, text, text, text, text, inet, text, integer, text, bigint, text) IS
  'record a hot standby''s secret.revealed, secret.used or access.denied event durably in the audit chain and return once it is on disk (provsecret_forwarder only)';

CREATE OR REPLACE VIEW secret_reveals AS
    SELECT s.reference, s.company, s.project, r.last_revealed_at,
           COALESCE(r.reveal_count, 0) AS reveal_count
      FROM provsecret.ai_provider_secret s
      LEFT JOIN LATERAL (
            SELECT pg_catalog.max(e.at) AS last_revealed_at,
                   pg_catalog.sum(e.count)::bigint AS reveal_count
              FROM provsecret.audit_event e
             WHERE e.reference OPERATOR(pg_catalog.=) s.reference COLLATE "C"
               AND e.action IN ('secret.revealed', 'secret.resolved', 'secret.used')
               AND e.outcome OPERATOR(pg_catalog.=) 'ok') r ON true;
COMMENT ON VIEW secret_reveals IS 'per managed secret: last successful reveal and reveal count (summary counts, and uses as a resolver''s auth_reference, included), for callers who may read its audit events (manage, provsecret_auditor, provsecret_admin)';

------------------------------------------------------------------------------
-- audit_worker_status is readable by the roles it is granted to: a view runs
-- its functions with the caller's EXECUTE privilege, not the view owner's.
------------------------------------------------------------------------------
GRANT EXECUTE ON FUNCTION audit_worker_state() TO provsecret_auditor, provsecret_admin;

------------------------------------------------------------------------------
-- Vault KV v2-compatible surface (docs/vault.md): its requests are audited
-- on channel 'vault'.  (provsecret.vault_api and provsecret.vault_mount are
-- GUCs: nothing to install.)
------------------------------------------------------------------------------
ALTER TABLE audit_event DROP CONSTRAINT audit_event_channel_check;
ALTER TABLE audit_event ADD CONSTRAINT audit_event_channel_check
    CHECK (channel IN ('sql', 'rest', 'vault'));
ALTER TABLE audit_pending DROP CONSTRAINT audit_pending_channel_check;
ALTER TABLE audit_pending ADD CONSTRAINT audit_pending_channel_check
    CHECK (channel IN ('sql', 'rest', 'vault'));
