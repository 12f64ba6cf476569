-- grants_rls.sql: provsecret grants are the one authority (DESIGN §4, §5).
-- Roles with and without grants, through the functions, the views and direct
-- table access; company grants cover the company's projects; the auditor
-- sees metadata and never a value; tables grant nothing to PUBLIC and have
-- row-level security enabled and forced.
-- psql settings, extensions, BEGIN, pg_temp.sqlstate_of() and
-- pg_temp.error_of(): test/data/helpers.psql
\getenv abs_srcdir PG_ABS_SRCDIR
\set helpers :abs_srcdir '/data/helpers.psql'
\i :helpers
SELECT plan(70);

-- Tenants and secrets, created by the superuser.
SELECT lives_ok($$SELECT provsecret.register_company('gco')$$, 'register company gco');
SELECT lives_ok($$SELECT provsecret.register_project('gp1', 'gco')$$, 'register project gp1 in gco');
SELECT lives_ok($$SELECT provsecret.register_project('gp2', 'gco')$$, 'register project gp2 in gco');
SELECT lives_ok($$SELECT provsecret.register_project('gsolo')$$, 'register project gsolo');
SELECT lives_ok($$SELECT provsecret.seal('managed:project/gp1/K1', 'canary-g-k1', 'k1 text')$$, 'seal gp1/K1');
SELECT lives_ok($$SELECT provsecret.seal('managed:project/gp2/K2', 'canary-g-k2')$$, 'seal gp2/K2');
SELECT lives_ok($$SELECT provsecret.seal('managed:project/gsolo/K3', 'canary-g-k3')$$, 'seal gsolo/K3');
SELECT lives_ok($$SELECT provsecret.seal('managed:company/gco/openai', 'canary-g-co')$$, 'seal company gco/openai');

CREATE ROLE pst_g_alice;    -- read on project/gp1
CREATE ROLE pst_g_bob;      -- nothing
CREATE ROLE pst_g_carol;    -- read on company/gco
CREATE ROLE pst_g_dave;     -- describe on project/gp1
CREATE ROLE pst_g_ewan;     -- write on project/gp1
CREATE ROLE pst_g_fay;      -- delete on project/gp1
CREATE ROLE pst_g_mgr;      -- manage on project/gp1
CREATE ROLE pst_g_aud IN ROLE provsecret_auditor;
CREATE ROLE pst_g_adm IN ROLE provsecret_admin;
SELECT lives_ok($$SELECT provsecret.grant('db:pst_g_alice', 'project/gp1', ARRAY['read'])$$, 'grant read on gp1 to alice');
SELECT lives_ok($$SELECT provsecret.grant('db:pst_g_carol', 'company/gco', ARRAY['read'])$$, 'grant read on company gco to carol');
SELECT lives_ok($$SELECT provsecret.grant('db:pst_g_dave', 'project/gp1', ARRAY['describe'])$$, 'grant describe on gp1 to dave');
SELECT lives_ok($$SELECT provsecret.grant('db:pst_g_ewan', 'project/gp1', ARRAY['write'])$$, 'grant write on gp1 to ewan');
SELECT lives_ok($$SELECT provsecret.grant('db:pst_g_fay', 'project/gp1', ARRAY['delete'])$$, 'grant delete on gp1 to fay');
SELECT lives_ok($$SELECT provsecret.grant('db:pst_g_mgr', 'project/gp1', ARRAY['manage'])$$, 'grant manage on gp1 to mgr');

-- Storage is closed to everyone but the extension.
SELECT is((SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace,
                 aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) a
            WHERE n.nspname = 'provsecret' AND c.relkind IN ('r', 'p') AND a.grantee = 0),
          0::bigint, 'no provsecret table grants anything to PUBLIC');
SELECT is((SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = 'provsecret'
              AND c.relname IN ('ai_provider_secret', 'ai_provider_secret_version', 'data_key', 'access_grant', 'audit_event')
              AND c.relrowsecurity AND c.relforcerowsecurity),
          5::bigint, 'RLS is enabled and forced on the secret, version, data key, grant and audit tables');

-- alice: read on project gp1 only.
SET ROLE pst_g_alice;
SELECT is(provsecret.resolve('managed:project/gp1/K1'), 'canary-g-k1', 'alice resolves in gp1');
SELECT throws_ok($$SELECT provsecret.resolve('managed:project/gp2/K2')$$, '42501', NULL, 'alice cannot resolve in gp2 (same company)');
SELECT throws_ok($$SELECT provsecret.resolve('managed:project/gsolo/K3')$$, '42501', NULL, 'alice cannot resolve in gsolo');
SELECT throws_ok($$SELECT provsecret.resolve('managed:company/gco/openai')$$, '42501', NULL, 'a project grant does not cover the company''s own secrets');
SELECT throws_ok($$SELECT provsecret.resolve('managed:project/gp2/MISSING')$$, '42501', NULL, 'alice gets 42501, not P0002, for a missing secret elsewhere');
SELECT is(array_agg(reference ORDER BY reference), ARRAY['managed:project/gp1/K1'], 'alice lists gp1 only (read implies describe)')
  FROM provsecret.secrets;
SELECT is(pg_temp.sqlstate_of('SELECT provsecret.seal($1, $2)', 'managed:project/gp1/K1', 'canary-g-alice'), '42501', 'read does not allow seal');
SELECT throws_ok($$SELECT provsecret.delete_secret('managed:project/gp1/K1')$$, '42501', NULL, 'read does not allow delete');
SELECT throws_ok($$SELECT provsecret.grant('db:pst_g_alice', 'project/gp2', ARRAY['read'])$$, '42501', NULL, 'read does not allow grant');
SELECT throws_ok($$SELECT reference FROM provsecret.ai_provider_secret$$, '42501', NULL, 'alice cannot SELECT the secret table');
SELECT ok(provsecret.has_permission(NULL, 'gp1', 'read'), 'has_permission: alice may read gp1');
SELECT ok(NOT provsecret.has_permission('gco', 'gp2', 'read'), 'has_permission: alice may not read gp2');
RESET ROLE;

-- bob: no grant at all.
SET ROLE pst_g_bob;
SELECT throws_ok($$SELECT provsecret.resolve('managed:project/gp1/K1')$$, '42501', NULL, 'bob cannot resolve');
SELECT is(pg_temp.sqlstate_of('SELECT provsecret.seal($1, $2)', 'managed:project/gp1/NEW', 'canary-g-bob'), '42501', 'bob cannot seal');
SELECT throws_ok($$SELECT provsecret.delete_secret('managed:project/gp1/K1')$$, '42501', NULL, 'bob cannot delete');
SELECT is((SELECT count(*) FROM provsecret.secrets), 0::bigint, 'bob sees no secrets');
SELECT is((SELECT count(*) FROM provsecret.grants), 0::bigint, 'bob sees no grants');
SELECT is((SELECT count(*) FROM provsecret.audit_log), 0::bigint, 'bob sees no audit events');
SELECT throws_ok($$SELECT count(*) FROM provsecret.ai_provider_secret$$, '42501', NULL, 'bob cannot SELECT the secret table');
SELECT throws_ok($$SELECT count(*) FROM provsecret.audit_event$$, '42501', NULL, 'bob cannot SELECT the audit table');
SELECT throws_ok($$SELECT count(*) FROM provsecret.data_key$$, '42501', NULL, 'bob cannot SELECT the data key table');
SELECT throws_ok($$UPDATE provsecret.ai_provider_secret SET description = 'x'$$, '42501', NULL, 'bob cannot UPDATE the secret table');
RESET ROLE;

-- carol: read on company gco covers gp1 and gp2 and the company's secrets.
SET ROLE pst_g_carol;
SELECT is(provsecret.resolve('managed:project/gp1/K1'), 'canary-g-k1', 'carol resolves in gp1 through the company grant');
SELECT is(provsecret.resolve('managed:project/gp2/K2'), 'canary-g-k2', 'carol resolves in gp2 through the company grant');
SELECT is(provsecret.resolve('managed:company/gco/openai'), 'canary-g-co', 'carol resolves the company secret');
SELECT throws_ok($$SELECT provsecret.resolve('managed:project/gsolo/K3')$$, '42501', NULL, 'carol cannot resolve outside the company');
SELECT is(array_agg(reference ORDER BY reference),
          ARRAY['managed:company/gco/openai', 'managed:project/gp1/K1', 'managed:project/gp2/K2'],
          'carol lists the company''s secrets only')
  FROM provsecret.secrets;
RESET ROLE;

-- dave: describe sees metadata, never a value.
SET ROLE pst_g_dave;
SELECT results_eq($$SELECT reference, description FROM provsecret.secrets$$,
                  $$VALUES ('managed:project/gp1/K1'::text, 'k1 text'::text)$$,
                  'dave lists gp1 with its description');
SELECT throws_ok($$SELECT provsecret.resolve('managed:project/gp1/K1')$$, '42501', NULL, 'describe does not allow resolve');
RESET ROLE;

-- ewan: write, without read.
SET ROLE pst_g_ewan;
SELECT is(provsecret.seal('managed:project/gp1/NEW', 'canary-g-new'), 'managed:project/gp1/NEW', 'ewan seals in gp1');
SELECT lives_ok($$SELECT provsecret.seal('managed:project/gp1/K1', 'canary-g-k1-v2')$$, 'ewan rotates gp1/K1');
SELECT throws_ok($$SELECT provsecret.resolve('managed:project/gp1/NEW')$$, '42501', NULL, 'write does not allow resolve');
SELECT is(pg_temp.sqlstate_of('SELECT provsecret.seal($1, $2)', 'managed:project/gp2/NEW', 'canary-g-ewan'), '42501', 'ewan cannot seal in gp2');
SELECT throws_ok($$SELECT provsecret.delete_secret('managed:project/gp1/NEW')$$, '42501', NULL, 'write does not allow delete');
RESET ROLE;
SELECT is(provsecret.resolve('managed:project/gp1/K1'), 'canary-g-k1-v2', 'ewan''s rotation took effect');

-- fay: delete.
SET ROLE pst_g_fay;
SELECT is(provsecret.delete_secret('managed:project/gp1/NEW'), true, 'fay deletes in gp1');
SELECT throws_ok($$SELECT provsecret.delete_secret('managed:project/gp2/K2')$$, '42501', NULL, 'fay cannot delete in gp2');
RESET ROLE;

-- mgr: manage on gp1 grants and revokes there, nowhere else.
SET ROLE pst_g_mgr;
SELECT lives_ok($$SELECT provsecret.grant('db:pst_g_bob', 'project/gp1', ARRAY['describe'])$$, 'mgr grants describe on gp1 to bob');
SELECT throws_ok($$SELECT provsecret.grant('db:pst_g_bob', 'project/gp2', ARRAY['describe'])$$, '42501', NULL, 'mgr cannot grant on gp2');
SELECT throws_ok($$SELECT provsecret.grant('db:pst_g_bob', 'company/gco', ARRAY['describe'])$$, '42501', NULL, 'mgr cannot grant on the company');
RESET ROLE;
SET ROLE pst_g_bob;
SELECT is(array_agg(reference ORDER BY reference), ARRAY['managed:project/gp1/K1'], 'bob now lists gp1')
  FROM provsecret.secrets;
RESET ROLE;
SET ROLE pst_g_mgr;
SELECT lives_ok($$SELECT provsecret.revoke('db:pst_g_bob', 'project/gp1', ARRAY['describe'])$$, 'mgr revokes it');
RESET ROLE;
SET ROLE pst_g_bob;
SELECT is((SELECT count(*) FROM provsecret.secrets), 0::bigint, 'after the revoke bob sees nothing again');
RESET ROLE;

-- Revoking alice's read takes effect at once.
SELECT lives_ok($$SELECT provsecret.revoke('db:pst_g_alice', 'project/gp1', ARRAY['read'])$$, 'revoke read on gp1 from alice');
SET ROLE pst_g_alice;
SELECT throws_ok($$SELECT provsecret.resolve('managed:project/gp1/K1')$$, '42501', NULL, 'alice can no longer resolve');
RESET ROLE;

-- The auditor sees all metadata, grants and audit, never a value.
SET ROLE pst_g_aud;
SELECT is((SELECT count(*) FROM provsecret.secrets WHERE company = 'gco' OR project = 'gsolo'), 4::bigint, 'the auditor lists every secret');
SELECT ok((SELECT count(*) FROM provsecret.grants g WHERE g::text LIKE '%pst_g_%') >= 5, 'the auditor lists the grants');
SELECT ok((SELECT count(*) FROM provsecret.audit_log WHERE project = 'gp1') > 0, 'the auditor reads the audit log');
SELECT throws_ok($$SELECT provsecret.resolve('managed:project/gp1/K1')$$, '42501', NULL, 'the auditor cannot resolve');
SELECT throws_ok($$SELECT provsecret.resolve('managed:company/gco/openai')$$, '42501', NULL, 'the auditor cannot resolve a company secret');
SELECT is(pg_temp.sqlstate_of('SELECT provsecret.seal($1, $2)', 'managed:project/gp1/AUD', 'canary-g-aud'), '42501', 'the auditor cannot seal');
RESET ROLE;

-- provsecret_admin manages everything: the registry and grants.
SET ROLE pst_g_adm;
SELECT lives_ok($$SELECT provsecret.register_company('gadmco')$$, 'provsecret_admin registers a company');
SELECT lives_ok($$SELECT provsecret.register_project('gadmp', 'gadmco')$$, 'provsecret_admin registers a project');
SELECT lives_ok($$SELECT provsecret.grant('db:pst_g_bob', 'project/gsolo', ARRAY['describe'])$$, 'provsecret_admin grants anywhere');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
