-- resolver_existence.sql: resolve('external:<name>/…') says nothing about
-- a resolver to a caller who may not read through it (DESIGN §9): the same
-- SQLSTATE and message whether it exists or not, and whoever owns it; only
-- a caller who could see it anyway (provsecret_admin, a superuser) learns
-- that it is missing.  No backend is called: the refusal comes first.
-- psql settings, extensions, BEGIN, pg_temp.sqlstate_of() and
-- pg_temp.error_of(): test/data/helpers.psql
\getenv abs_srcdir PG_ABS_SRCDIR
\set helpers :abs_srcdir '/data/helpers.psql'
\i :helpers
SELECT plan(9);

SELECT lives_ok($$SELECT provsecret.register_company('rx_co')$$, 'register company rx_co');
SELECT lives_ok($$SELECT provsecret.register_project('rx_p', 'rx_co')$$, 'register project rx_p');
SELECT lives_ok($$SELECT provsecret.create_resolver('rx_res', 'project/rx_p', 'http-json', 'http://127.0.0.1:8200')$$, 'a resolver of rx_p');
CREATE ROLE pst_rx_user;
CREATE ROLE pst_rx_admin IN ROLE provsecret_admin;

SET ROLE pst_rx_user;
SELECT is(pg_temp.sqlstate_of('SELECT provsecret.resolve($1)', 'external:rx_res/app/key'), '42501', 'an existing resolver: 42501');
SELECT is(pg_temp.sqlstate_of('SELECT provsecret.resolve($1)', 'external:rx_nosuch/app/key'), '42501', 'a missing resolver: 42501 too');
SELECT is(replace(pg_temp.error_of('SELECT provsecret.resolve($1)', 'external:rx_res/app/key'), 'rx_res', 'R'),
          replace(pg_temp.error_of('SELECT provsecret.resolve($1)', 'external:rx_nosuch/app/key'), 'rx_nosuch', 'R'),
          'with the same message');
SELECT ok(pg_temp.error_of('SELECT provsecret.resolve($1)', 'external:rx_res/app/key') NOT LIKE '%rx_p%',
          'which does not name the resolver''s target');
RESET ROLE;
SELECT is((SELECT count(*) FROM provsecret.audit_log
            WHERE action = 'access.denied' AND principal = 'db:pst_rx_user'
              AND reference IN ('external:rx_res/app/key', 'external:rx_nosuch/app/key')
            GROUP BY principal), 5::bigint, 'every refusal is audited as access.denied');
SET ROLE pst_rx_admin;
SELECT is(pg_temp.sqlstate_of('SELECT provsecret.resolve($1)', 'external:rx_nosuch/app/key'), 'P0002', 'provsecret_admin learns that it is missing');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
