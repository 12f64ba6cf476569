-- env_refs.sql: env:<NAME> references (DESIGN §3).  Only names listed in
-- provsecret.env_allowlist (superuser-only, default empty) resolve; others
-- are 42501; the root-key variables never resolve, listed or not.  This
-- file runs as a superuser, who holds read on every env/<NAME>; the grant
-- other roles need is test/sql/env_grants.sql.  The test
-- runner starts the server with PS_TEST_ENV_CANARY=env-canary-value and
-- PS_TEST_ENV_UNLISTED=env-unlisted-canary in its environment.
-- psql settings, extensions, BEGIN, pg_temp.sqlstate_of() and
-- pg_temp.error_of(): test/data/helpers.psql
\getenv abs_srcdir PG_ABS_SRCDIR
\set helpers :abs_srcdir '/data/helpers.psql'
\i :helpers
SELECT plan(15);

SELECT is(current_setting('provsecret.env_allowlist'), '', 'the allowlist is empty by default');
SELECT throws_ok($$SELECT provsecret.resolve('env:PS_TEST_ENV_CANARY')$$, '42501', NULL, 'an unlisted variable is 42501');

SET LOCAL provsecret.env_allowlist = 'PS_TEST_ENV_CANARY,PS_TEST_ENV_ABSENT';
SELECT is(provsecret.resolve('env:PS_TEST_ENV_CANARY'), 'env-canary-value', 'a listed variable resolves');
SELECT throws_ok($$SELECT provsecret.resolve('env:PS_TEST_ENV_UNLISTED')$$, '42501', NULL, 'a variable missing from the list is still 42501');
SELECT ok(pg_temp.error_of('SELECT provsecret.resolve($1)', 'env:PS_TEST_ENV_UNLISTED') NOT LIKE '%env-unlisted-canary%', 'the 42501 text does not contain the variable''s value');
SELECT throws_ok($$SELECT provsecret.resolve('env:PS_TEST_ENV_ABSENT')$$, 'P0002', NULL, 'a listed variable that is not set is P0002');
SET LOCAL provsecret.env_allowlist = 'PS_TEST_ENV';
SELECT throws_ok($$SELECT provsecret.resolve('env:PS_TEST_ENV_CANARY')$$, '42501', NULL, 'list entries match whole names, not prefixes');

-- The root-key variables never resolve, even when listed.
SET LOCAL provsecret.env_allowlist = 'CLOUDGRID_PROVIDER_SECRET_ENCRYPTION_KEY,CLOUDGRID_PROVIDER_SECRET_ENCRYPTION_KEY_PREVIOUS,PS_TEST_ENV_CANARY';
SELECT ok(pg_temp.sqlstate_of('SELECT provsecret.resolve($1)', 'env:CLOUDGRID_PROVIDER_SECRET_ENCRYPTION_KEY') IN ('42501', 'P0002'), 'the root key variable never resolves, even listed');
SELECT ok(pg_temp.sqlstate_of('SELECT provsecret.resolve($1)', 'env:CLOUDGRID_PROVIDER_SECRET_ENCRYPTION_KEY_PREVIOUS') IN ('42501', 'P0002'), 'the previous root key variable never resolves, even listed');
-- The runner's test key is 0011..eeff (scripts/lib/common.sh).
SELECT ok(pg_temp.error_of('SELECT provsecret.resolve($1)', 'env:CLOUDGRID_PROVIDER_SECRET_ENCRYPTION_KEY') NOT LIKE '%00112233445566778899aabbccddeeff%', 'the error does not contain the root key');
SELECT is(provsecret.resolve('env:PS_TEST_ENV_CANARY'), 'env-canary-value', 'other listed names still resolve');

-- Only a superuser sets the allowlist.
CREATE ROLE pst_e_user;
SET ROLE pst_e_user;
SELECT throws_ok($$SET provsecret.env_allowlist = 'PS_TEST_ENV_UNLISTED'$$, '42501', NULL, 'an ordinary role cannot change env_allowlist');
RESET ROLE;

-- env: resolution is audited; env: is not a managed secret.
SELECT ok((SELECT count(*) FROM provsecret.audit_log
            WHERE reference = 'env:PS_TEST_ENV_CANARY' AND action = 'secret.revealed' AND outcome = 'ok') >= 2,
          'env: reveals are audited as secret.revealed');
SELECT is(pg_temp.sqlstate_of('SELECT provsecret.delete_secret($1)', 'env:PS_TEST_ENV_CANARY'), '22023', 'delete_secret of an env: reference is 22023');
SELECT is((SELECT count(*) FROM provsecret.audit_log a WHERE a::text LIKE '%env-canary-value%'), 0::bigint, 'no audit event contains the variable''s value');

SELECT * FROM finish();
ROLLBACK;
