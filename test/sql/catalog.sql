-- catalog.sql: the shape of the SQL API (DESIGN §4): signatures and return
-- types, a COMMENT on every function and view, search_path fixed on every
-- SECURITY DEFINER function, the two roles, every table in pg_dump.
-- psql settings, extensions, BEGIN, pg_temp.sqlstate_of() and
-- pg_temp.error_of(): test/data/helpers.psql
\getenv abs_srcdir PG_ABS_SRCDIR
\set helpers :abs_srcdir '/data/helpers.psql'
\i :helpers
SELECT plan(17);

SELECT function_returns('provsecret', 'seal', ARRAY['text', 'text', 'text'], 'text', 'seal(text, text, text) returns text');
SELECT function_returns('provsecret', 'resolve', ARRAY['text'], 'text', 'resolve(text) returns text');
SELECT function_returns('provsecret', 'delete_secret', ARRAY['text'], 'boolean', 'delete_secret(text) returns boolean');
SELECT has_function('provsecret', 'register_company', ARRAY['text'], 'register_company(text) exists');
SELECT has_function('provsecret', 'register_project', ARRAY['text', 'text'], 'register_project(text, text) exists');
SELECT has_function('provsecret', 'grant', ARRAY['text', 'text', 'text[]'], 'grant(text, text, text[]) exists');
SELECT has_function('provsecret', 'revoke', ARRAY['text', 'text', 'text[]'], 'revoke(text, text, text[]) exists');
SELECT function_returns('provsecret', 'has_permission', ARRAY['text', 'text', 'text'], 'boolean', 'has_permission(text, text, text) returns boolean');
SELECT is((SELECT pronargdefaults FROM pg_proc WHERE oid = 'provsecret.seal(text, text, text)'::regprocedure), 1::smallint, 'seal''s description has a default');
SELECT is((SELECT pronargdefaults FROM pg_proc WHERE oid = 'provsecret.register_project(text, text)'::regprocedure), 1::smallint, 'register_project''s company has a default');

SELECT is((SELECT array_agg(p.oid::regprocedure::text ORDER BY 1) FROM pg_proc p
            WHERE p.pronamespace = 'provsecret'::regnamespace
              AND obj_description(p.oid, 'pg_proc') IS NULL),
          NULL, 'every function has a COMMENT');
SELECT is((SELECT array_agg(c.relname::text ORDER BY 1) FROM pg_class c
            WHERE c.relnamespace = 'provsecret'::regnamespace AND c.relkind = 'v'
              AND obj_description(c.oid, 'pg_class') IS NULL),
          NULL, 'every view has a COMMENT');
SELECT is((SELECT array_agg(p.oid::regprocedure::text ORDER BY 1) FROM pg_proc p
            WHERE p.pronamespace = 'provsecret'::regnamespace AND p.prosecdef
              AND NOT EXISTS (SELECT 1 FROM unnest(p.proconfig) c WHERE c LIKE 'search_path=%')),
          NULL, 'every SECURITY DEFINER function sets search_path');

SELECT has_role('provsecret_admin', 'role provsecret_admin exists');
SELECT has_role('provsecret_auditor', 'role provsecret_auditor exists');
-- A partitioned table holds no rows of its own: its partitions (made by the
-- audit worker, never extension members) are dumped by pg_dump as tables.
SELECT is((SELECT array_agg(c.relname::text ORDER BY c.relname) FROM pg_class c
            WHERE c.relnamespace = 'provsecret'::regnamespace AND c.relkind = 'r'
              AND NOT c.relispartition
              AND c.oid <> ALL ((SELECT extconfig FROM pg_extension WHERE extname = 'provsecret')::oid[])),
          NULL, 'every table is marked with pg_extension_config_dump');
SELECT is((SELECT array_agg(c.relname::text ORDER BY c.relname) FROM pg_class c
            JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e'
            WHERE c.relnamespace = 'provsecret'::regnamespace AND c.relispartition),
          NULL, 'no partition is a member of the extension (pg_dump dumps it with its rows)');

SELECT * FROM finish();
ROLLBACK;
