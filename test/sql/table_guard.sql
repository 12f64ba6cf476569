-- table_guard.sql: every table of the extension refuses direct writes from
-- every role but the extension's own code paths (DESIGN §5), predefined
-- roles such as pg_write_all_data included.  The tables are enumerated from
-- the catalog (members of the extension, and partitions in its schema), so a
-- table added without the guard fails here.  The API, run by roles that are
-- not superusers, still writes through it.
-- psql settings, extensions, BEGIN, pg_temp.sqlstate_of() and
-- pg_temp.error_of(): test/data/helpers.psql
\getenv abs_srcdir PG_ABS_SRCDIR
\set helpers :abs_srcdir '/data/helpers.psql'
\i :helpers
SELECT plan(46);

-- The extension's tables, from the catalog.
CREATE TEMP VIEW tg_tables AS
SELECT c.oid::regclass AS t, c.relname::text AS name
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'provsecret' AND c.relkind IN ('r', 'p')
   AND (EXISTS (SELECT 1 FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
                 WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                   AND d.refclassid = 'pg_extension'::regclass
                   AND e.extname = 'provsecret' AND d.deptype = 'e')
        OR c.relispartition
        OR EXISTS (SELECT 1 FROM pg_inherits i WHERE i.inhrelid = c.oid));

SELECT cmp_ok((SELECT count(*) FROM tg_tables), '>=', 13::bigint,
              'the extension has its tables (at least the 13 of 0.3.0)');

-- Each carries the guard: one trigger calling provsecret.write_guard(),
-- BEFORE INSERT, UPDATE, DELETE and TRUNCATE, per statement, ENABLE ALWAYS.
-- tgtype bits: 2 BEFORE, 4 INSERT, 8 DELETE, 16 UPDATE, 32 TRUNCATE; 1 ROW.
SELECT is(array_agg(name ORDER BY name), NULL,
          'every table of the extension carries the write guard (tables without it listed)')
  FROM tg_tables
 WHERE NOT EXISTS (
       SELECT 1 FROM pg_trigger g
        WHERE g.tgrelid = t
          AND g.tgfoid = 'provsecret.write_guard()'::regprocedure
          AND g.tgenabled = 'A'
          AND g.tgtype & 1 = 0
          AND g.tgtype & (2 | 4 | 8 | 16 | 32) = (2 | 4 | 8 | 16 | 32));
SELECT is((SELECT proacl IS NOT NULL AND NOT has_function_privilege('public', oid, 'EXECUTE')
             FROM pg_proc WHERE oid = 'provsecret.write_guard()'::regprocedure),
          true, 'write_guard() is not executable by PUBLIC');
SELECT isnt(obj_description('provsecret.write_guard()'::regprocedure, 'pg_proc'), NULL,
            'write_guard() has a comment');
SELECT is(array_agg(name ORDER BY name), NULL, 'every write_guard trigger has a comment')
  FROM tg_tables JOIN pg_trigger g ON g.tgrelid = t AND g.tgname = 'write_guard'
 WHERE obj_description(g.oid, 'pg_trigger') IS NULL;

-- Tenants, secrets, and the roles that try.
SELECT lives_ok($$SELECT provsecret.register_project('tg_p1', 'tg_co')$$, 'project tg_p1 in company tg_co');
SELECT lives_ok($$SELECT provsecret.seal('managed:project/tg_p1/K', 'canary-tg-k')$$, 'seal tg_p1/K');
SELECT isnt(provsecret.resolve('managed:project/tg_p1/K'), NULL, 'a reveal: the worker chains an event');

CREATE ROLE pst_tg_wad IN ROLE pg_write_all_data;          -- no provsecret grant
CREATE ROLE pst_tg_wadw IN ROLE pg_write_all_data;         -- plus write and manage on tg_p1
CREATE ROLE pst_tg_svc IN ROLE provsecret_service;         -- inherits the service role's privileges
CREATE ROLE pst_tg_adm IN ROLE provsecret_admin;
CREATE ROLE pst_tg_admw IN ROLE provsecret_admin, pg_write_all_data;
CREATE ROLE pst_tg_user;                                    -- grants only: uses the API
SELECT lives_ok($$SELECT provsecret.grant('db:pst_tg_wadw', 'project/tg_p1', ARRAY['read', 'write', 'delete', 'manage'])$$,
                'grant read, write, delete and manage on tg_p1 to pst_tg_wadw');
SELECT lives_ok($$SELECT provsecret.grant('db:pst_tg_user', 'company/tg_co', ARRAY['read', 'write', 'delete', 'manage'])$$,
                'grant read, write, delete and manage on company tg_co to pst_tg_user');

-- Run sql as role r; its SQLSTATE and message, or '00000'.
CREATE FUNCTION pg_temp.as_role(r text, sql text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    outcome text;
BEGIN
    EXECUTE format('SET ROLE %I', r);
    BEGIN
        EXECUTE sql;
        outcome := '00000';
    EXCEPTION WHEN OTHERS THEN
        outcome := SQLSTATE || ' ' || SQLERRM;
    END;
    RESET ROLE;
    RETURN outcome;
END $$;

-- Every role, every table, every kind of write.  The statements touch no
-- row (the guard is per statement), so a missing guard shows as 00000.
CREATE TEMP TABLE tg_attempt (role text, tbl text, op text, outcome text);
CREATE TEMP VIEW tg_roles AS
SELECT r FROM unnest(ARRAY['pst_tg_wad', 'pst_tg_wadw', 'pst_tg_svc', 'provsecret_service',
                           'pst_tg_adm', 'provsecret_admin', 'pst_tg_admw']) r
UNION ALL
-- the owner of the tables, when it is not a superuser
SELECT DISTINCT pg_get_userbyid(c.relowner)::text
  FROM tg_tables JOIN pg_class c ON c.oid = t JOIN pg_roles o ON o.oid = c.relowner
 WHERE NOT o.rolsuper;
INSERT INTO tg_attempt
SELECT r, name, op, pg_temp.as_role(r, sql)
  FROM tg_roles, tg_tables,
       LATERAL (SELECT a.attname FROM pg_attribute a
                 WHERE a.attrelid = t AND a.attnum > 0 AND NOT a.attisdropped
                   AND a.attgenerated = '' AND a.attidentity = ''
                 ORDER BY a.attnum LIMIT 1) col,
       LATERAL (VALUES
           ('INSERT', format('INSERT INTO %s DEFAULT VALUES', t)),
           ('UPDATE', format('UPDATE %s SET %I = NULL WHERE false', t, col.attname)),
           ('DELETE', format('DELETE FROM %s WHERE false', t)),
           ('TRUNCATE', format('TRUNCATE %s', t)),
           ('MERGE', format('MERGE INTO %s USING (SELECT 1) AS s (x) ON false WHEN MATCHED THEN DELETE', t))) AS w (op, sql);
SELECT cmp_ok((SELECT count(*) FROM tg_attempt), '>=', (13 * 7 * 5)::bigint,
              'every role tried every write on every table');
SELECT is(array_agg(role || ' ' || op || ' ' || tbl || ': ' || outcome ORDER BY role, tbl, op), NULL,
          'every direct INSERT, UPDATE, DELETE, TRUNCATE and MERGE fails with 42501 (attempts that did not listed)')
  FROM tg_attempt WHERE outcome NOT LIKE '42501 %';
-- Where table privileges admit the statement, it is the guard that refuses.
SELECT is(array_agg(role || ' ' || op || ' ' || tbl || ': ' || outcome ORDER BY role, tbl, op), NULL,
          'pg_write_all_data and provsecret_service members get past privileges and are refused by the guard')
  FROM tg_attempt
 WHERE role IN ('pst_tg_wad', 'pst_tg_wadw', 'pst_tg_admw') AND op <> 'TRUNCATE'
   AND outcome <> '42501 table provsecret.' || tbl || ' accepts no direct writes'
   -- the audit tables' append-only trigger may refuse first
   AND outcome <> '42501 ' || tbl || ' is append-only';

-- The attacks that worked before the guard, on real rows.
SELECT is(pg_temp.as_role('pst_tg_wad',
            $$INSERT INTO provsecret.audit_checkpoint (through_seq, last_hash, dropped, retained_by, key_epoch, mac)
              VALUES (999999, '\x00', 0, 'forged', 1, '\x00')$$),
          '42501 table provsecret.audit_checkpoint accepts no direct writes',
          'pg_write_all_data cannot insert a forged audit checkpoint');
SELECT is(pg_temp.as_role('pst_tg_wad', 'DELETE FROM provsecret.audit_chain_key'),
          '42501 table provsecret.audit_chain_key accepts no direct writes',
          'pg_write_all_data cannot delete the audit chain keys');
SELECT is(pg_temp.as_role('pst_tg_wad', $$UPDATE provsecret.audit_chain_key SET wrapped = '\x00'$$),
          '42501 table provsecret.audit_chain_key accepts no direct writes',
          'pg_write_all_data cannot rewrite the audit chain keys');
SELECT is(pg_temp.as_role('pst_tg_wadw',
            $$INSERT INTO provsecret.ai_provider_secret (scope, project, name, ciphertext, data_key_id,
                  value_version, created_by, updated_by)
              VALUES ('project', 'tg_p1', 'FORGED', '\x00', 1, 1, 'x', 'x')$$),
          '42501 table provsecret.ai_provider_secret accepts no direct writes',
          'pg_write_all_data with a write grant cannot insert a forged secret row');
SELECT is(pg_temp.as_role('pst_tg_wadw', $$UPDATE provsecret.ai_provider_secret SET description = 'forged'$$),
          '42501 table provsecret.ai_provider_secret accepts no direct writes',
          'pg_write_all_data with a write grant cannot update secret rows directly');
SELECT is(pg_temp.as_role('pst_tg_wadw', $$INSERT INTO provsecret.access_grant (principal, scope, target, permission, granted_by)
                                             VALUES ('db:pst_tg_wad', 'company', 'tg_co', 'read', 'x')$$),
          '42501 table provsecret.access_grant accepts no direct writes',
          'pg_write_all_data cannot grant itself access');
SELECT is(pg_temp.as_role('pst_tg_svc', $$DELETE FROM provsecret.ai_provider_secret$$),
          '42501 table provsecret.ai_provider_secret accepts no direct writes',
          'a member of provsecret_service cannot delete secret rows');
SET session_replication_role = replica;
SELECT is(pg_temp.as_role('pst_tg_wad', 'DELETE FROM provsecret.audit_chain_key'),
          '42501 table provsecret.audit_chain_key accepts no direct writes',
          'session_replication_role = replica does not skip the guard');
RESET session_replication_role;
SELECT is((SELECT count(*) FROM provsecret.ai_provider_secret WHERE name = 'FORGED' OR description = 'forged'),
          0::bigint, 'no forged or rewritten secret row');
SELECT is((SELECT count(*) FROM provsecret.audit_checkpoint WHERE retained_by = 'forged'),
          0::bigint, 'no forged checkpoint');

-- An error inside one of the extension's functions, caught by the caller's
-- exception block, leaves no write path open behind it: a rotation in
-- progress makes register_project fail after it switched role.
SELECT lives_ok($$SELECT provsecret.register_project('tg_rot')$$, 'project tg_rot, no company');
SELECT lives_ok($$SELECT provsecret.seal('managed:project/tg_rot/A', 'canary-tg-a')$$, 'seal tg_rot/A');
SELECT lives_ok($$SELECT provsecret.seal('managed:project/tg_rot/B', 'canary-tg-b')$$, 'seal tg_rot/B');
SELECT is(provsecret.rotate_data_key('project/tg_rot', 1), 1, 'a batched rotation of tg_rot is in progress');
CREATE FUNCTION pg_temp.fail_inside_then_write() RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    BEGIN
        PERFORM provsecret.register_project('tg_rot', 'tg_co');
    EXCEPTION WHEN object_not_in_prerequisite_state THEN
        NULL;
    END;
    RETURN pg_temp.as_role('pst_tg_wad', 'DELETE FROM provsecret.audit_chain_key');
END $$;
SELECT is(pg_temp.fail_inside_then_write(),
          '42501 table provsecret.audit_chain_key accepts no direct writes',
          'after an error caught inside register_project, direct writes are still refused');
SELECT is(pg_temp.as_role('pst_tg_wad', 'DELETE FROM provsecret.audit_chain_key'),
          '42501 table provsecret.audit_chain_key accepts no direct writes',
          'and after a statement aborted inside one of the functions');

-- No user code runs inside the extension's write paths: operators and
-- functions a caller puts ahead of pg_catalog on search_path are never
-- called by the statements the API runs with the write path open (each one
-- raises if called, failing the API call).
CREATE SCHEMA pst_tg_hostile;
GRANT USAGE ON SCHEMA pst_tg_hostile TO PUBLIC;
DO $$
DECLARE
    ty text;
    op text;
BEGIN
    FOREACH ty IN ARRAY ARRAY['text', 'bigint', 'integer', 'timestamptz', 'bytea'] LOOP
        EXECUTE format('CREATE FUNCTION pst_tg_hostile.hijacked(%1$s, %1$s) RETURNS boolean '
                       'LANGUAGE plpgsql AS $f$BEGIN RAISE EXCEPTION ''hijacked %1$s operator''; END$f$', ty);
        FOREACH op IN ARRAY ARRAY['=', '<>', '<', '<=', '>', '>='] LOOP
            EXECUTE format('CREATE OPERATOR pst_tg_hostile.%s (LEFTARG = %s, RIGHTARG = %2$s, '
                           'FUNCTION = pst_tg_hostile.hijacked)', op, ty);
        END LOOP;
    END LOOP;
END $$;
CREATE FUNCTION pst_tg_hostile.now() RETURNS timestamptz
LANGUAGE plpgsql AS $$BEGIN RAISE EXCEPTION 'hijacked now()'; END$$;
CREATE FUNCTION pst_tg_hostile.nextval(regclass) RETURNS bigint
LANGUAGE plpgsql AS $$BEGIN RAISE EXCEPTION 'hijacked nextval()'; END$$;
CREATE TEMP TABLE tg_hostile_done (done boolean);
GRANT INSERT ON tg_hostile_done TO PUBLIC;
SET ROLE pst_tg_user;
SET search_path = pst_tg_hostile, pg_catalog;
DO $$
BEGIN
    PERFORM provsecret.register_project('tg_p3', 'tg_co');
    PERFORM provsecret.seal('managed:project/tg_p3/H', 'canary-tg-h1');
    PERFORM provsecret.seal('managed:project/tg_p3/H', 'canary-tg-h2');
    PERFORM provsecret.resolve('managed:project/tg_p3/H');
    PERFORM provsecret.rollback('managed:project/tg_p3/H', 1);
    PERFORM provsecret.grant('db:pst_tg_adm', 'project/tg_p3', ARRAY['describe']);
    PERFORM provsecret.revoke('db:pst_tg_adm', 'project/tg_p3');
    PERFORM provsecret.create_resolver('tg_rh', 'project/tg_p3', 'http-json', 'http://127.0.0.1:1/');
    PERFORM provsecret.bind_workspace('tg_p3', 'tg_rh');
    PERFORM provsecret.unbind_workspace('tg_p3');
    PERFORM provsecret.drop_resolver('tg_rh');
    PERFORM provsecret.rotate_data_key('company/tg_co');
    PERFORM provsecret.delete_secret('managed:project/tg_p3/H');
    INSERT INTO pg_temp.tg_hostile_done VALUES (true);
END $$;
RESET search_path;
RESET ROLE;
SELECT is((SELECT count(*) FROM tg_hostile_done), 1::bigint,
          'the API runs under a hostile search_path without calling its operators or functions');

-- The API still writes, for roles that are not superusers.
SET ROLE pst_tg_user;
SELECT lives_ok($$SELECT provsecret.register_project('tg_p2', 'tg_co')$$, 'register_project as a manager');
SELECT lives_ok($$SELECT provsecret.seal('managed:project/tg_p2/K', 'canary-tg-p2')$$, 'seal');
SELECT lives_ok($$SELECT provsecret.seal('managed:project/tg_p2/K', 'canary-tg-p2-v2')$$, 'rotate a value (version kept)');
SELECT is(encode(sha256(convert_to(provsecret.resolve('managed:project/tg_p2/K'), 'UTF8')), 'hex'),
          encode(sha256(convert_to('canary-tg-p2-v2', 'UTF8')), 'hex'), 'resolve');
SELECT lives_ok($$SELECT provsecret.rollback('managed:project/tg_p2/K', 1)$$, 'rollback');
SELECT lives_ok($$SELECT provsecret.grant('db:pst_tg_adm', 'project/tg_p2', ARRAY['describe'])$$, 'grant');
SELECT lives_ok($$SELECT provsecret.revoke('db:pst_tg_adm', 'project/tg_p2')$$, 'revoke');
SELECT lives_ok($$SELECT provsecret.create_resolver('tg_r', 'project/tg_p2', 'http-json', 'http://127.0.0.1:1/')$$, 'create_resolver');
SELECT lives_ok($$SELECT provsecret.bind_workspace('tg_p2', 'tg_r')$$, 'bind_workspace');
SELECT lives_ok($$SELECT provsecret.unbind_workspace('tg_p2')$$, 'unbind_workspace');
SELECT lives_ok($$SELECT provsecret.drop_resolver('tg_r')$$, 'drop_resolver');
SELECT is(provsecret.rotate_data_key('company/tg_co') > 0, true, 'rotate_data_key');
SELECT lives_ok($$SELECT provsecret.delete_secret('managed:project/tg_p2/K')$$, 'delete_secret');
SELECT lives_ok($$SELECT provsecret.shred('company/tg_co', 'company/tg_co')$$, 'shred');
RESET ROLE;
SET ROLE pst_tg_adm;
SELECT lives_ok($$SELECT provsecret.rewrap()$$, 'rewrap as provsecret_admin');
RESET ROLE;
SELECT is((SELECT bool_and(ok) FROM provsecret.verify_audit_chain()), true, 'the audit chains still verify');

SELECT * FROM finish();
ROLLBACK;
