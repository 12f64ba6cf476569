-- audit.sql: every seal, rotation, reveal, delete and grant change writes an
-- audit_event (DESIGN §7) with the caller's principal, channel sql, the
-- value_version and the outcome, and never the value.
-- psql settings, extensions, BEGIN, pg_temp.sqlstate_of() and
-- pg_temp.error_of(): test/data/helpers.psql
\getenv abs_srcdir PG_ABS_SRCDIR
\set helpers :abs_srcdir '/data/helpers.psql'
\i :helpers
SELECT plan(17);

CREATE FUNCTION pg_temp.events(ref text) RETURNS text[] LANGUAGE sql AS $$
    SELECT coalesce(array_agg(action || ' v' || coalesce(value_version::text, '-') || ' ' || outcome ORDER BY id), '{}')
      FROM provsecret.audit_log WHERE reference = ref $$;

SELECT lives_ok($$SELECT provsecret.register_company('audco')$$, 'register company audco');
SELECT lives_ok($$SELECT provsecret.register_project('audp', 'audco')$$, 'register project audp');
CREATE ROLE pst_a_writer;
CREATE ROLE pst_a_reader;
CREATE ROLE pst_a_nobody;
SELECT lives_ok($$SELECT provsecret.grant('db:pst_a_writer', 'project/audp', ARRAY['write', 'delete'])$$, 'grant write, delete to writer');
SELECT lives_ok($$SELECT provsecret.grant('db:pst_a_reader', 'project/audp', ARRAY['read'])$$, 'grant read to reader');

SET ROLE pst_a_writer;
SELECT lives_ok($$SELECT provsecret.seal('managed:project/audp/K', 'canary-audit-1')$$, 'writer seals K');
SELECT lives_ok($$SELECT provsecret.seal('managed:project/audp/K', 'canary-audit-2')$$, 'writer rotates K');
RESET ROLE;
SET ROLE pst_a_reader;
SELECT is(provsecret.resolve('managed:project/audp/K'), 'canary-audit-2', 'reader resolves K');
RESET ROLE;
SET ROLE pst_a_writer;
SELECT is(provsecret.delete_secret('managed:project/audp/K'), true, 'writer deletes K');
RESET ROLE;

SELECT is(pg_temp.events('managed:project/audp/K'),
          ARRAY['secret.sealed v1 ok', 'secret.rotated v2 ok', 'secret.revealed v2 ok', 'secret.deleted v2 ok'],
          'seal, rotation, reveal and delete are audited in order, with their value_version');
SELECT results_eq(
    $$SELECT action, principal, channel, company, project FROM provsecret.audit_log
       WHERE reference = 'managed:project/audp/K' ORDER BY id$$,
    $$VALUES ('secret.sealed'::text, 'db:pst_a_writer'::text, 'sql'::text, 'audco'::text, 'audp'::text),
             ('secret.rotated', 'db:pst_a_writer', 'sql', 'audco', 'audp'),
             ('secret.revealed', 'db:pst_a_reader', 'sql', 'audco', 'audp'),
             ('secret.deleted', 'db:pst_a_writer', 'sql', 'audco', 'audp')$$,
    'each event names the caller''s principal, the channel and the tenant');
SELECT is((SELECT count(*) FROM provsecret.audit_log WHERE reference = 'managed:project/audp/K' AND at IS NULL), 0::bigint, 'every event has a time');

-- Grant changes: two grants on audp so far, then a revoke.
CREATE TEMP TABLE grant_events AS
    SELECT count(*) AS n FROM provsecret.audit_log
     WHERE action = 'grant.changed' AND project = 'audp' AND outcome = 'ok';
SELECT ok((SELECT n FROM grant_events) >= 2, 'each grant is audited as grant.changed');
SELECT lives_ok($$SELECT provsecret.revoke('db:pst_a_reader', 'project/audp', ARRAY['read'])$$, 'revoke read from reader');
SELECT ok((SELECT count(*) FROM provsecret.audit_log
            WHERE action = 'grant.changed' AND project = 'audp' AND outcome = 'ok') > (SELECT n FROM grant_events),
          'a revoke is audited as grant.changed');

-- No event carries a value.
SELECT is((SELECT count(*) FROM provsecret.audit_event e WHERE e::text LIKE '%canary-audit%'), 0::bigint, 'no audit row contains a value');

-- Denied attempts are audited: the event outlives the failing statement
-- (durable audit, docs/audit.md).
SELECT lives_ok($$SELECT provsecret.seal('managed:project/audp/D', 'canary-audit-d')$$, 'seal D');
SET ROLE pst_a_nobody;
SELECT pg_temp.sqlstate_of('SELECT provsecret.resolve($1)', 'managed:project/audp/D') AS denied;
RESET ROLE;
SELECT ok((SELECT count(*) FROM provsecret.audit_log
            WHERE reference = 'managed:project/audp/D' AND action = 'access.denied'
              AND principal = 'db:pst_a_nobody' AND outcome = 'denied') = 1,
          'a denied resolve is audited as access.denied');

SELECT * FROM finish();
ROLLBACK;
