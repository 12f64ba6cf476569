-- TEMPORARY (branch audit only): the minimum of the core schema the audit
-- fragment needs, until main's install script lands.
\echo Use "CREATE EXTENSION provsecret" to load this file. \quit
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'provsecret_admin') THEN CREATE ROLE provsecret_admin NOLOGIN; END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'provsecret_auditor') THEN CREATE ROLE provsecret_auditor NOLOGIN; END IF;
END $$;
CREATE FUNCTION provsecret.has_permission(company text, project text, permission text)
    RETURNS boolean LANGUAGE sql STABLE AS $$ SELECT false $$;
CREATE FUNCTION provsecret.audit_probe(reference text, action text, durable boolean) RETURNS text
    LANGUAGE c VOLATILE STRICT AS 'MODULE_PATHNAME', 'provsecret_audit_probe';
GRANT USAGE ON SCHEMA provsecret TO PUBLIC;
