-- tenancy_own_company.sql: a project without a company has a company of
-- its own, '~<project>', on every row (docs/DESIGN.md, Running on Citus):
-- never shown by the views, never nameable, chained with the project's
-- audit events, and left for the real company when the project joins one.
-- Joining a company moves the rows of the tables Citus distributes by
-- company by delete and insert, never an update of company: every column
-- kept, every secret and kept version still opens.
-- psql settings, extensions, BEGIN, pg_temp.sqlstate_of() and
-- pg_temp.error_of(): test/data/helpers.psql
\getenv abs_srcdir PG_ABS_SRCDIR
\set helpers :abs_srcdir '/data/helpers.psql'
\i :helpers
SELECT plan(34);

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

-- what the attach must carry: a secret with a kept version, a second
-- secret, a resolver, a binding and a bound secret (written as the
-- superuser: a bound secret's value lives in the backend, not here)
SELECT lives_ok($$SELECT provsecret.seal('managed:project/oc_solo/K', 'canary-oc-solo-2')$$, 'seal a second version of K (version 1 kept)');
SELECT lives_ok($$SELECT provsecret.seal('managed:project/oc_solo/K2', 'canary-oc-solo-k2')$$, 'seal a second secret K2');
SELECT lives_ok($$SELECT provsecret.create_resolver('oc_res', 'project/oc_solo', 'http-json', 'http://127.0.0.1:1/')$$, 'a resolver of the project');
SELECT lives_ok($$SELECT provsecret.bind_workspace('oc_solo', 'oc_res')$$, 'bind its workspace');
INSERT INTO provsecret.bound_secret (project, company, name, resolver, description, value_version, created_by, updated_by)
     VALUES ('oc_solo', '~oc_solo', 'B', 'oc_res', 'bound', 1, 'db:pst_oc_dan', 'db:pst_oc_dan');

-- Every row under ~oc_solo as it is before the attach, company left out,
-- as digests (no ciphertext or wrapped key is printed on a failure).
CREATE TEMP TABLE oc_before AS
    SELECT t, md5(r::text) AS digest FROM (
        SELECT 'ai_provider_secret' t, to_jsonb(x) - 'company' r FROM provsecret.ai_provider_secret x WHERE company = '~oc_solo'
        UNION ALL SELECT 'ai_provider_secret_version', to_jsonb(x) - 'company' FROM provsecret.ai_provider_secret_version x WHERE company = '~oc_solo'
        UNION ALL SELECT 'data_key', to_jsonb(x) - 'company' FROM provsecret.data_key x WHERE company = '~oc_solo'
        UNION ALL SELECT 'workspace_binding', to_jsonb(x) - 'company' FROM provsecret.workspace_binding x WHERE company = '~oc_solo'
        UNION ALL SELECT 'bound_secret', to_jsonb(x) - 'company' FROM provsecret.bound_secret x WHERE company = '~oc_solo'
        UNION ALL SELECT 'access_grant', to_jsonb(x) - 'company' FROM provsecret.access_grant x WHERE company = '~oc_solo'
        UNION ALL SELECT 'resolver', to_jsonb(x) - 'company' FROM provsecret.resolver x WHERE company = '~oc_solo') b;
SELECT is((SELECT string_agg(t || '=' || n, ',' ORDER BY t) FROM (SELECT t, count(*) n FROM oc_before GROUP BY t) c),
          'access_grant=1,ai_provider_secret=2,ai_provider_secret_version=1,bound_secret=1,data_key=1,resolver=1,workspace_binding=1',
          'before the attach: two secrets, a kept version, a data key, a grant, a resolver, a binding and a bound secret under ~oc_solo');

-- Citus refuses ON UPDATE CASCADE on a foreign key with the distribution
-- column; company is never updated, so the key needs none.
SELECT is((SELECT confupdtype::text || confdeltype::text FROM pg_constraint
            WHERE conname = 'ai_provider_secret_version_company_secret_id_fkey'
              AND conrelid = 'provsecret.ai_provider_secret_version'::regclass),
          'ac', 'the versions'' key to their secret: no action on update, cascade on delete');
-- every statement trigger of a moved table that fires on UPDATE fires on
-- DELETE too (the write guard, the cache and listing invalidations)
SELECT is((SELECT count(*) FROM pg_trigger
            WHERE tgrelid IN ('provsecret.ai_provider_secret'::regclass, 'provsecret.ai_provider_secret_version'::regclass,
                              'provsecret.data_key'::regclass, 'provsecret.workspace_binding'::regclass,
                              'provsecret.bound_secret'::regclass)
              AND NOT tgisinternal AND tgtype & 16 <> 0 AND tgtype & 8 = 0),
          0::bigint, 'every trigger that fires on an update of a moved table fires on its delete');

-- Citus never updates a distribution column: for the rest of this
-- transaction, an update of company in a distributed table fails (a
-- foreign key's ON UPDATE CASCADE included).  Never dropped: DROP TRIGGER
-- would lock the tables against the audit worker's reads until ROLLBACK.
CREATE FUNCTION pg_temp.company_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'company updated in %', TG_TABLE_NAME;
END $$;
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['ai_provider_secret', 'ai_provider_secret_version', 'data_key',
                             'workspace_binding', 'bound_secret']
    LOOP
        EXECUTE format('CREATE TRIGGER oc_company_updated BEFORE UPDATE OF company ON provsecret.%I'
                       ' FOR EACH STATEMENT EXECUTE FUNCTION pg_temp.company_updated()', t);
    END LOOP;
END $$;

-- joining a company moves every row and drops the own company
SELECT lives_ok($$SELECT provsecret.register_project('oc_solo', 'oc_co')$$, 'attach oc_solo to oc_co, updating no company of a distributed table');
SELECT bag_eq($$SELECT t, md5(r::text) FROM (
        SELECT 'ai_provider_secret' t, to_jsonb(x) - 'company' r FROM provsecret.ai_provider_secret x WHERE company = 'oc_co'
        UNION ALL SELECT 'ai_provider_secret_version', to_jsonb(x) - 'company' FROM provsecret.ai_provider_secret_version x WHERE company = 'oc_co'
        UNION ALL SELECT 'data_key', to_jsonb(x) - 'company' FROM provsecret.data_key x WHERE company = 'oc_co'
        UNION ALL SELECT 'workspace_binding', to_jsonb(x) - 'company' FROM provsecret.workspace_binding x WHERE company = 'oc_co'
        UNION ALL SELECT 'bound_secret', to_jsonb(x) - 'company' FROM provsecret.bound_secret x WHERE company = 'oc_co'
        UNION ALL SELECT 'access_grant', to_jsonb(x) - 'company' FROM provsecret.access_grant x WHERE company = 'oc_co'
        UNION ALL SELECT 'resolver', to_jsonb(x) - 'company' FROM provsecret.resolver x WHERE company = 'oc_co') a$$,
              $$SELECT t, digest FROM oc_before$$,
              'under oc_co: the same rows, every column but company unchanged (ids, ciphertexts, wrapped keys, who and when)');
SELECT is((SELECT count(*) FROM (
             SELECT FROM provsecret.ai_provider_secret WHERE company = '~oc_solo'
             UNION ALL SELECT FROM provsecret.ai_provider_secret_version WHERE company = '~oc_solo'
             UNION ALL SELECT FROM provsecret.data_key WHERE company = '~oc_solo'
             UNION ALL SELECT FROM provsecret.workspace_binding WHERE company = '~oc_solo'
             UNION ALL SELECT FROM provsecret.bound_secret WHERE company = '~oc_solo'
             UNION ALL SELECT FROM provsecret.access_grant WHERE company = '~oc_solo'
             UNION ALL SELECT FROM provsecret.resolver WHERE company = '~oc_solo'
             UNION ALL SELECT FROM provsecret.project WHERE company = '~oc_solo'
             UNION ALL SELECT FROM provsecret.company WHERE company = '~oc_solo') r),
          0::bigint, 'nothing remains under ~oc_solo');
SELECT is((SELECT company FROM provsecret.workspace_bindings WHERE project = 'oc_solo'), 'oc_co', 'the binding shows oc_co');
SELECT is((SELECT string_agg(company || ':' || reference, ',' ORDER BY reference) FROM provsecret.secrets WHERE project = 'oc_solo'),
          'oc_co:managed:project/oc_solo/B,oc_co:managed:project/oc_solo/K,oc_co:managed:project/oc_solo/K2',
          'the secrets view shows its secrets and bound secret in oc_co');
SELECT lives_ok($$SELECT provsecret.unbind_workspace('oc_solo')$$, 'unbind the workspace, found under oc_co');
SELECT is((SELECT string_agg(DISTINCT company, ',') FROM (
             SELECT company FROM provsecret.project WHERE project = 'oc_solo'
             UNION ALL SELECT company FROM provsecret.ai_provider_secret WHERE project = 'oc_solo'
             UNION ALL SELECT company FROM provsecret.data_key WHERE tenant = 'project/oc_solo'
             UNION ALL SELECT company FROM provsecret.access_grant WHERE target = 'oc_solo'
             UNION ALL SELECT company FROM provsecret.company WHERE company = '~oc_solo') c),
          'oc_co', 'its rows moved to oc_co and ~oc_solo is gone');
CREATE FUNCTION pg_temp.resolves_to(ref text, expected text) RETURNS boolean LANGUAGE sql AS $$
    SELECT encode(sha256(convert_to(provsecret.resolve(ref), 'UTF8')), 'hex')
           = encode(sha256(convert_to(expected, 'UTF8')), 'hex') $$;
SELECT ok(pg_temp.resolves_to('managed:project/oc_solo/K', 'canary-oc-solo-2'), 'K still resolves');
SELECT ok(pg_temp.resolves_to('managed:project/oc_solo/K2', 'canary-oc-solo-k2'), 'K2 still resolves');
SELECT is(ARRAY(SELECT value_version FROM provsecret.versions('managed:project/oc_solo/K')), ARRAY[2, 1],
          'versions() still lists K''s kept version 1');
SELECT is(provsecret.rollback('managed:project/oc_solo/K', 1), 3, 'rollback to the kept version 1 gives version 3');
SELECT ok(pg_temp.resolves_to('managed:project/oc_solo/K', 'canary-oc-solo'), 'K resolves to the value of version 1');
SELECT is((SELECT string_agg(DISTINCT company, ',') FROM provsecret.ai_provider_secret_version WHERE project = 'oc_solo'),
          'oc_co', 'the versions the rollback kept are under oc_co');
SELECT is((SELECT count(*) FROM provsecret.grants WHERE target = 'project/oc_solo' AND principal = 'db:pst_oc_dan'),
          1::bigint, 'the grant still reads project/oc_solo');

SELECT * FROM finish();
ROLLBACK;
