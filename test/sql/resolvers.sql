-- resolvers.sql: the registry of external resolvers (DESIGN §9):
-- create_resolver / alter_resolver / drop_resolver, option checks per kind,
-- base_url policy, auth_reference rules, permissions (manage to change,
-- describe to see, read to set a token), the resolvers view, audit events.
-- Resolving through a live backend is test/t/120_external_resolve.pl.
\pset format unaligned
\pset tuples_only true
\pset pager off
\set VERBOSITY terse
\set ON_ERROR_ROLLBACK on
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS provsecret;
BEGIN;
CREATE FUNCTION pg_temp.sqlstate_of(sql text, a1 text DEFAULT NULL,
    a2 text DEFAULT NULL, a3 text DEFAULT NULL) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE sql USING a1, a2, a3;
    RETURN '00000';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE;
END $$;
CREATE FUNCTION pg_temp.error_of(sql text, a1 text DEFAULT NULL,
    a2 text DEFAULT NULL, a3 text DEFAULT NULL) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    st text; msg text;
BEGIN
    EXECUTE sql USING a1, a2, a3;
    RETURN NULL;
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
    RETURN st || ' ' || msg;
END $$;
SELECT plan(46);

SELECT function_returns('provsecret', 'create_resolver', ARRAY['text', 'text', 'text', 'text', 'jsonb', 'text'], 'void', 'create_resolver(text, text, text, text, jsonb, text) returns void');
SELECT function_returns('provsecret', 'alter_resolver', ARRAY['text', 'text', 'text', 'text', 'jsonb', 'text'], 'void', 'alter_resolver(...) returns void');
SELECT function_returns('provsecret', 'drop_resolver', ARRAY['text'], 'boolean', 'drop_resolver(text) returns boolean');
SELECT is((SELECT pronargdefaults FROM pg_proc WHERE oid = 'provsecret.create_resolver(text, text, text, text, jsonb, text)'::regprocedure), 2::smallint, 'create_resolver: options and auth_reference have defaults');
SELECT has_view('provsecret', 'resolvers', 'view resolvers exists');

SELECT lives_ok($$SELECT provsecret.register_company('rco')$$, 'register company rco');
SELECT lives_ok($$SELECT provsecret.register_project('rp1', 'rco')$$, 'register project rp1 in rco');
SELECT lives_ok($$SELECT provsecret.seal('managed:project/rp1/vault-token', 'canary-r-token')$$, 'seal the token of rp1');

-- Kinds and their options: defaults are stored and shown.
SELECT lives_ok($$SELECT provsecret.create_resolver('v1', 'project/rp1', 'vault-kv2', 'http://127.0.0.1:8200', '{"namespace":"eng"}', 'managed:project/rp1/vault-token')$$, 'create a vault-kv2 resolver');
SELECT is((SELECT options FROM provsecret.resolvers WHERE name = 'v1'),
          '{"mount":"secret","namespace":"eng","timeout_ms":5000,"cache_ttl_s":0,"breaker_failures":5,"breaker_cooldown_s":30}'::jsonb,
          'vault-kv2 options are stored with their defaults');
SELECT lives_ok($$SELECT provsecret.create_resolver('inf1', 'company/rco', 'infisical', 'https://app.infisical.com', '{"project_id":"6a1b"}')$$, 'create an infisical resolver');
SELECT is((SELECT options->>'environment' FROM provsecret.resolvers WHERE name = 'inf1'), 'prod', 'infisical environment defaults to prod');
SELECT lives_ok($$SELECT provsecret.create_resolver('hj1', 'project/rp1', 'http-json', 'http://localhost:9000/secrets/')$$, 'create an http-json resolver (no token)');
SELECT is((SELECT options->>'pointer' FROM provsecret.resolvers WHERE name = 'hj1'), '/value', 'http-json pointer defaults to /value');
SELECT is((SELECT target || ' ' || kind || ' ' || coalesce(auth_reference, '-') FROM provsecret.resolvers WHERE name = 'v1'),
          'project/rp1 vault-kv2 managed:project/rp1/vault-token', 'the view shows target, kind and auth_reference');
SELECT is((SELECT count(*) FROM information_schema.columns WHERE table_schema = 'provsecret' AND table_name = 'resolvers'
            AND column_name IN ('token', 'secret', 'credential', 'password')), 0::bigint, 'the view has no credential column');

-- Refusals.
SELECT is(pg_temp.sqlstate_of($$SELECT provsecret.create_resolver('v1', 'project/rp1', 'http-json', 'http://127.0.0.1:1')$$), '42710', 'a duplicate name is 42710');
SELECT is(pg_temp.sqlstate_of($$SELECT provsecret.create_resolver('bad name', 'project/rp1', 'http-json', 'http://127.0.0.1:1')$$), '22023', 'a bad resolver name is 22023');
SELECT is(pg_temp.sqlstate_of($$SELECT provsecret.create_resolver('x1', 'project/rp1', 'vault', 'http://127.0.0.1:1')$$), '22023', 'an unknown kind is 22023');
SELECT is(pg_temp.sqlstate_of($$SELECT provsecret.create_resolver('x1', 'team/rp1', 'http-json', 'http://127.0.0.1:1')$$), '22023', 'a bad target is 22023');
SELECT is(pg_temp.sqlstate_of($$SELECT provsecret.create_resolver('x1', 'project/rp1', 'http-json', 'http://vault.example.com')$$), '42501', 'plain http to a host not in outbound_allowed_hosts is 42501');
SELECT is(pg_temp.sqlstate_of($$SELECT provsecret.create_resolver('x1', 'project/rp1', 'http-json', 'ftp://127.0.0.1/')$$), '22023', 'ftp:// is 22023');
SELECT ok(pg_temp.error_of($$SELECT provsecret.create_resolver('x1', 'project/rp1', 'http-json', 'https://user:canary-pw@vault.example.com')$$) ~ '^22023 .*user name or password'
          AND pg_temp.error_of($$SELECT provsecret.create_resolver('x1', 'project/rp1', 'http-json', 'https://user:canary-pw@vault.example.com')$$) NOT LIKE '%canary-pw%',
          'credentials in base_url are refused without being echoed');
SELECT is(pg_temp.sqlstate_of($$SELECT provsecret.create_resolver('x1', 'project/rp1', 'http-json', 'https://v.example.com/?token=abc')$$), '22023', 'a query in base_url is 22023');
SELECT is(pg_temp.sqlstate_of($$SELECT provsecret.create_resolver('x1', 'project/rp1', 'infisical', 'https://app.infisical.com')$$), '22023', 'infisical without project_id is 22023');
SELECT is(pg_temp.sqlstate_of($$SELECT provsecret.create_resolver('x1', 'project/rp1', 'vault-kv2', 'https://v.example.com', '{"timeout_ms":999999}')$$), '22023', 'timeout_ms out of bounds is 22023');
SELECT is(pg_temp.sqlstate_of($$SELECT provsecret.create_resolver('x1', 'project/rp1', 'vault-kv2', 'https://v.example.com', '{"pointer":"/x"}')$$), '22023', 'an option of another kind is 22023');
SELECT is(pg_temp.sqlstate_of($$SELECT provsecret.create_resolver('x1', 'project/rp1', 'vault-kv2', 'https://v.example.com', '{}', 'managed:project/other/tok')$$), '22023', 'auth_reference of another target is 22023');
SELECT is(pg_temp.sqlstate_of($$SELECT provsecret.create_resolver('x1', 'project/rp1', 'vault-kv2', 'https://v.example.com', '{}', 'managed:company/rco/tok')$$), '22023', 'auth_reference of the parent company is 22023 (same target only)');
SELECT is(pg_temp.sqlstate_of($$SELECT provsecret.create_resolver('x1', 'project/rp1', 'vault-kv2', 'https://v.example.com', '{}', 'external:v1/a')$$), '22023', 'an external: auth_reference is 22023');
SELECT is(pg_temp.sqlstate_of($$SELECT provsecret.create_resolver('x1', 'project/rp1', 'vault-kv2', 'https://v.example.com', '{}', 'env:VAULT_TOKEN')$$), '42501', 'an env: auth_reference off the allow list is 42501');

-- alter: NULL keeps, options replace, '' removes the token; the revision moves.
SELECT lives_ok($$SELECT provsecret.alter_resolver('v1', base_url => 'https://vault.example.com', options => '{"mount":"kv","timeout_ms":750}')$$, 'alter base_url and options');
SELECT is((SELECT base_url || ' ' || (options->>'mount') || ' ' || (options->>'timeout_ms') || ' ' || auth_reference || ' ' || revision FROM provsecret.resolvers WHERE name = 'v1'),
          'https://vault.example.com kv 750 managed:project/rp1/vault-token 2', 'alter changed what was given, kept the rest, bumped the revision');
SELECT lives_ok($$SELECT provsecret.alter_resolver('v1', auth_reference => '')$$, 'alter with auth_reference '''' removes the token');
SELECT is((SELECT auth_reference FROM provsecret.resolvers WHERE name = 'v1'), NULL, 'no auth_reference any more');
SELECT is(pg_temp.sqlstate_of($$SELECT provsecret.alter_resolver('hj1', kind => 'infisical')$$), '22023', 'changing the kind re-checks the options (infisical needs project_id)');
SELECT is(pg_temp.sqlstate_of($$SELECT provsecret.alter_resolver('nope', base_url => 'https://x.example.com')$$), 'P0002', 'altering an unknown resolver is P0002');

-- Permissions: manage to change; read too when a token is involved; describe to see.
CREATE ROLE pst_r_mgr;
CREATE ROLE pst_r_reader;
SELECT provsecret.grant('db:pst_r_mgr', 'project/rp1', ARRAY['manage']);
SELECT provsecret.grant('db:pst_r_reader', 'project/rp1', ARRAY['read']);
SET ROLE pst_r_mgr;
SELECT lives_ok($$SELECT provsecret.create_resolver('m1', 'project/rp1', 'http-json', 'https://h.example.com')$$, 'manage may create a resolver without a token');
SELECT is(pg_temp.sqlstate_of($$SELECT provsecret.alter_resolver('m1', auth_reference => 'managed:project/rp1/vault-token')$$), '42501', 'manage alone may not point a resolver at a token (read needed)');
SELECT is(pg_temp.sqlstate_of($$SELECT provsecret.create_resolver('m2', 'company/rco', 'http-json', 'https://h.example.com')$$), '42501', 'manage on a project is not manage on its company');
SELECT is((SELECT string_agg(name, ',' ORDER BY name) FROM provsecret.resolvers), 'hj1,m1,v1', 'the view shows the resolvers of the tenants one may describe');
RESET ROLE;
SET ROLE pst_r_reader;
SELECT is(pg_temp.sqlstate_of($$SELECT provsecret.drop_resolver('m1')$$), '42501', 'read may not drop a resolver');
SELECT is(pg_temp.sqlstate_of('SELECT * FROM provsecret.resolver'), '42501', 'the table itself is not readable');
RESET ROLE;

SELECT is(provsecret.drop_resolver('m1'), true, 'drop_resolver returns true when it existed');
SELECT is(provsecret.drop_resolver('m1'), false, 'and false the second time');

SELECT is((SELECT string_agg(action, ',' ORDER BY id) FROM provsecret.audit_log WHERE action LIKE 'resolver.%' AND detail LIKE 'resolver m1 %'),
          'resolver.created,resolver.dropped', 'created and dropped are audited');

SELECT * FROM finish();
ROLLBACK;
