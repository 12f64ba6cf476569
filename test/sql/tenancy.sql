-- tenancy.sql: the company/project registry (DESIGN §3, §4).  A project
-- belongs to at most one company; company grants cover its projects,
-- including a project attached after its secrets were sealed.
-- psql settings, extensions, BEGIN, pg_temp.sqlstate_of() and
-- pg_temp.error_of(): test/data/helpers.psql
\getenv abs_srcdir PG_ABS_SRCDIR
\set helpers :abs_srcdir '/data/helpers.psql'
\i :helpers
SELECT plan(16);

SELECT lives_ok($$SELECT provsecret.register_company('tenco')$$, 'register company tenco');
SELECT lives_ok($$SELECT provsecret.register_company('tenco')$$, 'registering it again is harmless');
SELECT lives_ok($$SELECT provsecret.register_company('tenother')$$, 'register company tenother');
SELECT lives_ok($$SELECT provsecret.register_project('tenp', 'tenco')$$, 'register project tenp in tenco');
SELECT lives_ok($$SELECT provsecret.register_project('tenp', 'tenco')$$, 'registering it again in the same company is harmless');
SELECT throws_ok($$SELECT provsecret.register_project('tenp', 'tenother')$$, '22023', NULL, 'a project belongs to at most one company');
SELECT throws_ok($$SELECT provsecret.register_company(NULL)$$, '22023', NULL, 'register_company(NULL) is 22023');
SELECT throws_ok($$SELECT provsecret.register_project(NULL)$$, '22023', NULL, 'register_project(NULL) is 22023');
SELECT throws_ok($$SELECT provsecret.register_project('tenq', 'bad company')$$, '22023', NULL, 'a malformed company name is 22023');

-- A project without a company, attached later: its secrets stay readable
-- and the company's grants now cover it.
SELECT lives_ok($$SELECT provsecret.register_project('tenlate')$$, 'register project tenlate without a company');
SELECT lives_ok($$SELECT provsecret.seal('managed:project/tenlate/K', 'canary-ten-late')$$, 'seal in tenlate');
CREATE ROLE pst_t_carol;
SELECT lives_ok($$SELECT provsecret.grant('db:pst_t_carol', 'company/tenco', ARRAY['read'])$$, 'grant read on tenco to carol');
SET ROLE pst_t_carol;
SELECT throws_ok($$SELECT provsecret.resolve('managed:project/tenlate/K')$$, '42501', NULL, 'carol cannot read tenlate before it joins tenco');
RESET ROLE;
SELECT lives_ok($$SELECT provsecret.register_project('tenlate', 'tenco')$$, 'attach tenlate to tenco');
SET ROLE pst_t_carol;
SELECT is(provsecret.resolve('managed:project/tenlate/K'), 'canary-ten-late', 'carol reads tenlate through the company grant');
RESET ROLE;
SELECT is((SELECT company FROM provsecret.secrets WHERE reference = 'managed:project/tenlate/K'), 'tenco', 'the secret now shows its company');

SELECT * FROM finish();
ROLLBACK;
