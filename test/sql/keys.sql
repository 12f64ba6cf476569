-- keys.sql: data key operations of DESIGN §4 and §6, as far as one root key
-- allows (rotation of the root key itself needs a restart: test/t):
-- rotate_data_key re-encrypts a tenant's secrets under a new data key,
-- rewrap has nothing to do under one root key, shred destroys a tenant's
-- secrets (crypto-shredding) only when confirm repeats the target.
-- psql settings, extensions, BEGIN, pg_temp.sqlstate_of() and
-- pg_temp.error_of(): test/data/helpers.psql
\getenv abs_srcdir PG_ABS_SRCDIR
\set helpers :abs_srcdir '/data/helpers.psql'
\i :helpers
SELECT plan(36);

CREATE FUNCTION pg_temp.key_of(ref text) RETURNS bigint LANGUAGE sql AS $$
    SELECT data_key_id FROM provsecret.ai_provider_secret WHERE reference = ref $$;

SELECT lives_ok($$SELECT provsecret.register_company('kco')$$, 'register company kco');
SELECT lives_ok($$SELECT provsecret.register_project('kp1', 'kco')$$, 'register project kp1 in kco');
SELECT lives_ok($$SELECT provsecret.register_project('kp2', 'kco')$$, 'register project kp2 in kco');
SELECT lives_ok($$SELECT provsecret.register_project('ksolo')$$, 'register project ksolo');
SELECT lives_ok($$SELECT provsecret.seal('managed:project/kp1/A', 'canary-key-a1')$$, 'seal kp1/A');
SELECT lives_ok($$SELECT provsecret.seal('managed:project/kp1/A', 'canary-key-a2')$$, 'rotate kp1/A (one kept version)');
SELECT lives_ok($$SELECT provsecret.seal('managed:project/kp2/B', 'canary-key-b')$$, 'seal kp2/B');
SELECT lives_ok($$SELECT provsecret.seal('managed:project/ksolo/C', 'canary-key-c')$$, 'seal ksolo/C');
SELECT is(pg_temp.key_of('managed:project/kp1/A'), pg_temp.key_of('managed:project/kp2/B'), 'the projects of a company share its data key');
SELECT isnt(pg_temp.key_of('managed:project/kp1/A'), pg_temp.key_of('managed:project/ksolo/C'), 'a project without a company has its own data key');

-- rotate_data_key: new key, same values.
CREATE TEMP TABLE before AS SELECT reference, data_key_id, ciphertext FROM provsecret.ai_provider_secret;
SELECT is(provsecret.rotate_data_key('company/kco'), 3, 'rotating kco''s data key re-encrypts two secrets and one kept version');
SELECT ok(pg_temp.key_of('managed:project/kp1/A') <> (SELECT data_key_id FROM before WHERE reference = 'managed:project/kp1/A'), 'kp1/A is under a new data key');
SELECT is((SELECT count(*) FROM provsecret.ai_provider_secret s JOIN before b USING (reference)
            WHERE s.ciphertext = b.ciphertext AND s.company = 'kco'), 0::bigint, 'every ciphertext of kco changed');
SELECT is(provsecret.resolve('managed:project/kp1/A'), 'canary-key-a2', 'kp1/A resolves after the rotation');
SELECT is(provsecret.resolve('managed:project/kp2/B'), 'canary-key-b', 'kp2/B resolves after the rotation');
SELECT is(provsecret.rollback('managed:project/kp1/A', 1), 3, 'the kept version was re-encrypted too (rollback to it works)');
SELECT is(provsecret.resolve('managed:project/kp1/A'), 'canary-key-a1', 'and resolves to the old value');
SELECT is(pg_temp.key_of('managed:project/ksolo/C'), (SELECT data_key_id FROM before WHERE reference = 'managed:project/ksolo/C'), 'other tenants keep their data key');
SELECT throws_ok($$SELECT provsecret.rotate_data_key('project/kp1')$$, '22023', NULL, 'a project inside a company has no data key of its own: 22023');
SELECT throws_ok($$SELECT provsecret.rotate_data_key('team/kco')$$, '22023', NULL, 'a malformed target is 22023');
SELECT lives_ok($$SELECT provsecret.seal('managed:project/ksolo/BIG', repeat('k', 10000))$$, 'seal a 10,000-character value in ksolo');
SELECT is(provsecret.rotate_data_key('project/ksolo'), 2, 'a project without a company rotates its own key');
SELECT is(provsecret.resolve('managed:project/ksolo/C'), 'canary-key-c', 'ksolo/C resolves after the rotation');
SELECT is(provsecret.resolve('managed:project/ksolo/BIG'), repeat('k', 10000), 'the 10,000-character value resolves after the rotation');

-- rewrap: every data key is under the current root key already.
SELECT is(provsecret.rewrap(), 0, 'rewrap has nothing to do under a single root key');
SELECT throws_ok($$SELECT provsecret.rewrap(0)$$, '22023', NULL, 'rewrap(0) is 22023');

-- Only managers rotate and shred.
CREATE ROLE pst_k_reader;
SELECT lives_ok($$SELECT provsecret.grant('db:pst_k_reader', 'company/kco', ARRAY['read', 'write', 'delete'])$$, 'grant read, write, delete on kco');
SET ROLE pst_k_reader;
SELECT throws_ok($$SELECT provsecret.rotate_data_key('company/kco')$$, '42501', NULL, 'rotate_data_key without manage is 42501');
SELECT throws_ok($$SELECT provsecret.shred('company/kco', 'company/kco')$$, '42501', NULL, 'shred without manage is 42501');
RESET ROLE;

-- shred: confirm must repeat the target; a company's shred takes every
-- project's secrets with it.
SELECT throws_ok($$SELECT provsecret.shred('company/kco', 'company/kco2')$$, '22023', NULL, 'shred with a wrong confirm is 22023');
SELECT is(provsecret.resolve('managed:project/kp2/B'), 'canary-key-b', 'and destroys nothing');
SELECT lives_ok($$SELECT provsecret.shred('company/kco', 'company/kco')$$, 'shred company kco');
SELECT is(ARRAY[pg_temp.sqlstate_of('SELECT provsecret.resolve($1)', 'managed:project/kp1/A'),
                pg_temp.sqlstate_of('SELECT provsecret.resolve($1)', 'managed:project/kp2/B'),
                pg_temp.sqlstate_of('SELECT provsecret.resolve($1)', 'managed:project/ksolo/C')],
          ARRAY['P0002', 'P0002', '00000'], 'kco''s secrets are gone, ksolo''s remain');
SELECT is((SELECT count(*) FROM provsecret.data_key WHERE company = 'kco' AND retired_at IS NULL), 0::bigint, 'kco has no usable data key left');
SELECT ok(EXISTS (SELECT 1 FROM provsecret.audit_log WHERE action = 'key.rotated' AND company = 'kco'), 'the rotation is audited as key.rotated');
SELECT ok(EXISTS (SELECT 1 FROM provsecret.audit_log WHERE action = 'tenant.shredded' AND company = 'kco'), 'the shred is audited');

SELECT * FROM finish();
ROLLBACK;
