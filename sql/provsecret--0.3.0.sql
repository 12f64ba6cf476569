-- provsecret 0.3.0: encrypted secrets, tenancy, grants and audit.
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
LANGUAGE C VOLATILE
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
-- a data-key rotation finds the ciphertexts still under a retired key
CREATE INDEX ai_provider_secret_data_key_idx ON ai_provider_secret (data_key_id);
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
CREATE INDEX ai_provider_secret_version_data_key_idx ON ai_provider_secret_version (data_key_id);
COMMENT ON TABLE ai_provider_secret_version IS 'earlier versions of managed secrets, pruned to provsecret.keep_versions';

------------------------------------------------------------------------------
-- Audit
------------------------------------------------------------------------------
-- Only the "provsecret audit" background worker inserts into audit_event, so
-- the keyed hash chain has a single writer.  id orders events as they
-- happened; chain_seq is the gapless chain position.  Events of a caller's
-- own changes wait in audit_pending, inserted in the caller's transaction
-- with their id, until the worker chains them after the commit.
CREATE TABLE audit_event (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    chain_seq      bigint NOT NULL UNIQUE,
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
    detail         text,
    prev_hash      bytea NOT NULL,
    hash           bytea NOT NULL
);
CREATE INDEX audit_event_reference_idx ON audit_event (reference COLLATE "C", at);
COMMENT ON TABLE audit_event IS 'audit events; never a value or ciphertext; append-only, a keyed hash chain';

CREATE TABLE audit_pending (
    id             bigint PRIMARY KEY
                   DEFAULT pg_catalog.nextval('provsecret.audit_event_id_seq'::pg_catalog.regclass),
    at             timestamptz NOT NULL,
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
COMMENT ON TABLE audit_pending IS 'events of committed changes the audit worker has not chained yet';

CREATE TABLE audit_chain_key (
    epoch                integer PRIMARY KEY,
    first_seq            bigint NOT NULL UNIQUE,
    wrapped              bytea NOT NULL,
    root_key_fingerprint text NOT NULL,
    created_at           timestamptz NOT NULL DEFAULT pg_catalog.now(),
    rewrapped_at         timestamptz
);
COMMENT ON TABLE audit_chain_key IS 'audit hash-chain keys, wrapped by the root key and rewrapped by rewrap(); epoch n keys the chain from chain_seq first_seq on (a new epoch starts when the root key of the newest is gone)';

CREATE TABLE audit_checkpoint (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at             timestamptz NOT NULL DEFAULT pg_catalog.now(),
    through_seq    bigint NOT NULL UNIQUE,
    last_hash      bytea NOT NULL,
    dropped        bigint NOT NULL,
    retained_by    text NOT NULL,
    key_epoch      integer NOT NULL,
    mac            bytea NOT NULL
);
COMMENT ON TABLE audit_checkpoint IS 'where audit_retain() cut the chain: events up to chain_seq through_seq dropped, last_hash continues it, mac keyed by the chain key';

-- Append-only for everyone.  ENABLE ALWAYS: session_replication_role does
-- not skip it; only ALTER TABLE ... DISABLE TRIGGER does, and the chain then
-- shows what changed.
CREATE FUNCTION audit_guard() RETURNS trigger
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'provsecret_audit_guard';
COMMENT ON FUNCTION audit_guard() IS
  'trigger: refuses UPDATE, DELETE and TRUNCATE on the audit tables (42501), except for audit_retain() and the audit worker';
CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE OR TRUNCATE
    ON audit_event FOR EACH STATEMENT EXECUTE FUNCTION audit_guard();
ALTER TABLE audit_event ENABLE ALWAYS TRIGGER audit_event_append_only;
CREATE TRIGGER audit_pending_append_only BEFORE UPDATE OR DELETE OR TRUNCATE
    ON audit_pending FOR EACH STATEMENT EXECUTE FUNCTION audit_guard();
ALTER TABLE audit_pending ENABLE ALWAYS TRIGGER audit_pending_append_only;
CREATE TRIGGER audit_checkpoint_append_only BEFORE UPDATE OR DELETE OR TRUNCATE
    ON audit_checkpoint FOR EACH STATEMENT EXECUTE FUNCTION audit_guard();
ALTER TABLE audit_checkpoint ENABLE ALWAYS TRIGGER audit_checkpoint_append_only;

CREATE FUNCTION verify_audit_chain()
RETURNS TABLE (ok boolean, checked bigint, first_bad_id bigint)
LANGUAGE C VOLATILE PARALLEL RESTRICTED
AS 'MODULE_PATHNAME', 'provsecret_verify_audit_chain';
COMMENT ON FUNCTION verify_audit_chain() IS
  'recompute the audit hash chain; checked counts the events verified; first_bad_id is the first id edited, missing or out of place (provsecret_auditor, provsecret_admin)';

CREATE FUNCTION audit_retain(older_than interval)
RETURNS bigint
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'provsecret_audit_retain';
COMMENT ON FUNCTION audit_retain(interval) IS
  'drop the oldest audit events older than the interval behind a checkpoint that keeps the chain verifiable; returns how many (superuser)';

CREATE FUNCTION audit_worker_state(
    OUT worker_pid integer, OUT queue_depth integer, OUT in_flight integer,
    OUT queue_capacity integer, OUT events_written bigint, OUT batches bigint,
    OUT failed_batches bigint, OUT last_flush timestamptz,
    OUT summary_counters integer)
RETURNS record
LANGUAGE C VOLATILE PARALLEL RESTRICTED
AS 'MODULE_PATHNAME', 'provsecret_audit_worker_state';
COMMENT ON FUNCTION audit_worker_state() IS
  'the audit worker and its shared-memory queue, read by the audit_worker_status view';

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
GRANT SELECT ON company, project, access_grant, data_key, audit_event, audit_pending
    TO provsecret_service;
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
ALTER TABLE audit_pending ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_pending FORCE ROW LEVEL SECURITY;
CREATE POLICY audit_pending_audit ON audit_pending FOR SELECT
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
      FROM provsecret.audit_event
    UNION ALL
    SELECT id, at, action, reference, company, project, principal, channel,
           client_addr, request_id, value_version, outcome, count, detail
      FROM provsecret.audit_pending;
COMMENT ON VIEW audit_log IS 'audit events of the tenants the caller manages (all of them for provsecret_auditor and provsecret_admin), in id order as they happened';

-- Computed when read (index on reference, at), so reveals pay nothing for it.
CREATE VIEW secret_reveals AS
    SELECT s.reference, s.company, s.project, r.last_revealed_at,
           COALESCE(r.reveal_count, 0) AS reveal_count
      FROM provsecret.ai_provider_secret s
      LEFT JOIN LATERAL (
            SELECT pg_catalog.max(e.at) AS last_revealed_at,
                   pg_catalog.sum(e.count)::bigint AS reveal_count
              FROM provsecret.audit_event e
             WHERE e.reference OPERATOR(pg_catalog.=) s.reference COLLATE "C"
               AND e.action IN ('secret.revealed', 'secret.resolved')
               AND e.outcome OPERATOR(pg_catalog.=) 'ok') r ON true;
COMMENT ON VIEW secret_reveals IS 'per managed secret: last successful reveal and reveal count (summary counts included), for callers who may read its audit events (manage, provsecret_auditor, provsecret_admin)';

CREATE VIEW audit_worker_status AS
    SELECT s.worker_pid, s.queue_depth, s.in_flight, s.queue_capacity,
           s.events_written, s.batches, s.failed_batches, s.last_flush,
           s.summary_counters,
           pg_catalog.current_setting('provsecret.audit_level') AS audit_level
      FROM provsecret.audit_worker_state() s;
COMMENT ON VIEW audit_worker_status IS 'the provsecret audit worker: pid, queue depth, events written and group commits since it started, last commit';

CREATE VIEW key_status AS
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

ALTER VIEW secrets OWNER TO provsecret_service;
ALTER VIEW grants OWNER TO provsecret_service;
ALTER VIEW audit_log OWNER TO provsecret_service;
ALTER VIEW secret_reveals OWNER TO provsecret_service;
ALTER VIEW key_status OWNER TO provsecret_service;
GRANT SELECT ON secrets, grants, audit_log, key_status, secret_reveals TO PUBLIC;
REVOKE ALL ON FUNCTION audit_worker_state(), audit_guard(), audit_retain(interval) FROM PUBLIC;
GRANT SELECT ON audit_worker_status TO provsecret_auditor, provsecret_admin;

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
    revoke(text, text, text[]), authenticate(text), verify_audit_chain() TO PUBLIC;
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
SELECT pg_catalog.pg_extension_config_dump('audit_pending', '');
SELECT pg_catalog.pg_extension_config_dump('audit_chain_key', '');
SELECT pg_catalog.pg_extension_config_dump('audit_checkpoint', '');
SELECT pg_catalog.pg_extension_config_dump('audit_checkpoint_id_seq', '');

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
  'new data key for company/<c> or project/<p>, re-encrypting its secrets and kept versions in one transaction (or finishing a batched rotation in progress); returns how many ciphertexts (manage permission)';

CREATE FUNCTION rotate_data_key(target text, batch integer)
RETURNS integer
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'ps_rotate_data_key_batch';
COMMENT ON FUNCTION rotate_data_key(text, integer) IS
  'batched data-key rotation of company/<c> or project/<p>: the first call starts it (new active key, old key retired), each call re-encrypts up to batch ciphertexts still under the retired key and returns how many; the call that finds none destroys the retired key and returns 0 (manage permission)';

CREATE FUNCTION shred(target text, confirm text)
RETURNS void
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'ps_shred';
COMMENT ON FUNCTION shred(text, text) IS
  'irreversibly destroy a tenant''s secrets and data keys; confirm must repeat the target (manage permission)';

REVOKE ALL ON FUNCTION rewrap(integer), rotate_data_key(text), rotate_data_key(text, integer),
    shred(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rewrap(integer), rotate_data_key(text), rotate_data_key(text, integer),
    shred(text, text) TO PUBLIC;

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

------------------------------------------------------------------------------
-- Workspace bindings (DESIGN §9, bind_workspace): a bound project's
-- managed:project/<p>/<name> secrets are written to, read from and deleted
-- in its resolver's backend.  Their values never touch these tables:
-- bound_secret keeps only metadata, so listings (the secrets view, REST GET
-- of a workspace's secrets) never call the backend.  Secrets the project
-- had in managed storage before it was bound stay there until deleted.
------------------------------------------------------------------------------
CREATE TABLE workspace_binding (
    project    text PRIMARY KEY,
    company    text,
    resolver   text NOT NULL REFERENCES resolver (name),
    bound_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    bound_by   text NOT NULL
);
CREATE INDEX workspace_binding_resolver_idx ON workspace_binding (resolver);
COMMENT ON TABLE workspace_binding IS 'projects (workspaces) whose secrets live in an external resolver''s backend; a bound resolver cannot be dropped';

CREATE TABLE bound_secret (
    project        text NOT NULL,
    company        text,
    name           text NOT NULL,
    reference      text GENERATED ALWAYS AS ('managed:project/' || project || '/' || name) STORED,
    resolver       text NOT NULL,
    description    text,
    value_version  integer NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT pg_catalog.now(),
    created_by     text NOT NULL,
    updated_at     timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_by     text NOT NULL,
    PRIMARY KEY (project, name),
    UNIQUE (reference)
);
COMMENT ON TABLE bound_secret IS 'metadata of secrets kept in a bound workspace''s backend: no value, no ciphertext; value_version counts provsecret''s writes';
COMMENT ON COLUMN bound_secret.resolver IS 'the resolver whose backend holds the value';

REVOKE ALL ON workspace_binding, bound_secret FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON workspace_binding, bound_secret TO provsecret_service;

ALTER TABLE workspace_binding ENABLE ROW LEVEL SECURITY;
ALTER TABLE workspace_binding FORCE ROW LEVEL SECURITY;
CREATE POLICY binding_describe ON workspace_binding FOR SELECT
    USING (provsecret.has_permission(company, project, 'describe'));
CREATE POLICY binding_insert ON workspace_binding FOR INSERT
    WITH CHECK (provsecret.has_permission(company, project, 'manage'));
CREATE POLICY binding_update ON workspace_binding FOR UPDATE
    USING (provsecret.has_permission(company, project, 'manage'))
    WITH CHECK (provsecret.has_permission(company, project, 'manage'));
CREATE POLICY binding_delete ON workspace_binding FOR DELETE
    USING (provsecret.has_permission(company, project, 'manage'));

-- the same policies as ai_provider_secret; unbind (manage) forgets them all
ALTER TABLE bound_secret ENABLE ROW LEVEL SECURITY;
ALTER TABLE bound_secret FORCE ROW LEVEL SECURITY;
CREATE POLICY bound_secret_describe ON bound_secret FOR SELECT
    USING (provsecret.has_permission(company, project, 'describe'));
CREATE POLICY bound_secret_insert ON bound_secret FOR INSERT
    WITH CHECK (provsecret.has_permission(company, project, 'write'));
CREATE POLICY bound_secret_update ON bound_secret FOR UPDATE
    USING (provsecret.has_permission(company, project, 'write'))
    WITH CHECK (provsecret.has_permission(company, project, 'write'));
CREATE POLICY bound_secret_delete ON bound_secret FOR DELETE
    USING (provsecret.has_permission(company, project, 'delete')
           OR provsecret.has_permission(company, project, 'manage'));

CREATE VIEW workspace_bindings AS
    SELECT project, company, resolver, bound_at, bound_by
      FROM provsecret.workspace_binding;
COMMENT ON VIEW workspace_bindings IS 'workspaces bound to an external resolver, for callers who may describe them';
ALTER VIEW workspace_bindings OWNER TO provsecret_service;
GRANT SELECT ON workspace_bindings TO PUBLIC;

-- secrets lists bound secrets too: the same columns, metadata only
CREATE OR REPLACE VIEW secrets AS
    SELECT reference, scope, company, project, name, description, value_version,
           created_at, created_by, updated_at, updated_by
      FROM provsecret.ai_provider_secret
    UNION ALL
    SELECT reference, 'project'::text, company, project, name, description, value_version,
           created_at, created_by, updated_at, updated_by
      FROM provsecret.bound_secret;
COMMENT ON VIEW secrets IS 'secrets the caller may describe, managed and in bound workspaces'' backends: metadata only, never a value or ciphertext';

CREATE FUNCTION bind_workspace(project text, resolver text)
RETURNS void
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'ps_bind_workspace';
COMMENT ON FUNCTION bind_workspace(text, text) IS
  'keep the secrets of workspace (project) <project> in the backend of <resolver>, which belongs to the project or its company (manage on the project); http-json backends are read-only';

CREATE FUNCTION unbind_workspace(project text)
RETURNS boolean
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'ps_unbind_workspace';
COMMENT ON FUNCTION unbind_workspace(text) IS
  'back to managed storage (manage on the project): forgets the metadata of the bound secrets, whose values stay in the backend; true if it was bound';

REVOKE ALL ON FUNCTION bind_workspace(text, text), unbind_workspace(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bind_workspace(text, text), unbind_workspace(text) TO PUBLIC;

SELECT pg_catalog.pg_extension_config_dump('workspace_binding', '');
SELECT pg_catalog.pg_extension_config_dump('bound_secret', '');

-- Hot standbys: their reveal events are recorded here, on the primary.
DO $forwarder$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'provsecret_forwarder') THEN
        CREATE ROLE provsecret_forwarder NOLOGIN;
    END IF;
END
$forwarder$;
COMMENT ON ROLE provsecret_forwarder IS 'provsecret: the role a hot standby connects to the primary as (primary_conninfo or provsecret.primary_conninfo) to record its reveal events; trusted to name the principal';

CREATE FUNCTION record_forwarded_event(at timestamptz, action text, reference text,
    company text, project text, principal text, channel text, client_addr inet,
    request_id text, value_version integer, outcome text, count bigint, detail text)
RETURNS void
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'ps_record_forwarded_event';
COMMENT ON FUNCTION record_forwarded_event(timestamptz, text, text, text, text, text, text, inet, text, integer, text, bigint, text) IS
  'record a hot standby''s secret.revealed or access.denied event durably in the audit chain and return once it is on disk (provsecret_forwarder only)';
REVOKE ALL ON FUNCTION record_forwarded_event(timestamptz, text, text, text, text, text, text, inet, text, integer, text, bigint, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION record_forwarded_event(timestamptz, text, text, text, text, text, text, inet, text, integer, text, bigint, text) TO provsecret_forwarder;

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
