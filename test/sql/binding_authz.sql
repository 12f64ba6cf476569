-- binding_authz.sql: who may bind a workspace to a resolver (DESIGN §9).
-- bind_workspace(project, resolver) needs manage on the project and, when
-- the resolver belongs to another target (its company), manage there too:
-- the project's reads and writes would go to that backend with that
-- target's token.  A caller who may not use the resolver gets the same
-- 42501 whether it exists or not; the refusal is audited.
-- psql settings, extensions, BEGIN, pg_temp.sqlstate_of() and
-- pg_temp.error_of(): test/data/helpers.psql
\getenv abs_srcdir PG_ABS_SRCDIR
\set helpers :abs_srcdir '/data/helpers.psql'
\i :helpers
SELECT plan(14);

SELECT lives_ok($$SELECT provsecret.register_company('ba_co')$$, 'register company ba_co');
SELECT lives_ok($$SELECT provsecret.register_project('ba_p', 'ba_co')$$, 'register project ba_p in ba_co');
SELECT lives_ok($$SELECT provsecret.create_resolver('ba_cores', 'company/ba_co', 'vault-kv2', 'http://127.0.0.1:8200')$$, 'a resolver of the company');
SELECT lives_ok($$SELECT provsecret.create_resolver('ba_pres', 'project/ba_p', 'vault-kv2', 'http://127.0.0.1:8200')$$, 'a resolver of the project');
CREATE ROLE pst_ba_pm;
CREATE ROLE pst_ba_cm;
SELECT lives_ok($$SELECT provsecret.grant('db:pst_ba_pm', 'project/ba_p', ARRAY['manage'])$$, 'pm manages project ba_p only');
SELECT lives_ok($$SELECT provsecret.grant('db:pst_ba_cm', 'company/ba_co', ARRAY['manage'])$$, 'cm manages company ba_co');

SET ROLE pst_ba_pm;
SELECT is(pg_temp.sqlstate_of('SELECT provsecret.bind_workspace($1, $2)', 'ba_p', 'ba_cores'), '42501',
          'manage on the project does not bind it to the company''s resolver');
SELECT is(replace(pg_temp.error_of('SELECT provsecret.bind_workspace($1, $2)', 'ba_p', 'ba_cores'), 'ba_cores', 'R'),
          replace(pg_temp.error_of('SELECT provsecret.bind_workspace($1, $2)', 'ba_p', 'ba_nosuch'), 'ba_nosuch', 'R'),
          'the refusal reads the same as for a resolver that does not exist');
SELECT ok(pg_temp.error_of('SELECT provsecret.bind_workspace($1, $2)', 'ba_p', 'ba_cores') NOT LIKE '%company/ba_co%',
          'and does not name the resolver''s target');
SELECT lives_ok($$SELECT provsecret.bind_workspace('ba_p', 'ba_pres')$$, 'the project''s own resolver binds');
RESET ROLE;
SELECT ok(EXISTS (SELECT FROM provsecret.audit_log
                   WHERE action = 'access.denied' AND company = 'ba_co' AND principal = 'db:pst_ba_pm'),
          'the refusal is audited as access.denied');
SELECT is(pg_temp.sqlstate_of('SELECT provsecret.bind_workspace($1, $2)', 'ba_p', 'ba_nosuch'), 'P0002',
          'a superuser learns that a resolver does not exist');

SET ROLE pst_ba_cm;
SELECT lives_ok($$SELECT provsecret.bind_workspace('ba_p', 'ba_cores')$$, 'manage on the company (so on both) binds to its resolver');
RESET ROLE;
SELECT is((SELECT resolver FROM provsecret.workspace_binding WHERE project = 'ba_p'), 'ba_cores', 'the workspace is bound to ba_cores');

SELECT * FROM finish();
ROLLBACK;
