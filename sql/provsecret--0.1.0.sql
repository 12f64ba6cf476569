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
-- provsecret audit objects (DESIGN §7).  Spliced into the install script
-- after the roles and provsecret.has_permission() exist.
--
-- Only the "provsecret audit" background worker inserts into audit_event, so
-- the keyed hash chain has a single writer.  Transactional events wait in
-- audit_pending (inserted in the caller's transaction) until the worker
-- chains them.

CREATE TABLE provsecret.audit_event (
    id            bigint PRIMARY KEY,          -- chain position, gapless
    at            timestamptz NOT NULL,
    action        text NOT NULL,
    reference     text,
    company       text,
    project       text,
    principal     text NOT NULL,
    channel       text NOT NULL,
    client_addr   text,
    request_id    text,
    value_version integer,
    outcome       text NOT NULL,
    count         bigint NOT NULL DEFAULT 1,
    prev_hash     bytea NOT NULL,
    hash          bytea NOT NULL
);
COMMENT ON TABLE provsecret.audit_event IS
    'Append-only audit events forming a keyed hash chain; read through provsecret.audit_log.';
CREATE INDEX audit_event_at_idx ON provsecret.audit_event (at);
CREATE INDEX audit_event_reveal_idx ON provsecret.audit_event (reference, at)
    WHERE action IN ('secret.revealed', 'secret.resolved') AND outcome = 'ok';

CREATE TABLE provsecret.audit_pending (
    pending_id    bigserial PRIMARY KEY,
    at            timestamptz NOT NULL,
    action        text NOT NULL,
    reference     text,
    company       text,
    project       text,
    principal     text NOT NULL,
    channel       text NOT NULL,
    client_addr   text,
    request_id    text,
    value_version integer,
    outcome       text NOT NULL,
    count         bigint NOT NULL DEFAULT 1
);
COMMENT ON TABLE provsecret.audit_pending IS
    'Events of committed changes not yet appended to the audit chain by the audit worker.';

CREATE TABLE provsecret.audit_chain_key (
    id           integer PRIMARY KEY CHECK (id = 1),
    wrapped      bytea NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    rewrapped_at timestamptz
);
COMMENT ON TABLE provsecret.audit_chain_key IS
    'The audit hash-chain key, wrapped by the root key.';

CREATE TABLE provsecret.audit_checkpoint (
    id           bigserial PRIMARY KEY,
    at           timestamptz NOT NULL DEFAULT now(),
    through_id   bigint NOT NULL UNIQUE,       -- events up to here were dropped
    last_hash    bytea NOT NULL,               -- hash of event through_id
    dropped      bigint NOT NULL,
    retained_by  text NOT NULL,
    mac          bytea NOT NULL                -- keyed by the chain key
);
COMMENT ON TABLE provsecret.audit_checkpoint IS
    'Where provsecret.audit_retain() cut the audit chain, so it still verifies.';

REVOKE ALL ON provsecret.audit_event, provsecret.audit_pending,
    provsecret.audit_chain_key, provsecret.audit_checkpoint FROM PUBLIC;

SELECT pg_catalog.pg_extension_config_dump('provsecret.audit_event', '');
SELECT pg_catalog.pg_extension_config_dump('provsecret.audit_pending', '');
SELECT pg_catalog.pg_extension_config_dump('provsecret.audit_pending_pending_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('provsecret.audit_chain_key', '');
SELECT pg_catalog.pg_extension_config_dump('provsecret.audit_checkpoint', '');
SELECT pg_catalog.pg_extension_config_dump('provsecret.audit_checkpoint_id_seq', '');

-- Append-only, for everyone: ENABLE ALWAYS so session_replication_role does
-- not skip it; only ALTER TABLE ... DISABLE TRIGGER does, and the chain then
-- shows what changed.
CREATE FUNCTION provsecret.audit_guard() RETURNS trigger
    LANGUAGE c AS 'MODULE_PATHNAME', 'provsecret_audit_guard';
COMMENT ON FUNCTION provsecret.audit_guard() IS
    'Refuses UPDATE, DELETE and TRUNCATE on the audit tables (42501), except the retention path.';
REVOKE ALL ON FUNCTION provsecret.audit_guard() FROM PUBLIC;

CREATE TRIGGER audit_event_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON provsecret.audit_event
    FOR EACH STATEMENT EXECUTE FUNCTION provsecret.audit_guard();
ALTER TABLE provsecret.audit_event ENABLE ALWAYS TRIGGER audit_event_append_only;
CREATE TRIGGER audit_checkpoint_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON provsecret.audit_checkpoint
    FOR EACH STATEMENT EXECUTE FUNCTION provsecret.audit_guard();
ALTER TABLE provsecret.audit_checkpoint ENABLE ALWAYS TRIGGER audit_checkpoint_append_only;
CREATE TRIGGER audit_pending_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON provsecret.audit_pending
    FOR EACH STATEMENT EXECUTE FUNCTION provsecret.audit_guard();
ALTER TABLE provsecret.audit_pending ENABLE ALWAYS TRIGGER audit_pending_append_only;

CREATE FUNCTION provsecret.verify_audit_chain()
    RETURNS TABLE (ok boolean, checked bigint, first_bad_id bigint)
    LANGUAGE c VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'provsecret_verify_audit_chain';
COMMENT ON FUNCTION provsecret.verify_audit_chain() IS
    'Recompute the audit hash chain; first_bad_id is the first event id edited, missing or out of place.';
REVOKE ALL ON FUNCTION provsecret.verify_audit_chain() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION provsecret.verify_audit_chain() TO provsecret_auditor, provsecret_admin;

CREATE FUNCTION provsecret.audit_retain(older_than interval) RETURNS bigint
    LANGUAGE c VOLATILE STRICT SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'provsecret_audit_retain';
COMMENT ON FUNCTION provsecret.audit_retain(interval) IS
    'Drop the oldest audit events older than the interval behind a checkpoint that keeps the chain verifiable; returns how many.';
REVOKE ALL ON FUNCTION provsecret.audit_retain(interval) FROM PUBLIC;

CREATE FUNCTION provsecret.audit_worker_state(
    OUT worker_pid integer, OUT queue_depth integer, OUT in_flight integer,
    OUT queue_capacity integer, OUT events_written bigint, OUT batches bigint,
    OUT failed_batches bigint, OUT last_flush timestamptz,
    OUT summary_counters integer)
    RETURNS record
    LANGUAGE c VOLATILE PARALLEL RESTRICTED
    AS 'MODULE_PATHNAME', 'provsecret_audit_worker_state';
COMMENT ON FUNCTION provsecret.audit_worker_state() IS
    'State of the provsecret audit worker and its queue (shared memory).';
REVOKE ALL ON FUNCTION provsecret.audit_worker_state() FROM PUBLIC;

CREATE VIEW provsecret.audit_worker_status AS
    SELECT s.worker_pid, s.queue_depth, s.in_flight, s.queue_capacity,
           s.events_written, s.batches, s.failed_batches, s.last_flush,
           s.summary_counters,
           pg_catalog.current_setting('provsecret.audit_level') AS audit_level
      FROM provsecret.audit_worker_state() s;
COMMENT ON VIEW provsecret.audit_worker_status IS
    'Audit worker: pid, queue depth, events written since start, last group commit.';
REVOKE ALL ON provsecret.audit_worker_status FROM PUBLIC;
GRANT SELECT ON provsecret.audit_worker_status TO provsecret_auditor, provsecret_admin;

-- Who sees which event: auditors and admins all; anyone else the events of
-- tenants they manage.
CREATE FUNCTION provsecret.audit_visible(company text, project text) RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT pg_catalog.pg_has_role('provsecret_auditor', 'USAGE')
        OR pg_catalog.pg_has_role('provsecret_admin', 'USAGE')
        OR ((company IS NOT NULL OR project IS NOT NULL)
            AND provsecret.has_permission(company, project, 'manage'))
$$;
COMMENT ON FUNCTION provsecret.audit_visible(text, text) IS
    'May the current user see audit events of this company or project?';

CREATE VIEW provsecret.audit_log WITH (security_barrier) AS
    SELECT e.id, e.at, e.action, e.reference, e.company, e.project,
           e.principal, e.channel, e.client_addr, e.request_id,
           e.value_version, e.outcome, e.count
      FROM (SELECT id, at, action, reference, company, project, principal,
                   channel, client_addr, request_id, value_version, outcome, count
              FROM provsecret.audit_event
            UNION ALL
            -- committed, not yet chained: id is assigned when chained
            SELECT NULL::bigint, at, action, reference, company, project, principal,
                   channel, client_addr, request_id, value_version, outcome, count
              FROM provsecret.audit_pending) e
     WHERE provsecret.audit_visible(e.company, e.project);
COMMENT ON VIEW provsecret.audit_log IS
    'Audit events (never a value); rows whose id is NULL are committed and about to be chained.';
GRANT SELECT ON provsecret.audit_log TO PUBLIC;

-- Per-secret reveal statistics, for the secrets view:
--   LEFT JOIN provsecret.secret_reveals r ON r.reference = s.reference
CREATE VIEW provsecret.secret_reveals AS
    SELECT reference, max(at) AS last_revealed_at, sum(count)::bigint AS reveal_count
      FROM provsecret.audit_event
     WHERE action IN ('secret.revealed', 'secret.resolved') AND outcome = 'ok'
     GROUP BY reference;
COMMENT ON VIEW provsecret.secret_reveals IS
    'Last reveal time and reveal count per reference (summary counts included).';
REVOKE ALL ON provsecret.secret_reveals FROM PUBLIC;
GRANT SELECT ON provsecret.secret_reveals TO provsecret_auditor, provsecret_admin;
