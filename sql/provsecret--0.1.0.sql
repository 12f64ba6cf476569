-- provsecret 0.1.0: encrypted secrets, tenancy, grants and audit.
\echo Use "CREATE EXTENSION provsecret" to load this file. \quit

-- Cluster-wide roles, created once and shared by every database.
DO $roles$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'provsecret_admin') THEN
        CREATE ROLE provsecret_admin NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'provsecret_auditor') THEN
        CREATE ROLE provsecret_auditor NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'provsecret_service') THEN
        CREATE ROLE provsecret_service NOLOGIN NOINHERIT NOBYPASSRLS;
    END IF;
END
$roles$;

COMMENT ON ROLE provsecret_admin IS 'provsecret: manage every tenant, secret and grant';
COMMENT ON ROLE provsecret_auditor IS 'provsecret: read all metadata, grants and audit events, never a value';
COMMENT ON ROLE provsecret_service IS 'provsecret internal: the role its functions and views act as, subject to row-level security; never grant it to anyone';

REVOKE ALL ON SCHEMA provsecret FROM PUBLIC;
GRANT USAGE ON SCHEMA provsecret TO PUBLIC;
GRANT USAGE ON SCHEMA provsecret TO provsecret_service;

------------------------------------------------------------------------------
-- Authorization: the one function every policy calls.
------------------------------------------------------------------------------
CREATE FUNCTION has_permission(company text, project text, permission text)
RETURNS boolean
LANGUAGE C STABLE PARALLEL RESTRICTED
AS 'MODULE_PATHNAME', 'ps_has_permission';
COMMENT ON FUNCTION has_permission(text, text, text) IS
  'true if the caller''s principals hold the permission on the project (or its company) or on the company; used by every row-level security policy';

CREATE FUNCTION current_principal()
RETURNS text
LANGUAGE C STABLE PARALLEL RESTRICTED
AS 'MODULE_PATHNAME', 'ps_current_principal';
COMMENT ON FUNCTION current_principal() IS
  'the principal audit events name for the caller: user:<sub> after authenticate(), else db:<role>';

CREATE FUNCTION invalidate_caches()
RETURNS trigger
LANGUAGE C
AS 'MODULE_PATHNAME', 'ps_invalidate_caches';
COMMENT ON FUNCTION invalidate_caches() IS
  'trigger: makes every backend drop cached grants, projects or data keys when their table changes';

CREATE FUNCTION root_key_role(fingerprint text)
RETURNS text
LANGUAGE C STABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'ps_root_key_role';
COMMENT ON FUNCTION root_key_role(text) IS
  'whether the server holds the root key with this fingerprint: current, previous, development or unavailable';

------------------------------------------------------------------------------
-- Tenancy
------------------------------------------------------------------------------
CREATE TABLE company (
    company     text PRIMARY KEY,
    created_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    created_by  text NOT NULL
);
COMMENT ON TABLE company IS 'registered companies';

CREATE TABLE project (
    project     text PRIMARY KEY,
    company     text REFERENCES company (company),
    created_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    created_by  text NOT NULL
);
CREATE INDEX project_company_idx ON project (company);
COMMENT ON TABLE project IS 'registered projects (= workspaces); a project belongs to at most one company';

CREATE TABLE access_grant (
    principal   text NOT NULL,
    scope       text NOT NULL CHECK (scope IN ('company', 'project')),
    target      text NOT NULL,
    permission  text NOT NULL CHECK (permission IN ('describe', 'read', 'write', 'delete', 'manage')),
    granted_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    granted_by  text NOT NULL,
    PRIMARY KEY (principal, scope, target, permission)
);
CREATE INDEX access_grant_target_idx ON access_grant (scope, target);
COMMENT ON TABLE access_grant IS 'provsecret permissions held by principals on companies and projects';

------------------------------------------------------------------------------
-- Keys and secrets
------------------------------------------------------------------------------
CREATE TABLE data_key (
    id                    bigint PRIMARY KEY,
    tenant                text NOT NULL,
    company               text,
    project               text,
    wrapped_key           bytea NOT NULL,
    root_key_fingerprint  text NOT NULL,
    created_at            timestamptz NOT NULL DEFAULT pg_catalog.now(),
    retired_at            timestamptz
);
CREATE SEQUENCE data_key_id_seq OWNED BY data_key.id;
CREATE UNIQUE INDEX data_key_active_idx ON data_key (tenant) WHERE retired_at IS NULL;
COMMENT ON TABLE data_key IS 'per-tenant data keys, each wrapped by the root key whose fingerprint it names';

CREATE TABLE ai_provider_secret (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    scope          text NOT NULL CHECK (scope IN ('company', 'project')),
    company        text,
    project        text,
    name           text NOT NULL,
    reference      text GENERATED ALWAYS AS
                     ('managed:' || scope || '/' ||
                      CASE WHEN scope = 'company' THEN company ELSE project END ||
                      '/' || name) STORED,
    description    text,
    ciphertext     bytea NOT NULL,
    data_key_id    bigint NOT NULL,
    value_version  integer NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT pg_catalog.now(),
    created_by     text NOT NULL,
    updated_at     timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_by     text NOT NULL,
    CHECK (scope = 'project' OR project IS NULL),
    CHECK (CASE WHEN scope = 'company' THEN company ELSE project END IS NOT NULL),
    UNIQUE (reference)
);
CREATE INDEX ai_provider_secret_project_idx ON ai_provider_secret (project, name);
CREATE INDEX ai_provider_secret_company_idx ON ai_provider_secret (company, name);
COMMENT ON TABLE ai_provider_secret IS 'managed secrets, one row per reference; values only as ciphertext sealed in C';
COMMENT ON COLUMN ai_provider_secret.ciphertext IS 'format byte, data-key id, nonce, XChaCha20-Poly1305 ciphertext; bound to reference, scope and value_version';

CREATE TABLE ai_provider_secret_version (
    secret_id      bigint NOT NULL REFERENCES ai_provider_secret (id) ON DELETE CASCADE,
    company        text,
    project        text,
    value_version  integer NOT NULL,
    ciphertext     bytea NOT NULL,
    data_key_id    bigint NOT NULL,
    created_at     timestamptz NOT NULL,
    created_by     text NOT NULL,
    PRIMARY KEY (secret_id, value_version)
);
COMMENT ON TABLE ai_provider_secret_version IS 'earlier versions of managed secrets, pruned to provsecret.keep_versions';

------------------------------------------------------------------------------
-- Audit
------------------------------------------------------------------------------
CREATE TABLE audit_event (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at             timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    action         text NOT NULL,
    reference      text,
    company        text,
    project        text,
    principal      text NOT NULL,
    channel        text NOT NULL CHECK (channel IN ('sql', 'rest')),
    client_addr    inet,
    request_id     text,
    value_version  integer,
    outcome        text NOT NULL,
    count          bigint NOT NULL DEFAULT 1,
    detail         text
);
CREATE INDEX audit_event_reference_idx ON audit_event (reference, at);
COMMENT ON TABLE audit_event IS 'audit events; never a value or ciphertext';

------------------------------------------------------------------------------
-- Cache invalidation across backends
------------------------------------------------------------------------------
CREATE TRIGGER access_grant_invalidate AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON access_grant FOR EACH STATEMENT EXECUTE FUNCTION invalidate_caches();
CREATE TRIGGER project_invalidate AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON project FOR EACH STATEMENT EXECUTE FUNCTION invalidate_caches();
CREATE TRIGGER data_key_invalidate AFTER UPDATE OR DELETE OR TRUNCATE
    ON data_key FOR EACH STATEMENT EXECUTE FUNCTION invalidate_caches();

------------------------------------------------------------------------------
-- Privileges and row-level security
------------------------------------------------------------------------------
REVOKE ALL ON ALL TABLES IN SCHEMA provsecret FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA provsecret FROM PUBLIC;
GRANT SELECT ON company, project, access_grant, data_key, audit_event TO provsecret_service;
GRANT SELECT, INSERT, UPDATE, DELETE ON ai_provider_secret, ai_provider_secret_version TO provsecret_service;

ALTER TABLE company ENABLE ROW LEVEL SECURITY;
ALTER TABLE company FORCE ROW LEVEL SECURITY;
CREATE POLICY company_describe ON company FOR SELECT
    USING (provsecret.has_permission(company, NULL, 'describe'));

ALTER TABLE project ENABLE ROW LEVEL SECURITY;
ALTER TABLE project FORCE ROW LEVEL SECURITY;
CREATE POLICY project_describe ON project FOR SELECT
    USING (provsecret.has_permission(company, project, 'describe'));

ALTER TABLE access_grant ENABLE ROW LEVEL SECURITY;
ALTER TABLE access_grant FORCE ROW LEVEL SECURITY;
-- 'audit': managers of the target and provsecret_auditor see its grants
CREATE POLICY access_grant_audit ON access_grant FOR SELECT
    USING (provsecret.has_permission(CASE WHEN scope = 'company' THEN target END,
                                     CASE WHEN scope = 'project' THEN target END,
                                     'audit'));

ALTER TABLE data_key ENABLE ROW LEVEL SECURITY;
ALTER TABLE data_key FORCE ROW LEVEL SECURITY;
CREATE POLICY data_key_describe ON data_key FOR SELECT
    USING (provsecret.has_permission(company, project, 'describe'));

ALTER TABLE ai_provider_secret ENABLE ROW LEVEL SECURITY;
ALTER TABLE ai_provider_secret FORCE ROW LEVEL SECURITY;
CREATE POLICY secret_describe ON ai_provider_secret FOR SELECT
    USING (provsecret.has_permission(company, project, 'describe'));
CREATE POLICY secret_insert ON ai_provider_secret FOR INSERT
    WITH CHECK (provsecret.has_permission(company, project, 'write'));
CREATE POLICY secret_update ON ai_provider_secret FOR UPDATE
    USING (provsecret.has_permission(company, project, 'write'))
    WITH CHECK (provsecret.has_permission(company, project, 'write'));
CREATE POLICY secret_delete ON ai_provider_secret FOR DELETE
    USING (provsecret.has_permission(company, project, 'delete'));

ALTER TABLE ai_provider_secret_version ENABLE ROW LEVEL SECURITY;
ALTER TABLE ai_provider_secret_version FORCE ROW LEVEL SECURITY;
CREATE POLICY version_describe ON ai_provider_secret_version FOR SELECT
    USING (provsecret.has_permission(company, project, 'describe'));
CREATE POLICY version_insert ON ai_provider_secret_version FOR INSERT
    WITH CHECK (provsecret.has_permission(company, project, 'write'));
CREATE POLICY version_update ON ai_provider_secret_version FOR UPDATE
    USING (provsecret.has_permission(company, project, 'write'));
CREATE POLICY version_delete ON ai_provider_secret_version FOR DELETE
    USING (provsecret.has_permission(company, project, 'write'));

ALTER TABLE audit_event ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_event FORCE ROW LEVEL SECURITY;
CREATE POLICY audit_event_audit ON audit_event FOR SELECT
    USING (provsecret.has_permission(company, project, 'audit'));

------------------------------------------------------------------------------
-- Views: owned by provsecret_service, so the policies above filter every row
-- by the caller's principals.
------------------------------------------------------------------------------
CREATE VIEW secrets AS
    SELECT reference, scope, company, project, name, description, value_version,
           created_at, created_by, updated_at, updated_by
      FROM provsecret.ai_provider_secret;
COMMENT ON VIEW secrets IS 'managed secrets the caller may describe: metadata only, never a value or ciphertext';

CREATE VIEW grants AS
    SELECT principal, scope || '/' || target AS target, scope, permission, granted_at, granted_by
      FROM provsecret.access_grant;
COMMENT ON VIEW grants IS 'grants on the companies and projects the caller manages (all of them for provsecret_auditor and provsecret_admin)';

CREATE VIEW audit_log AS
    SELECT id, at, action, reference, company, project, principal, channel,
           client_addr, request_id, value_version, outcome, count, detail
      FROM provsecret.audit_event;
COMMENT ON VIEW audit_log IS 'audit events of the tenants the caller manages (all of them for provsecret_auditor and provsecret_admin)';

CREATE VIEW key_status AS
    SELECT k.root_key_fingerprint,
           provsecret.root_key_role(k.root_key_fingerprint) AS root_key,
           pg_catalog.count(*) AS data_keys,
           pg_catalog.sum((SELECT pg_catalog.count(*) FROM provsecret.ai_provider_secret s
                            WHERE s.data_key_id = k.id)) AS secrets,
           pg_catalog.sum((SELECT pg_catalog.count(*) FROM provsecret.ai_provider_secret_version v
                            WHERE v.data_key_id = k.id)) AS kept_versions
      FROM provsecret.data_key k
     GROUP BY k.root_key_fingerprint;
COMMENT ON VIEW key_status IS 'per root-key fingerprint: whether the server holds that key, and how many data keys, secrets and kept versions depend on it';

ALTER VIEW secrets OWNER TO provsecret_service;
ALTER VIEW grants OWNER TO provsecret_service;
ALTER VIEW audit_log OWNER TO provsecret_service;
ALTER VIEW key_status OWNER TO provsecret_service;
GRANT SELECT ON secrets, grants, audit_log, key_status TO PUBLIC;

------------------------------------------------------------------------------
-- API
------------------------------------------------------------------------------
CREATE FUNCTION seal(reference text, credential_value text, description text DEFAULT NULL)
RETURNS text
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'ps_seal';
COMMENT ON FUNCTION seal(text, text, text) IS
  'create or rotate a managed secret; returns the same reference; rotation bumps value_version';

CREATE FUNCTION resolve(reference text)
RETURNS text
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'ps_resolve';
COMMENT ON FUNCTION resolve(text) IS
  'plaintext of a managed:, env: or external: reference; every call is audited';

CREATE FUNCTION delete_secret(reference text)
RETURNS boolean
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'ps_delete_secret';
COMMENT ON FUNCTION delete_secret(text) IS
  'delete a managed secret and all its stored versions; true if something was deleted';

CREATE FUNCTION register_company(company text)
RETURNS void
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'ps_register_company';
COMMENT ON FUNCTION register_company(text) IS
  'register a company (manage on it, or provsecret_admin)';

CREATE FUNCTION register_project(project text, company text DEFAULT NULL)
RETURNS void
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'ps_register_project';
COMMENT ON FUNCTION register_project(text, text) IS
  'register a project, optionally in a company; a project belongs to at most one company';

CREATE FUNCTION "grant"(principal text, target text, permissions text[])
RETURNS void
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'ps_grant';
COMMENT ON FUNCTION "grant"(text, text, text[]) IS
  'grant permissions (describe, read, write, delete, manage) on company/<c> or project/<p> to a principal';

CREATE FUNCTION revoke(principal text, target text, permissions text[] DEFAULT NULL)
RETURNS void
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'ps_revoke';
COMMENT ON FUNCTION revoke(text, text, text[]) IS
  'revoke permissions (all of them when permissions is null) on a target from a principal';

CREATE FUNCTION authenticate(bearer_token text)
RETURNS text
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'ps_authenticate';
COMMENT ON FUNCTION authenticate(text) IS
  'verify a Keycloak access token exactly as the REST API does (JWKS signature, iss, aud or azp, exp, nbf, typ); its principals (user:, client:, role:, group:) apply for the rest of the transaction; returns the subject; a rejected token raises 28000';

-- Who may call is decided inside each function by provsecret grants.
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA provsecret FROM PUBLIC;
GRANT EXECUTE ON FUNCTION has_permission(text, text, text), current_principal(),
    root_key_role(text), seal(text, text, text), resolve(text), delete_secret(text),
    register_company(text), register_project(text, text), "grant"(text, text, text[]),
    revoke(text, text, text[]), authenticate(text) TO PUBLIC;
GRANT EXECUTE ON FUNCTION has_permission(text, text, text), root_key_role(text) TO provsecret_service;

------------------------------------------------------------------------------
-- pg_dump: every table's rows and sequence position belong in a dump.
------------------------------------------------------------------------------
SELECT pg_catalog.pg_extension_config_dump('company', '');
SELECT pg_catalog.pg_extension_config_dump('project', '');
SELECT pg_catalog.pg_extension_config_dump('access_grant', '');
SELECT pg_catalog.pg_extension_config_dump('data_key', '');
SELECT pg_catalog.pg_extension_config_dump('data_key_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('ai_provider_secret', '');
SELECT pg_catalog.pg_extension_config_dump('ai_provider_secret_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('ai_provider_secret_version', '');
SELECT pg_catalog.pg_extension_config_dump('audit_event', '');
SELECT pg_catalog.pg_extension_config_dump('audit_event_id_seq', '');

------------------------------------------------------------------------------
-- Versions
------------------------------------------------------------------------------
CREATE FUNCTION versions(reference text)
RETURNS TABLE (value_version integer, created_at timestamptz, created_by text)
LANGUAGE C STABLE PARALLEL RESTRICTED
AS 'MODULE_PATHNAME', 'ps_versions';
COMMENT ON FUNCTION versions(text) IS
  'the current and kept versions of a managed secret, newest first (describe permission)';

CREATE FUNCTION rollback(reference text, value_version integer)
RETURNS integer
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'ps_rollback';
COMMENT ON FUNCTION rollback(text, integer) IS
  're-seal a kept version as the newest, same reference; returns its new value_version (write permission)';

REVOKE ALL ON FUNCTION versions(text), rollback(text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION versions(text), rollback(text, integer) TO PUBLIC;

------------------------------------------------------------------------------
-- Key operations
------------------------------------------------------------------------------
CREATE FUNCTION rewrap(batch integer DEFAULT 1000)
RETURNS integer
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'ps_rewrap';
COMMENT ON FUNCTION rewrap(integer) IS
  'rewrap up to batch data keys still under another root key with the current one; returns how many, 0 when done (provsecret_admin)';

CREATE FUNCTION rotate_data_key(target text)
RETURNS integer
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'ps_rotate_data_key';
COMMENT ON FUNCTION rotate_data_key(text) IS
  'new data key for company/<c> or project/<p>, re-encrypting its secrets and kept versions; returns how many ciphertexts (manage permission)';

CREATE FUNCTION shred(target text, confirm text)
RETURNS void
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'ps_shred';
COMMENT ON FUNCTION shred(text, text) IS
  'irreversibly destroy a tenant''s secrets and data keys; confirm must repeat the target (manage permission)';

REVOKE ALL ON FUNCTION rewrap(integer), rotate_data_key(text), shred(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rewrap(integer), rotate_data_key(text), shred(text, text) TO PUBLIC;

------------------------------------------------------------------------------
-- External resolvers (DESIGN §9): backends that external:<resolver>/<path>
-- references are fetched from.  A resolver belongs to a company or project:
-- manage there changes it, read there resolves through it.  Its token is
-- never stored here, only auth_reference, a managed: or env: reference.
------------------------------------------------------------------------------
CREATE TABLE resolver (
    name            text PRIMARY KEY,
    scope           text NOT NULL CHECK (scope IN ('company', 'project')),
    company         text,
    project         text,
    kind            text NOT NULL CHECK (kind IN ('vault-kv2', 'infisical', 'http-json')),
    base_url        text NOT NULL,
    options         jsonb NOT NULL DEFAULT '{}',
    auth_reference  text,
    revision        integer NOT NULL DEFAULT 1,
    created_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    created_by      text NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_by      text NOT NULL,
    CHECK (scope = 'project' OR project IS NULL),
    CHECK (CASE WHEN scope = 'company' THEN company ELSE project END IS NOT NULL)
);
CREATE INDEX resolver_company_idx ON resolver (company);
CREATE INDEX resolver_project_idx ON resolver (project);
COMMENT ON TABLE resolver IS 'external secret backends (vault-kv2, infisical, http-json); options are checked and stored with their defaults; no credential, only auth_reference';
COMMENT ON COLUMN resolver.revision IS 'bumped by alter_resolver; cached values of an earlier revision are not used';

REVOKE ALL ON resolver FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON resolver TO provsecret_service;

ALTER TABLE resolver ENABLE ROW LEVEL SECURITY;
ALTER TABLE resolver FORCE ROW LEVEL SECURITY;
CREATE POLICY resolver_describe ON resolver FOR SELECT
    USING (provsecret.has_permission(company, project, 'describe'));
CREATE POLICY resolver_insert ON resolver FOR INSERT
    WITH CHECK (provsecret.has_permission(company, project, 'manage'));
CREATE POLICY resolver_update ON resolver FOR UPDATE
    USING (provsecret.has_permission(company, project, 'manage'))
    WITH CHECK (provsecret.has_permission(company, project, 'manage'));
CREATE POLICY resolver_delete ON resolver FOR DELETE
    USING (provsecret.has_permission(company, project, 'manage'));

CREATE VIEW resolvers AS
    SELECT name, scope || '/' || CASE WHEN scope = 'company' THEN company ELSE project END AS target,
           scope, company, project, kind, base_url, options, auth_reference, revision,
           created_at, created_by, updated_at, updated_by
      FROM provsecret.resolver;
COMMENT ON VIEW resolvers IS 'external resolvers the caller may describe; auth_reference is a reference, never a credential';
ALTER VIEW resolvers OWNER TO provsecret_service;
GRANT SELECT ON resolvers TO PUBLIC;

CREATE FUNCTION create_resolver(name text, target text, kind text, base_url text,
                                options jsonb DEFAULT '{}', auth_reference text DEFAULT NULL)
RETURNS void
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'ps_create_resolver';
COMMENT ON FUNCTION create_resolver(text, text, text, text, jsonb, text) IS
  'register an external resolver owned by company/<c> or project/<p> (manage there; read too when it has an auth_reference); kind vault-kv2, infisical or http-json';

CREATE FUNCTION alter_resolver(name text, target text DEFAULT NULL, kind text DEFAULT NULL,
                               base_url text DEFAULT NULL, options jsonb DEFAULT NULL,
                               auth_reference text DEFAULT NULL)
RETURNS void
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'ps_alter_resolver';
COMMENT ON FUNCTION alter_resolver(text, text, text, text, jsonb, text) IS
  'change an external resolver; NULL leaves an argument unchanged, options are replaced as a whole, auth_reference '''' removes it';

CREATE FUNCTION drop_resolver(name text)
RETURNS boolean
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'ps_drop_resolver';
COMMENT ON FUNCTION drop_resolver(text) IS
  'remove an external resolver (manage on its target); true if it existed';

REVOKE ALL ON FUNCTION create_resolver(text, text, text, text, jsonb, text),
    alter_resolver(text, text, text, text, jsonb, text), drop_resolver(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION create_resolver(text, text, text, text, jsonb, text),
    alter_resolver(text, text, text, text, jsonb, text), drop_resolver(text) TO PUBLIC;

SELECT pg_catalog.pg_extension_config_dump('resolver', '');
