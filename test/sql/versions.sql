-- versions.sql: earlier versions are kept per provsecret.keep_versions
-- (DESIGN §5, default 3); rotation keeps the reference and bumps
-- value_version; versions() and rollback() (DESIGN §4); delete_secret
-- destroys every stored version.  The version table is also read directly
-- as the superuser.
-- psql settings, extensions, BEGIN, pg_temp.sqlstate_of() and
-- pg_temp.error_of(): test/data/helpers.psql
\getenv abs_srcdir PG_ABS_SRCDIR
\set helpers :abs_srcdir '/data/helpers.psql'
\i :helpers
SELECT plan(35);

CREATE FUNCTION pg_temp.kept(ref text) RETURNS integer[] LANGUAGE sql AS $$
    SELECT coalesce(array_agg(v.value_version ORDER BY v.value_version), '{}')
      FROM provsecret.ai_provider_secret_version v
      JOIN provsecret.ai_provider_secret s ON s.id = v.secret_id
     WHERE s.reference = ref $$;

SELECT lives_ok($$SELECT provsecret.register_company('verco')$$, 'register company verco');
SELECT lives_ok($$SELECT provsecret.register_project('verp', 'verco')$$, 'register project verp');
SELECT is(current_setting('provsecret.keep_versions'), '3', 'keep_versions defaults to 3');

SELECT lives_ok($$SELECT provsecret.seal('managed:project/verp/K', 'canary-ver-' || v)
                    FROM generate_series(1, 5) v$$, 'seal K five times');
SELECT is((SELECT value_version FROM provsecret.secrets WHERE reference = 'managed:project/verp/K'), 5, 'value_version is 5');
SELECT is(provsecret.resolve('managed:project/verp/K'), 'canary-ver-5', 'K resolves to the newest value');
SELECT is(pg_temp.kept('managed:project/verp/K'), ARRAY[2, 3, 4], 'the three previous versions are kept, version 1 is pruned');
SELECT is((SELECT count(DISTINCT v.ciphertext) FROM provsecret.ai_provider_secret_version v
             JOIN provsecret.ai_provider_secret s ON s.id = v.secret_id
            WHERE s.reference = 'managed:project/verp/K'), 3::bigint, 'each kept version has its own ciphertext');
SELECT is((SELECT count(*) FROM provsecret.ai_provider_secret_version v
             JOIN provsecret.ai_provider_secret s ON s.id = v.secret_id
            WHERE s.reference = 'managed:project/verp/K'
              AND v.project IS NOT DISTINCT FROM s.project AND v.company IS NOT DISTINCT FROM s.company),
          3::bigint, 'kept versions carry the tenant of their secret (for row-level security)');
SELECT is((SELECT count(*) FROM provsecret.ai_provider_secret_version v
            WHERE position(convert_to('canary-ver-', 'UTF8') IN v.ciphertext) > 0),
          0::bigint, 'no kept ciphertext contains the plaintext');

-- Another secret's versions are not touched by K's pruning.
SELECT lives_ok($$SELECT provsecret.seal('managed:project/verp/L', 'canary-verl-' || v)
                    FROM generate_series(1, 2) v$$, 'seal L twice');
SELECT is(pg_temp.kept('managed:project/verp/L'), ARRAY[1], 'L keeps its version 1');
SELECT is(pg_temp.kept('managed:project/verp/K'), ARRAY[2, 3, 4], 'K is unchanged');

-- versions() lists the current and kept versions, newest first; rollback()
-- re-seals a kept one as the newest.
SELECT is(ARRAY(SELECT value_version FROM provsecret.versions('managed:project/verp/K')), ARRAY[5, 4, 3, 2], 'versions() lists 5, 4, 3, 2');
SELECT is((SELECT count(*) FROM provsecret.versions('managed:project/verp/K') WHERE created_by = 'db:' || current_user AND created_at IS NOT NULL),
          4::bigint, 'versions() names who created each version and when');
SELECT is(provsecret.rollback('managed:project/verp/K', 3), 6, 'rollback to version 3 returns the new value_version 6');
SELECT is(provsecret.resolve('managed:project/verp/K'), 'canary-ver-3', 'K now resolves to the value of version 3');
SELECT is(ARRAY(SELECT value_version FROM provsecret.versions('managed:project/verp/K')), ARRAY[6, 5, 4, 3], 'versions() lists 6, 5, 4, 3');
SELECT throws_ok($$SELECT provsecret.rollback('managed:project/verp/K', 1)$$, 'P0002', NULL, 'rollback to a pruned version is P0002');
SELECT throws_ok($$SELECT * FROM provsecret.versions('env:PS_TEST_ENV_CANARY')$$, '22023', NULL, 'versions() of an env: reference is 22023');
SELECT lives_ok($$SELECT provsecret.seal('managed:project/verp/BIG', repeat('v', 10000))$$, 'seal a 10,000-character value');
SELECT lives_ok($$SELECT provsecret.seal('managed:project/verp/BIG', 'canary-small')$$, 'rotate it to a short one');
SELECT is(provsecret.rollback('managed:project/verp/BIG', 1), 3, 'roll back to the 10,000-character version');
SELECT is(provsecret.resolve('managed:project/verp/BIG'), repeat('v', 10000), 'the rolled-back 10,000-character value round-trips');
CREATE ROLE pst_v_nobody;
SET ROLE pst_v_nobody;
SELECT throws_ok($$SELECT * FROM provsecret.versions('managed:project/verp/K')$$, '42501', NULL, 'versions() without describe is 42501');
SELECT throws_ok($$SELECT provsecret.rollback('managed:project/verp/K', 4)$$, '42501', NULL, 'rollback() without a grant is 42501');
RESET ROLE;

-- A smaller keep_versions prunes on the next rotation.
SET LOCAL provsecret.keep_versions = 1;
SELECT lives_ok($$SELECT provsecret.seal('managed:project/verp/K', 'canary-ver-7')$$, 'rotate K with keep_versions = 1');
SELECT is(pg_temp.kept('managed:project/verp/K'), ARRAY[6], 'only version 6 is kept');
SET LOCAL provsecret.keep_versions = 0;
SELECT lives_ok($$SELECT provsecret.seal('managed:project/verp/K', 'canary-ver-8')$$, 'rotate K with keep_versions = 0');
SELECT is(pg_temp.kept('managed:project/verp/K'), '{}'::integer[], 'no version is kept');
SELECT is(provsecret.resolve('managed:project/verp/K'), 'canary-ver-8', 'K still resolves to version 8');
RESET provsecret.keep_versions;

-- keep_versions is superuser-only.
CREATE ROLE pst_v_user;
SET ROLE pst_v_user;
SELECT throws_ok($$SET provsecret.keep_versions = 100$$, '42501', NULL, 'an ordinary role cannot change keep_versions');
RESET ROLE;

-- delete_secret destroys every stored version.
SELECT lives_ok($$SELECT provsecret.seal('managed:project/verp/K', 'canary-ver-9')$$, 'rotate K once more');
SELECT is(provsecret.delete_secret('managed:project/verp/K'), true, 'delete K');
SELECT is((SELECT count(*) FROM provsecret.ai_provider_secret_version v
             LEFT JOIN provsecret.ai_provider_secret s ON s.id = v.secret_id
            WHERE s.id IS NULL OR s.reference = 'managed:project/verp/K'), 0::bigint, 'no version of K remains');

SELECT * FROM finish();
ROLLBACK;
