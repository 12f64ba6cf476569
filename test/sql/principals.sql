-- principals.sql: grant and revoke arguments (DESIGN §4): principals
-- db:<role>, user:<sub>, client:<azp>, role:<realm role>, group:<group>;
-- permissions describe, read, write, delete, manage; what a manager sees in
-- the grants view.
-- psql settings, extensions, BEGIN, pg_temp.sqlstate_of() and
-- pg_temp.error_of(): test/data/helpers.psql
\getenv abs_srcdir PG_ABS_SRCDIR
\set helpers :abs_srcdir '/data/helpers.psql'
\i :helpers
SELECT plan(22);

SELECT lives_ok($$SELECT provsecret.register_company('prco')$$, 'register company prco');
SELECT lives_ok($$SELECT provsecret.register_project('prp1', 'prco')$$, 'register project prp1');
SELECT lives_ok($$SELECT provsecret.register_project('prp2', 'prco')$$, 'register project prp2');

-- Every principal kind of the contract is accepted.
SELECT lives_ok(format('SELECT provsecret.grant(%L, %L, ARRAY[%L])', p, 'project/prp1', 'read'), 'grant to ' || p)
  FROM unnest(ARRAY['db:pst_p_role', 'user:3f1c-alice', 'client:billing-service', 'role:secret-reader', 'group:/ops/oncall']) p;
SELECT is((SELECT count(*) FROM provsecret.grants WHERE target = 'project/prp1' AND permission = 'read'), 5::bigint, 'the five grants are listed');

-- Malformed principals and permissions are 22023.
SELECT throws_ok($$SELECT provsecret.grant('bogus:x', 'project/prp1', ARRAY['read'])$$, '22023', NULL, 'an unknown principal kind is 22023');
SELECT throws_ok($$SELECT provsecret.grant('db:', 'project/prp1', ARRAY['read'])$$, '22023', NULL, 'an empty principal name is 22023');
SELECT throws_ok($$SELECT provsecret.grant(NULL, 'project/prp1', ARRAY['read'])$$, '22023', NULL, 'a NULL principal is 22023');
SELECT throws_ok($$SELECT provsecret.grant('db:pst_p_role', NULL, ARRAY['read'])$$, '22023', NULL, 'a NULL target is 22023');
SELECT throws_ok($$SELECT provsecret.grant('db:pst_p_role', 'project/prp1', ARRAY['read', 'sudo'])$$, '22023', NULL, 'one unknown permission fails the whole grant');
SELECT throws_ok($$SELECT provsecret.grant('db:pst_p_role', 'project/prp1', ARRAY['Read'])$$, '22023', NULL, 'permission names are lower case');
SELECT is((SELECT count(*) FROM provsecret.grants WHERE principal = 'db:pst_p_role'), 1::bigint, 'a refused grant added nothing');

-- A manager of prp1 sees prp1's grants and no others.
CREATE ROLE pst_p_mgr;
SELECT lives_ok($$SELECT provsecret.grant('db:pst_p_mgr', 'project/prp1', ARRAY['manage'])$$, 'grant manage on prp1');
SELECT lives_ok($$SELECT provsecret.grant('user:bob', 'project/prp2', ARRAY['read'])$$, 'grant read on prp2 to user:bob');
SET ROLE pst_p_mgr;
SELECT is((SELECT array_agg(DISTINCT target) FROM provsecret.grants), ARRAY['project/prp1'], 'the manager of prp1 lists prp1''s grants only');
RESET ROLE;

-- revoke takes away exactly what it names.
SELECT lives_ok($$SELECT provsecret.grant('user:carol', 'project/prp2', ARRAY['describe', 'read', 'write'])$$, 'grant describe, read, write to user:carol');
SELECT lives_ok($$SELECT provsecret.revoke('user:carol', 'project/prp2', ARRAY['read', 'write'])$$, 'revoke read and write');
SELECT is(ARRAY(SELECT permission FROM provsecret.grants WHERE principal = 'user:carol' ORDER BY 1), ARRAY['describe'], 'describe remains');

SELECT * FROM finish();
ROLLBACK;
