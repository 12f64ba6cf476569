-- key_exposure.sql: the root key never shows in SHOW ALL / pg_settings, nor
-- in the environment of any server process, the postmaster included
-- (DESIGN §6: the environment block is scrubbed in place).  The test
-- runner starts the server with the fake root key 0011...eeff
-- (scripts/lib/common.sh) and PS_TEST_ENV_CANARY=env-canary-value.
-- psql settings, extensions, BEGIN, pg_temp.sqlstate_of() and
-- pg_temp.error_of(): test/data/helpers.psql
\getenv abs_srcdir PG_ABS_SRCDIR
\set helpers :abs_srcdir '/data/helpers.psql'
\i :helpers
SELECT plan(7);

CREATE FUNCTION pg_temp.environ(pid integer) RETURNS bytea LANGUAGE sql AS $$
    SELECT pg_read_binary_file('/proc/' || pid || '/environ', 0, 1048576, true) $$;
CREATE TEMP TABLE server_pids AS
    SELECT split_part(pg_read_file('postmaster.pid'), E'\n', 1)::integer AS pid, 'postmaster' AS kind
    UNION ALL
    SELECT pid, backend_type FROM pg_stat_activity;

SELECT is((SELECT count(*) FROM pg_settings
            WHERE concat_ws(' ', setting, reset_val, boot_val) LIKE '%00112233445566778899aabbccddeeff%'),
          0::bigint, 'no setting in pg_settings holds the root key');
SELECT is((SELECT count(*) FROM pg_show_all_settings() s WHERE s.setting LIKE '%00112233445566778899aabbccddeeff%'),
          0::bigint, 'SHOW ALL does not show the root key');
SELECT is((SELECT count(*) FROM pg_settings WHERE name ILIKE '%CLOUDGRID%'), 0::bigint, 'the root key variable is not a setting');

-- Positive control: the environment blocks are readable and intact.
SELECT ok(position(convert_to('PS_TEST_ENV_CANARY=env-canary-value', 'UTF8') IN pg_temp.environ(pid)) > 0,
          'the postmaster environment is readable and keeps other variables')
  FROM server_pids WHERE kind = 'postmaster';
SELECT ok((SELECT count(*) FROM server_pids) >= 3, 'the postmaster and its processes are listed');
SELECT is(ARRAY(SELECT kind FROM server_pids
                 WHERE position(convert_to('00112233445566778899aabbccddeeff', 'UTF8') IN coalesce(pg_temp.environ(pid), '')) > 0
                 ORDER BY 1),
          '{}'::text[], 'no server process has the root key in its environment');
SELECT is(ARRAY(SELECT kind FROM server_pids
                 WHERE position(convert_to('CLOUDGRID_PROVIDER_SECRET_ENCRYPTION_KEY=0', 'UTF8') IN coalesce(pg_temp.environ(pid), '')) > 0
                 ORDER BY 1),
          '{}'::text[], 'no server process has the root key variable with its value');

SELECT * FROM finish();
ROLLBACK;
