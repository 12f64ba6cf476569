-- resolver_env_auth.sql: a resolver's auth_reference (DESIGN §9).  An
-- env:<NAME> token is sent to the resolver's base_url, so creating or
-- altering a resolver with one needs read on env/<NAME> for the caller
-- (42501 otherwise, audited); a managed: token must be a secret of the
-- resolver's own target, also when alter_resolver moves the resolver.
-- psql settings, extensions, BEGIN, pg_temp.sqlstate_of() and
-- pg_temp.error_of(): test/data/helpers.psql
\getenv abs_srcdir PG_ABS_SRCDIR
\set helpers :abs_srcdir '/data/helpers.psql'
\i :helpers
SELECT plan(16);

SET LOCAL provsecret.env_allowlist = 'PS_TEST_ENV_CANARY';
SELECT lives_ok($$SELECT provsecret.register_company('rea_co')$$, 'register company rea_co');
SELECT lives_ok($$SELECT provsecret.register_project('rea_p', 'rea_co')$$, 'register project rea_p');
SELECT lives_ok($$SELECT provsecret.register_project('rea_q', 'rea_co')$$, 'register project rea_q');
CREATE ROLE pst_rea_mgr;
SELECT lives_ok($$SELECT provsecret.grant('db:pst_rea_mgr', 'project/rea_p', ARRAY['manage', 'read'])$$, 'the manager holds manage and read on rea_p');

SET ROLE pst_rea_mgr;
SELECT is(pg_temp.sqlstate_of($$SELECT provsecret.create_resolver('rea_v', 'project/rea_p', 'vault-kv2', 'http://127.0.0.1:8200', '{}', 'env:PS_TEST_ENV_CANARY')$$), '42501',
          'create_resolver with an env: token needs read on env/<NAME>');
SELECT lives_ok($$SELECT provsecret.create_resolver('rea_v', 'project/rea_p', 'vault-kv2', 'http://127.0.0.1:8200')$$, 'without a token it is created');
SELECT is(pg_temp.sqlstate_of($$SELECT provsecret.alter_resolver('rea_v', auth_reference => 'env:PS_TEST_ENV_CANARY')$$), '42501',
          'alter_resolver to an env: token needs read on env/<NAME>');
RESET ROLE;
SELECT ok(EXISTS (SELECT FROM provsecret.audit_log
                   WHERE action = 'access.denied' AND reference = 'env:PS_TEST_ENV_CANARY'
                     AND principal = 'db:pst_rea_mgr'),
          'the refusal is audited as access.denied');
SELECT lives_ok($$SELECT provsecret.alter_resolver('rea_v', auth_reference => 'env:PS_TEST_ENV_CANARY')$$, 'a superuser sets the env: token');
SET ROLE pst_rea_mgr;
SELECT is(pg_temp.sqlstate_of($$SELECT provsecret.alter_resolver('rea_v', base_url => 'http://127.0.0.2:8200')$$), '42501',
          'pointing a resolver that sends an env: token elsewhere needs read on env/<NAME> too');
RESET ROLE;
SELECT is((SELECT base_url FROM provsecret.resolvers WHERE name = 'rea_v'), 'http://127.0.0.1:8200', 'the base_url is unchanged');

SELECT lives_ok($$SELECT provsecret.grant('db:pst_rea_mgr', 'env/PS_TEST_ENV_CANARY', ARRAY['read'])$$, 'grant read on env/PS_TEST_ENV_CANARY');
SET ROLE pst_rea_mgr;
SELECT lives_ok($$SELECT provsecret.create_resolver('rea_w', 'project/rea_p', 'vault-kv2', 'http://127.0.0.1:8200', '{}', 'env:PS_TEST_ENV_CANARY')$$,
                'with the grant, create_resolver takes the env: token');
RESET ROLE;

-- managed: tokens stay with their target, also when the resolver moves.
SELECT lives_ok($$SELECT provsecret.seal('managed:project/rea_p/tok', 'canary-rea-token')$$, 'seal a token of rea_p');
SELECT lives_ok($$SELECT provsecret.create_resolver('rea_m', 'project/rea_p', 'vault-kv2', 'http://127.0.0.1:8200', '{}', 'managed:project/rea_p/tok')$$,
                'a resolver with a managed: token of its own target');
SELECT is(pg_temp.sqlstate_of($$SELECT provsecret.alter_resolver('rea_m', target => 'project/rea_q')$$), '22023',
          'moving it to another target with the same managed: token is 22023');

SELECT * FROM finish();
ROLLBACK;
