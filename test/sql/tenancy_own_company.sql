-- tenancy_own_company.sql: a project without a company has a company of
-- its own, '~<project>', on every row (docs/DESIGN.md, Running on Citus):
-- never shown by the views, never nameable, chained with the project's
-- audit events, and left for the real company when the project joins one.
-- psql settings, extensions, BEGIN, pg_temp.sqlstate_of() and
-- pg_temp.error_of(): test/data/helpers.psql
\getenv abs_srcdir PG_ABS_SRCDIR
\set helpers :abs_srcdir '/data/helpers.psql'
\i :helpers
SELECT plan(16);

SELECT lives_ok($$SELECT provsecret.seal('managed:project/oc_solo/K', 'canary-oc-solo')$$, 'seal into a new project without a company');
SELECT lives_ok($$SELECT provsecret.grant('db:pst_oc_dan', 'project/oc_solo', ARRAY['read'])$$, 'grant read on it');

-- every row carries the project's own company
SELECT is((SELECT company FROM provsecret.project WHERE project = 'oc_solo'), '~oc_solo', 'the project row carries ~oc_solo');
SELECT is((SELECT company FROM provsecret.ai_provider_secret WHERE project = 'oc_solo'), '~oc_solo', 'its secret carries ~oc_solo');
SELECT is((SELECT company FROM provsecret.data_key WHERE tenant = 'project/oc_solo'), '~oc_solo', 'its data key carries ~oc_solo');
SELECT is((SELECT company FROM provsecret.access_grant WHERE target = 'oc_solo'), '~oc_solo', 'its grant carries ~oc_solo');
SELECT is((SELECT count(*) FROM provsecret.ai_provider_secret WHERE company IS NULL), 0::bigint, 'no secret lacks a company');

-- the views show no company, as before
SELECT ok((SELECT company IS NULL FROM provsecret.secrets WHERE reference = 'managed:project/oc_solo/K'), 'the secrets view shows no company for it');
SELECT is((SELECT count(*) FROM provsecret.secrets WHERE company = '~oc_solo'), 0::bigint, 'and nothing under ~oc_solo');

-- the name can be neither registered nor granted nor named in a target
SELECT throws_ok($$SELECT provsecret.register_company('~oc_solo')$$, '22023', NULL, 'a company named ~oc_solo cannot be registered');
SELECT throws_ok($$SELECT provsecret.grant('db:pst_oc_dan', 'company/~oc_solo', ARRAY['read'])$$, '22023', NULL, 'nor granted on');
SELECT throws_ok($$SELECT provsecret.resolve('managed:company/~oc_solo/K')$$, '22023', NULL, 'nor named in a reference');

-- its audit events name its own company
SELECT ok(EXISTS (SELECT FROM provsecret.audit_pending WHERE project = 'oc_solo' AND company = '~oc_solo'
                  UNION ALL SELECT FROM provsecret.audit_event WHERE project = 'oc_solo' AND company = '~oc_solo'),
          'its audit events carry ~oc_solo');

-- joining a company moves every row and drops the own company
SELECT lives_ok($$SELECT provsecret.register_project('oc_solo', 'oc_co')$$, 'attach oc_solo to oc_co');
SELECT is((SELECT string_agg(DISTINCT company, ',') FROM (
             SELECT company FROM provsecret.project WHERE project = 'oc_solo'
             UNION ALL SELECT company FROM provsecret.ai_provider_secret WHERE project = 'oc_solo'
             UNION ALL SELECT company FROM provsecret.data_key WHERE tenant = 'project/oc_solo'
             UNION ALL SELECT company FROM provsecret.access_grant WHERE target = 'oc_solo'
             UNION ALL SELECT company FROM provsecret.company WHERE company = '~oc_solo') c),
          'oc_co', 'its rows moved to oc_co and ~oc_solo is gone');
SELECT ok(encode(sha256(convert_to(provsecret.resolve('managed:project/oc_solo/K'), 'UTF8')), 'hex')
          = encode(sha256(convert_to('canary-oc-solo', 'UTF8')), 'hex'), 'its secret still resolves');

SELECT * FROM finish();
ROLLBACK;
