-- env_grants.sql: resolving env:<NAME> needs read on env/<NAME> (DESIGN §3).
-- Being on provsecret.env_allowlist is not permission; only
-- provsecret_admin or a superuser grants on env/ targets; only read is
-- valid there; no company or project grant covers one; reveals and
-- denials are audited.  The runner starts the server with
-- PS_TEST_ENV_CANARY=env-canary-value and PS_TEST_ENV_UNLISTED set.
-- psql settings, extensions, BEGIN, pg_temp.sqlstate_of() and
-- pg_temp.error_of(): test/data/helpers.psql
\getenv abs_srcdir PG_ABS_SRCDIR
\set helpers :abs_srcdir '/data/helpers.psql'
\i :helpers
SELECT plan(26);

CREATE FUNCTION pg_temp.digest_of_env(name text) RETURNS text
LANGUAGE sql AS $$
    SELECT encode(sha256(convert_to(provsecret.resolve('env:' || name), 'UTF8')), 'hex')
$$;
SET LOCAL provsecret.env_allowlist = 'PS_TEST_ENV_CANARY';
CREATE ROLE pst_eg_reader;
CREATE ROLE pst_eg_manager;

-- Listed, but no grant.
SET ROLE pst_eg_reader;
SELECT is(pg_temp.sqlstate_of('SELECT provsecret.resolve($1)', 'env:PS_TEST_ENV_CANARY'), '42501',
          'a listed variable is 42501 to a role without a grant');
SELECT ok(pg_temp.error_of('SELECT provsecret.resolve($1)', 'env:PS_TEST_ENV_CANARY') LIKE '%env/PS_TEST_ENV_CANARY%requires the read permission%',
          'the error names the target and the permission');
SELECT ok(pg_temp.error_of('SELECT provsecret.resolve($1)', 'env:PS_TEST_ENV_CANARY') NOT LIKE '%env-canary-value%',
          'the error does not contain the value');
SELECT is(pg_temp.error_of('SELECT provsecret.resolve($1)', 'env:PS_TEST_ENV_UNLISTED'),
          replace(pg_temp.error_of('SELECT provsecret.resolve($1)', 'env:PS_TEST_ENV_CANARY'), 'CANARY', 'UNLISTED'),
          'without a grant, listed and unlisted names give the same error');
RESET ROLE;
SELECT ok(EXISTS (SELECT FROM provsecret.audit_log
                   WHERE action = 'access.denied' AND reference = 'env:PS_TEST_ENV_CANARY'
                     AND principal = 'db:pst_eg_reader'),
          'the denial is audited as access.denied naming the reference');

-- The grant.
SELECT lives_ok($$SELECT provsecret.grant('db:pst_eg_reader', 'env/PS_TEST_ENV_CANARY', ARRAY['read'])$$, 'a superuser grants read on env/PS_TEST_ENV_CANARY');
SELECT is((SELECT scope || ' ' || permission FROM provsecret.grants
            WHERE principal = 'db:pst_eg_reader' AND target = 'env/PS_TEST_ENV_CANARY'),
          'env read', 'the grants view shows it');
SELECT ok(EXISTS (SELECT FROM provsecret.audit_log
                   WHERE action = 'grant.changed' AND reference = 'env:PS_TEST_ENV_CANARY'),
          'the grant is audited');
SET ROLE pst_eg_reader;
SELECT is(pg_temp.digest_of_env('PS_TEST_ENV_CANARY'), encode(sha256(convert_to('env-canary-value', 'UTF8')), 'hex'),
          'with the grant, the listed variable resolves');
SELECT is((SELECT count(*) FROM provsecret.grants), 0::bigint, 'the grantee does not see env grants');
RESET ROLE;
SELECT ok(EXISTS (SELECT FROM provsecret.audit_log
                   WHERE action = 'secret.revealed' AND reference = 'env:PS_TEST_ENV_CANARY'
                     AND principal = 'db:pst_eg_reader' AND outcome = 'ok'),
          'the reveal is audited as secret.revealed');
SELECT lives_ok($$SELECT provsecret.grant('db:pst_eg_reader', 'env/PS_TEST_ENV_UNLISTED', ARRAY['read'])$$, 'grant read on an unlisted name');
SET ROLE pst_eg_reader;
SELECT is(pg_temp.sqlstate_of('SELECT provsecret.resolve($1)', 'env:PS_TEST_ENV_UNLISTED'), '42501',
          'a grant does not replace the allowlist');
RESET ROLE;

-- What may be granted on an env target, and its grammar.
SELECT throws_ok($$SELECT provsecret.grant('db:pst_eg_reader', 'env/PS_TEST_ENV_CANARY', ARRAY['write'])$$, '22023',
                 'invalid permission on an env target: only read can be granted on env/<NAME>', 'write on env/ is 22023 naming the rule');
SELECT throws_ok($$SELECT provsecret.grant('db:pst_eg_reader', 'env/PS_TEST_ENV_CANARY', ARRAY['manage'])$$, '22023', NULL, 'manage on env/ is 22023');
SELECT throws_ok($$SELECT provsecret.grant('db:pst_eg_reader', 'env/PS_TEST_ENV_CANARY', ARRAY['describe'])$$, '22023', NULL, 'describe on env/ is 22023');
SELECT throws_ok($$SELECT provsecret.grant('db:pst_eg_reader', 'env/lower_case', ARRAY['read'])$$, '22023', NULL, 'env/<NAME> follows the env: grammar (lower case)');
SELECT throws_ok($$SELECT provsecret.grant('db:pst_eg_reader', 'env/', ARRAY['read'])$$, '22023', NULL, 'an empty env/ name is 22023');
SELECT throws_ok($$SELECT provsecret.grant('db:pst_eg_reader', 'env/1ABC', ARRAY['read'])$$, '22023', NULL, 'an env/ name starting with a digit is 22023');

-- Only provsecret_admin or a superuser grants there; tenant grants do not cover it.
SELECT lives_ok($$SELECT provsecret.register_company('eg_co')$$, 'register company eg_co');
SELECT lives_ok($$SELECT provsecret.grant('db:pst_eg_manager', 'company/eg_co', ARRAY['manage', 'read'])$$, 'the manager holds manage and read on eg_co');
SET ROLE pst_eg_manager;
SELECT is(pg_temp.sqlstate_of($$SELECT provsecret.grant('db:pst_eg_manager', 'env/PS_TEST_ENV_CANARY', ARRAY['read'])$$), '42501',
          'a tenant manager cannot grant himself env access');
SELECT is(pg_temp.sqlstate_of('SELECT provsecret.resolve($1)', 'env:PS_TEST_ENV_CANARY'), '42501',
          'company grants do not cover env targets');
RESET ROLE;
CREATE ROLE pst_eg_admin IN ROLE provsecret_admin;
SET ROLE pst_eg_admin;
SELECT lives_ok($$SELECT provsecret.grant('db:pst_eg_manager', 'env/PS_TEST_ENV_CANARY', ARRAY['read'])$$, 'provsecret_admin grants on env targets');
RESET ROLE;

-- Revoke.
SELECT lives_ok($$SELECT provsecret.revoke('db:pst_eg_reader', 'env/PS_TEST_ENV_CANARY', NULL)$$, 'revoke every permission on env/PS_TEST_ENV_CANARY');
SET ROLE pst_eg_reader;
SELECT is(pg_temp.sqlstate_of('SELECT provsecret.resolve($1)', 'env:PS_TEST_ENV_CANARY'), '42501', 'after the revoke, 42501 again');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
