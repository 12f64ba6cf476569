-- tenancy_attach.sql: attaching a project that already exists (DESIGN §3).
-- Creating a project in a company needs manage on the company; attaching
-- one that exists (every workspace a REST PUT or seal() created is one)
-- needs manage on the project too, or provsecret_admin.  Nobody moves
-- another tenant's project into their company, and every refusal leaves an
-- access.denied event.
-- psql settings, extensions, BEGIN, pg_temp.sqlstate_of() and
-- pg_temp.error_of(): test/data/helpers.psql
\getenv abs_srcdir PG_ABS_SRCDIR
\set helpers :abs_srcdir '/data/helpers.psql'
\i :helpers
SELECT plan(17);

-- A victim's workspace, made by seal() as every PUT makes one: no company.
CREATE ROLE pst_ta_victim;
CREATE ROLE pst_ta_mallory;
SELECT lives_ok($$SELECT provsecret.seal('managed:project/ta_victim/K', 'canary-ta-victim')$$, 'seal makes the victim''s workspace');
SELECT lives_ok($$SELECT provsecret.grant('db:pst_ta_victim', 'project/ta_victim', ARRAY['manage', 'read'])$$, 'the victim manages it');
SELECT lives_ok($$SELECT provsecret.register_company('ta_evil')$$, 'register company ta_evil');
SELECT lives_ok($$SELECT provsecret.grant('db:pst_ta_mallory', 'company/ta_evil', ARRAY['manage', 'read'])$$, 'mallory manages his own company');

SET ROLE pst_ta_mallory;
SELECT throws_ok($$SELECT provsecret.register_project('ta_victim', 'ta_evil')$$, '42501', NULL,
                 'manage on a company does not attach an existing project');
SELECT is(pg_temp.sqlstate_of('SELECT provsecret.resolve($1)', 'managed:project/ta_victim/K'), '42501',
          'so the victim''s secret stays out of reach');
SELECT lives_ok($$SELECT provsecret.register_project('ta_fresh', 'ta_evil')$$, 'manage on a company still creates a new project in it');
SELECT lives_ok($$SELECT provsecret.register_project('ta_fresh', 'ta_evil')$$, 'and registering it there again is harmless');
RESET ROLE;
SELECT is((SELECT company FROM provsecret.project WHERE project = 'ta_victim'), '~ta_victim', 'the victim''s project has no company still (its own, ~ta_victim)');
SELECT ok(EXISTS (SELECT FROM provsecret.audit_log
                   WHERE action = 'access.denied' AND project = 'ta_victim'
                     AND principal = 'db:pst_ta_mallory' AND outcome = 'denied'),
          'the refused attach is audited as access.denied');

-- A project of another company: refused as a denial, its company unnamed.
SELECT lives_ok($$SELECT provsecret.register_project('ta_op', 'ta_theirs')$$, 'a project of company ta_theirs');
SET ROLE pst_ta_mallory;
SELECT ok(pg_temp.error_of('SELECT provsecret.register_project($1, $2)', 'ta_op', 'ta_evil') ~ '^42501'
          AND pg_temp.error_of('SELECT provsecret.register_project($1, $2)', 'ta_op', 'ta_evil') NOT LIKE '%ta_theirs%',
          'moving another company''s project is 42501 and does not name that company');
RESET ROLE;
SELECT throws_ok($$SELECT provsecret.register_project('ta_op', 'ta_evil')$$, '22023', NULL,
                 'even a superuser cannot move a project between companies');

-- Manage on both sides attaches: the project's manager consents.
SELECT lives_ok($$SELECT provsecret.grant('db:pst_ta_mallory', 'project/ta_victim', ARRAY['manage'])$$, 'mallory is made a manager of the project');
SET ROLE pst_ta_mallory;
SELECT lives_ok($$SELECT provsecret.register_project('ta_victim', 'ta_evil')$$, 'manage on the project and the company attaches it');
RESET ROLE;
SELECT is((SELECT company FROM provsecret.project WHERE project = 'ta_victim'), 'ta_evil', 'the project is now in ta_evil');

-- provsecret_admin attaches existing projects.
CREATE ROLE pst_ta_admin IN ROLE provsecret_admin;
SELECT provsecret.seal('managed:project/ta_adm/K', 'canary-ta-adm');
SET ROLE pst_ta_admin;
SELECT lives_ok($$SELECT provsecret.register_project('ta_adm', 'ta_evil')$$, 'provsecret_admin attaches an existing project');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
