-- rotate_batched.sql: rotate_data_key(target, batch), the online data-key
-- rotation of docs/DESIGN.md: the first call starts it (new active key,
-- old key retired but still readable), each call re-encrypts at most batch
-- ciphertexts (secrets and kept versions) and returns how many, the call
-- that re-encrypts nothing destroys the retired key and returns 0.
-- Concurrency and a crash mid-rotation: test/t/016_data_key_rotation.pl.
-- psql settings, extensions, BEGIN, pg_temp.sqlstate_of() and
-- pg_temp.error_of(): test/data/helpers.psql
\getenv abs_srcdir PG_ABS_SRCDIR
\set helpers :abs_srcdir '/data/helpers.psql'
\i :helpers
SELECT plan(75);

CREATE FUNCTION pg_temp.active_key(t text) RETURNS bigint LANGUAGE sql AS $$
    SELECT id FROM provsecret.data_key WHERE tenant = t AND retired_at IS NULL $$;
CREATE FUNCTION pg_temp.retired_keys(t text) RETURNS bigint[] LANGUAGE sql AS $$
    SELECT coalesce(array_agg(id ORDER BY id), '{}') FROM provsecret.data_key
     WHERE tenant = t AND retired_at IS NOT NULL $$;
-- ciphertexts (current and kept) of company rco under key k
CREATE FUNCTION pg_temp.under(k bigint) RETURNS bigint LANGUAGE sql AS $$
    SELECT (SELECT count(*) FROM provsecret.ai_provider_secret WHERE company = 'rco' AND data_key_id = k)
         + (SELECT count(*) FROM provsecret.ai_provider_secret_version WHERE company = 'rco' AND data_key_id = k) $$;
-- the value of a kept version, read through rollback() and undone
CREATE FUNCTION pg_temp.kept_value(ref text, ver integer) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    v text;
BEGIN
    BEGIN
        PERFORM provsecret.rollback(ref, ver);
        v := provsecret.resolve(ref);
        RAISE EXCEPTION USING ERRCODE = 'P0001', MESSAGE = 'undo the rollback';
    EXCEPTION WHEN raise_exception THEN
        NULL;
    END;
    RETURN v;
END $$;
-- every value of rco, current and kept, as one string
CREATE FUNCTION pg_temp.rco_values() RETURNS text LANGUAGE sql AS $$
    SELECT provsecret.resolve('managed:project/rp1/A') || ','
        || pg_temp.kept_value('managed:project/rp1/A', 1) || ','
        || provsecret.resolve('managed:project/rp1/B') || ','
        || provsecret.resolve('managed:project/rp2/C') || ','
        || provsecret.resolve('managed:company/rco/D') $$;

SELECT has_function('provsecret', 'rotate_data_key', ARRAY['text', 'integer'], 'rotate_data_key(text, integer) exists');
SELECT is((SELECT pronargdefaults FROM pg_proc WHERE oid = 'provsecret.rotate_data_key(text, integer)'::regprocedure),
          0::smallint, 'batch has no default, so rotate_data_key(target) stays unambiguous');

SELECT lives_ok($$SELECT provsecret.register_company('rco')$$, 'register company rco');
SELECT lives_ok($$SELECT provsecret.register_project('rp1', 'rco')$$, 'register project rp1 in rco');
SELECT lives_ok($$SELECT provsecret.register_project('rp2', 'rco')$$, 'register project rp2 in rco');
SELECT lives_ok($$SELECT provsecret.seal('managed:project/rp1/A', 'rot-a1')$$, 'seal rp1/A');
SELECT lives_ok($$SELECT provsecret.seal('managed:project/rp1/A', 'rot-a2')$$, 'seal rp1/A again (one kept version)');
SELECT lives_ok($$SELECT provsecret.seal('managed:project/rp1/B', 'rot-b')$$, 'seal rp1/B');
SELECT lives_ok($$SELECT provsecret.seal('managed:project/rp2/C', 'rot-c')$$, 'seal rp2/C');
SELECT lives_ok($$SELECT provsecret.seal('managed:company/rco/D', 'rot-d')$$, 'seal company rco/D');
SELECT lives_ok($$SELECT provsecret.seal('managed:project/rsolo/S', 'rot-s')$$, 'seal rsolo/S (another tenant)');
CREATE TEMP TABLE k AS SELECT pg_temp.active_key('company/rco') AS old, pg_temp.active_key('project/rsolo') AS solo;
SELECT is(pg_temp.under((SELECT old FROM k)), 5::bigint, 'five ciphertexts of rco: four secrets and one kept version');
SELECT is((SELECT sum(retired_data_keys) FROM provsecret.key_status), 0::numeric, 'key_status: no rotation in progress');
SELECT is(pg_temp.rco_values(), 'rot-a2,rot-a1,rot-b,rot-c,rot-d', 'every value of rco before the rotation');

-- Argument checks come before anything changes.
SELECT throws_ok($$SELECT provsecret.rotate_data_key('company/rco', 0)$$, '22023', NULL, 'batch 0 is 22023');
SELECT throws_ok($$SELECT provsecret.rotate_data_key('company/rco', -5)$$, '22023', NULL, 'a negative batch is 22023');
SELECT throws_ok($$SELECT provsecret.rotate_data_key('company/rco', NULL)$$, '22023', NULL, 'a NULL batch is 22023');
SELECT throws_ok($$SELECT provsecret.rotate_data_key('project/rp1', 2)$$, '22023', NULL, 'a project inside a company is 22023');
SELECT throws_ok($$SELECT provsecret.rotate_data_key('team/rco', 2)$$, '22023', NULL, 'a malformed target is 22023');
SELECT throws_ok($$SELECT provsecret.rotate_data_key(NULL, 2)$$, '22023', NULL, 'a NULL target is 22023');
CREATE ROLE pst_rot_writer;
SELECT lives_ok($$SELECT provsecret.grant('db:pst_rot_writer', 'company/rco', ARRAY['read', 'write'])$$, 'grant read, write on rco');
SET ROLE pst_rot_writer;
SELECT throws_ok($$SELECT provsecret.rotate_data_key('company/rco', 2)$$, '42501', NULL, 'without manage: 42501');
RESET ROLE;
SELECT is(pg_temp.retired_keys('company/rco'), '{}'::bigint[], 'no rejected call started a rotation');
SELECT is(pg_temp.active_key('company/rco'), (SELECT old FROM k), 'and the active key is unchanged');

-- Call 1 starts the rotation and re-encrypts two.
SELECT is(provsecret.rotate_data_key('company/rco', 2), 2, 'call 1 re-encrypts 2');
CREATE TEMP TABLE k2 AS SELECT pg_temp.active_key('company/rco') AS new;
SELECT isnt((SELECT new FROM k2), (SELECT old FROM k), 'a new active data key');
SELECT is(pg_temp.retired_keys('company/rco'), ARRAY[(SELECT old FROM k)], 'the old key is retired, not destroyed');
SELECT is(ARRAY[pg_temp.under((SELECT old FROM k)), pg_temp.under((SELECT new FROM k2))], ARRAY[3, 2]::bigint[], '3 left under the old key, 2 under the new');
SELECT is(pg_temp.rco_values(), 'rot-a2,rot-a1,rot-b,rot-c,rot-d', 'every value resolves after call 1');
SELECT is((SELECT string_agg(value_version::text, ',' ORDER BY value_version) FROM provsecret.versions('managed:project/rp1/A')),
          '1,2', 'versions() of rp1/A after call 1');
SELECT is((SELECT sum(retired_data_keys) || ' ' || array_agg(t)::text FROM provsecret.key_status LEFT JOIN unnest(rotating_tenants) t ON true),
          '1 {company/rco}',
          'key_status shows the rotation in progress');

-- A seal between batches lands under the new key.
SELECT lives_ok($$SELECT provsecret.seal('managed:project/rp2/E', 'rot-e')$$, 'seal rp2/E between batches');
SELECT is((SELECT data_key_id FROM provsecret.ai_provider_secret WHERE reference = 'managed:project/rp2/E'),
          (SELECT new FROM k2), 'the new secret is under the new key');

-- Calls 2, 3, 4.
SELECT is(provsecret.rotate_data_key('company/rco', 2), 2, 'call 2 re-encrypts 2');
SELECT is(pg_temp.active_key('company/rco'), (SELECT new FROM k2), 'call 2 started no second rotation');
SELECT is(pg_temp.rco_values(), 'rot-a2,rot-a1,rot-b,rot-c,rot-d', 'every value resolves after call 2');
SELECT is(provsecret.rotate_data_key('company/rco', 2), 1, 'call 3 re-encrypts the last 1');
SELECT is(pg_temp.retired_keys('company/rco'), ARRAY[(SELECT old FROM k)], 'the old key still exists after call 3');
SELECT is(pg_temp.rco_values(), 'rot-a2,rot-a1,rot-b,rot-c,rot-d', 'every value resolves after call 3');
SELECT is(provsecret.rotate_data_key('company/rco', 2), 0, 'call 4 re-encrypts nothing: 0');
SELECT is((SELECT count(*) FROM provsecret.data_key WHERE id = (SELECT old FROM k)), 0::bigint, 'the old key row is gone');
SELECT is(pg_temp.under((SELECT new FROM k2)), 6::bigint, 'all six ciphertexts of rco are under the new key');
SELECT is(pg_temp.rco_values() || ',' || provsecret.resolve('managed:project/rp2/E'),
          'rot-a2,rot-a1,rot-b,rot-c,rot-d,rot-e', 'every value resolves after the rotation finished');
SELECT is((SELECT sum(retired_data_keys) || ' ' || count(t) FROM provsecret.key_status LEFT JOIN unnest(rotating_tenants) t ON true),
          '0 0',
          'key_status: no rotation in progress any more');
SELECT is(pg_temp.active_key('project/rsolo'), (SELECT solo FROM k), 'another tenant kept its key');
SELECT is(provsecret.resolve('managed:project/rsolo/S'), 'rot-s', 'and resolves');
SELECT is((SELECT string_agg(split_part(detail, ':', 1), ',' ORDER BY id) FROM provsecret.audit_log
            WHERE action = 'key.rotated' AND company = 'rco'),
          'rotation started,rotation continued,rotation continued,rotation finished, the retired key destroyed',
          'each call is audited as key.rotated: started, continued, finished');
SELECT is((SELECT string_agg(count::text, ',' ORDER BY id) FROM provsecret.audit_log
            WHERE action = 'key.rotated' AND company = 'rco'), '2,2,1,1',
          'with the ciphertexts re-encrypted by each call (at least 1)');

-- Kept versions were re-encrypted: a real rollback to version 1 works.
SELECT is(provsecret.rollback('managed:project/rp1/A', 1), 3, 'rollback to the kept version 1');
SELECT is(provsecret.resolve('managed:project/rp1/A'), 'rot-a1', 'resolves to its value');

-- A second rotation afterwards: 7 ciphertexts now (A has two kept versions).
SELECT is(provsecret.rotate_data_key('company/rco', 5), 5, 'second rotation: call 1 re-encrypts 5');
SELECT isnt(pg_temp.active_key('company/rco'), (SELECT new FROM k2), 'under a third key');
SELECT is(provsecret.rotate_data_key('company/rco', 5), 2, 'call 2 re-encrypts 2');
SELECT is(provsecret.rotate_data_key('company/rco', 5), 0, 'call 3 finishes it');
SELECT is(pg_temp.retired_keys('company/rco') || (SELECT count(*) FROM provsecret.data_key WHERE tenant = 'company/rco'),
          ARRAY[1]::bigint[], 'one data key left for rco, none retired');
SELECT is(pg_temp.kept_value('managed:project/rp1/A', 2) || ',' || pg_temp.kept_value('managed:project/rp1/A', 1),
          'rot-a2,rot-a1', 'the kept versions resolve after the second rotation');

-- The one-argument form finishes a batched rotation in progress.
SELECT is(provsecret.rotate_data_key('company/rco', 1), 1, 'start a third rotation with batch 1');
CREATE TEMP TABLE k3 AS SELECT pg_temp.active_key('company/rco') AS new;
SELECT is(provsecret.rotate_data_key('company/rco'), 6, 'rotate_data_key(target) re-encrypts the other 6');
SELECT is(pg_temp.active_key('company/rco'), (SELECT new FROM k3), 'under the key the batched rotation started (no second start)');
SELECT is(pg_temp.retired_keys('company/rco'), '{}'::bigint[], 'and destroys the retired key');
SELECT ok((SELECT detail FROM provsecret.audit_log WHERE action = 'key.rotated' AND company = 'rco' ORDER BY id DESC LIMIT 1)
          LIKE 'rotation finished%', 'audited as the rotation finished');
SELECT is(provsecret.rotate_data_key('company/rco'), 7, 'the one-argument form on its own still rotates everything');
SELECT is(pg_temp.rco_values() || ',' || provsecret.resolve('managed:project/rp2/E'),
          'rot-a1,rot-a1,rot-b,rot-c,rot-d,rot-e', 'every value resolves');

-- A tenant without secrets: start and finish in one call.
SELECT lives_ok($$SELECT provsecret.register_company('rempty')$$, 'register company rempty');
SELECT is(provsecret.rotate_data_key('company/rempty', 3), 0, 'no secrets: 0 at once');
SELECT is(ARRAY[(SELECT count(*) FROM provsecret.data_key WHERE tenant = 'company/rempty' AND retired_at IS NULL),
                (SELECT count(*) FROM provsecret.data_key WHERE tenant = 'company/rempty' AND retired_at IS NOT NULL)],
          ARRAY[1, 0]::bigint[], 'one active key, no retired key: the rotation finished');
SELECT ok((SELECT detail FROM provsecret.audit_log WHERE action = 'key.rotated' AND company = 'rempty')
          LIKE 'rotation started and finished%', 'audited as started and finished');

-- A project in the middle of its own rotation cannot join a company (the
-- company's rotation would never reach its retired key).
SELECT lives_ok($$SELECT provsecret.seal('managed:project/rsolo/A', 'solo-a')$$, 'seal into standalone project rsolo');
SELECT lives_ok($$SELECT provsecret.seal('managed:project/rsolo/B', 'solo-b')$$, 'seal a second secret into rsolo');
SELECT is(provsecret.rotate_data_key('project/rsolo', 1), 1, 'start a rotation of project/rsolo with batch 1');
SELECT is(pg_temp.sqlstate_of($$SELECT provsecret.register_project('rsolo', 'rco')$$), '55000',
          'joining a company mid-rotation is refused (55000)');
SELECT ok(provsecret.rotate_data_key('project/rsolo', 5) > 0, 'the rotation goes on');
SELECT is(provsecret.rotate_data_key('project/rsolo', 5), 0, 'and finishes');
SELECT lives_ok($$SELECT provsecret.register_project('rsolo', 'rco')$$, 'then the project joins the company');
SELECT is(provsecret.resolve('managed:project/rsolo/A') || ',' || provsecret.resolve('managed:project/rsolo/B'),
          'solo-a,solo-b', 'its secrets resolve');

SELECT * FROM finish();
ROLLBACK;
