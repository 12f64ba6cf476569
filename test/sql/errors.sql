-- errors.sql: every SQLSTATE of DESIGN §4 reachable from SQL, and error
-- texts (message, detail, hint) that never contain the value.
--   22023 malformed argument      42501 permission denied
--   P0002 secret not found        22001 value over 10,000 characters
--   P0002 external: through a resolver that does not exist
--   XX001 ciphertext fails authentication (copied or altered by a superuser)
--   55000 a data key wrapped by a root key the server does not hold
-- (a missing key, deployed mode without a key and the development key need
-- a restart: see test/t).
-- psql settings, extensions, BEGIN, pg_temp.sqlstate_of() and
-- pg_temp.error_of(): test/data/helpers.psql
\getenv abs_srcdir PG_ABS_SRCDIR
\set helpers :abs_srcdir '/data/helpers.psql'
\i :helpers
SELECT plan(43);

SELECT lives_ok($$SELECT provsecret.register_company('errco')$$, 'register company errco');
SELECT lives_ok($$SELECT provsecret.register_project('errp', 'errco')$$, 'register project errp');
SELECT lives_ok($$SELECT provsecret.register_project('errq', 'errco')$$, 'register project errq');
SELECT lives_ok($$SELECT provsecret.register_project('erroth')$$, 'register project erroth');
SELECT lives_ok($$SELECT provsecret.seal('managed:project/errp/A', 'canary-err-a')$$, 'seal errp/A');
SELECT lives_ok($$SELECT provsecret.seal('managed:project/errp/B', 'canary-err-b')$$, 'seal errp/B');
SELECT lives_ok($$SELECT provsecret.seal('managed:project/erroth/C', 'canary-err-c')$$, 'seal erroth/C');

-- 22023: malformed references and arguments.
SELECT throws_ok($$SELECT provsecret.resolve('managed:nope')$$, '22023', NULL, 'malformed reference: 22023');
SELECT throws_ok($$SELECT provsecret.grant('db:postgres', 'team/errco', ARRAY['read'])$$, '22023', NULL, 'malformed grant target: 22023');
SELECT throws_ok($$SELECT provsecret.grant('db:postgres', 'project/errp', ARRAY['fly'])$$, '22023', NULL, 'unknown permission: 22023');
SELECT throws_ok($$SELECT provsecret.grant('postgres', 'project/errp', ARRAY['read'])$$, '22023', NULL, 'principal without a kind: 22023');
SELECT throws_ok($$SELECT provsecret.revoke('db:postgres', 'project/', ARRAY['read'])$$, '22023', NULL, 'malformed revoke target: 22023');
SELECT ok(pg_temp.error_of('SELECT provsecret.seal($1, $2)', 'managed:project/errp/bad name', 'canary-err-22023') NOT LIKE '%canary-err-22023%', '22023 error text does not contain the value');

-- 22001: over 10,000 characters; the text does not contain the value.
SELECT is(pg_temp.sqlstate_of('SELECT provsecret.seal($1, $2)', 'managed:project/errp/A', repeat('canary-long.', 834)), '22001', '10,008 characters: 22001');
SELECT ok(pg_temp.error_of('SELECT provsecret.seal($1, $2)', 'managed:project/errp/A', repeat('canary-long.', 834)) NOT LIKE '%canary-long%', '22001 error text does not contain the value');

-- P0002: well-formed, allowed, absent.
SELECT throws_ok($$SELECT provsecret.resolve('managed:project/errp/MISSING')$$, 'P0002', NULL, 'missing secret: P0002');
SELECT throws_ok($$SELECT provsecret.resolve('managed:company/errco/MISSING')$$, 'P0002', NULL, 'missing company secret: P0002');

-- P0002: external: through a resolver that does not exist (never a crash).
SELECT throws_ok($$SELECT provsecret.resolve('external:vault/team/openai')$$, 'P0002', 'resolver vault not found', 'external: with an unknown resolver is P0002');
SELECT is(provsecret.resolve('managed:project/errp/A'), 'canary-err-a', 'the session still works after it');

-- 42501: a role without any grant.
CREATE ROLE pst_err_nobody;
SET ROLE pst_err_nobody;
SELECT throws_ok($$SELECT provsecret.resolve('managed:project/errp/A')$$, '42501', NULL, 'resolve without a grant: 42501');
SELECT is(pg_temp.sqlstate_of('SELECT provsecret.seal($1, $2)', 'managed:project/errp/A', 'canary-err-42501'), '42501', 'seal without a grant: 42501');
SELECT ok(pg_temp.error_of('SELECT provsecret.seal($1, $2)', 'managed:project/errp/A', 'canary-err-42501') NOT LIKE '%canary-err-42501%', '42501 error text does not contain the value');
SELECT ok(pg_temp.error_of('SELECT provsecret.resolve($1)', 'managed:project/errp/A') NOT LIKE '%canary-err-a%', '42501 error of resolve does not contain the stored value');
SELECT throws_ok($$SELECT provsecret.delete_secret('managed:project/errp/A')$$, '42501', NULL, 'delete_secret without a grant: 42501');
SELECT throws_ok($$SELECT provsecret.grant('db:pst_err_nobody', 'project/errp', ARRAY['read'])$$, '42501', NULL, 'granting oneself without manage: 42501');
SELECT throws_ok($$SELECT provsecret.register_project('errnew')$$, '42501', NULL, 'register_project without manage or provsecret_admin: 42501');
SELECT throws_ok($$SELECT ciphertext FROM provsecret.ai_provider_secret$$, '42501', NULL, 'direct SELECT of the secret table: 42501');
RESET ROLE;
SELECT is(provsecret.resolve('managed:project/errp/A'), 'canary-err-a', 'refused calls changed nothing');

-- XX001: a ciphertext copied to another row, or altered, fails
-- authentication (the associated data binds reference, scope and version).
CREATE TEMP TABLE saved AS
    SELECT reference, ciphertext FROM provsecret.ai_provider_secret;
UPDATE provsecret.ai_provider_secret
   SET ciphertext = (SELECT ciphertext FROM saved WHERE reference = 'managed:project/errp/A')
 WHERE reference = 'managed:project/errp/B';
SELECT throws_ok($$SELECT provsecret.resolve('managed:project/errp/B')$$, 'XX001', NULL, 'ciphertext of A copied into B (same data key, same version): XX001');
SELECT ok(pg_temp.error_of('SELECT provsecret.resolve($1)', 'managed:project/errp/B') !~ 'canary-err-[ab]', 'the XX001 text contains neither value');
UPDATE provsecret.ai_provider_secret
   SET ciphertext = (SELECT ciphertext FROM saved WHERE reference = 'managed:project/errp/A')
 WHERE reference = 'managed:project/erroth/C';
SELECT throws_ok($$SELECT provsecret.resolve('managed:project/erroth/C')$$, 'XX001', NULL, 'ciphertext copied into another tenant: XX001');
UPDATE provsecret.ai_provider_secret
   SET ciphertext = set_byte(ciphertext, length(ciphertext) - 1, get_byte(ciphertext, length(ciphertext) - 1) # 1)
 WHERE reference = 'managed:project/errp/A';
SELECT throws_ok($$SELECT provsecret.resolve('managed:project/errp/A')$$, 'XX001', NULL, 'one flipped bit: XX001');
-- An older ciphertext of the same row replayed after a rotation.
SELECT lives_ok($$SELECT provsecret.seal('managed:project/errq/D', 'canary-err-d1')$$, 'seal errq/D');
CREATE TEMP TABLE saved_d AS
    SELECT ciphertext FROM provsecret.ai_provider_secret WHERE reference = 'managed:project/errq/D';
SELECT lives_ok($$SELECT provsecret.seal('managed:project/errq/D', 'canary-err-d2')$$, 'rotate errq/D');
UPDATE provsecret.ai_provider_secret SET ciphertext = (SELECT ciphertext FROM saved_d)
 WHERE reference = 'managed:project/errq/D';
SELECT throws_ok($$SELECT provsecret.resolve('managed:project/errq/D')$$, 'XX001', NULL, 'version 1 ciphertext replayed as version 2: XX001');
-- Restoring the right ciphertext makes it readable again: the errors above
-- came from the copy, not from a broken key.
UPDATE provsecret.ai_provider_secret s SET ciphertext = saved.ciphertext
  FROM saved WHERE s.reference = saved.reference;
SELECT is(provsecret.resolve('managed:project/errp/B'), 'canary-err-b', 'B resolves again with its own ciphertext');

-- 55000: the data key of erroth names a root key the server does not hold
-- (as after a root key change): a clear key error with a hint, never
-- "invalid ciphertext".  A data key altered or moved to another tenant
-- fails authentication (XX001).
CREATE TEMP TABLE saved_keys AS SELECT id, root_key_fingerprint, wrapped_key FROM provsecret.data_key;
UPDATE provsecret.data_key SET root_key_fingerprint = 'ffffffffffffffff'
 WHERE id = (SELECT data_key_id FROM provsecret.ai_provider_secret WHERE reference = 'managed:project/erroth/C');
SELECT throws_ok($$SELECT provsecret.resolve('managed:project/erroth/C')$$, '55000', NULL, 'a data key under another root key: 55000');
SELECT ok(pg_temp.error_of('SELECT provsecret.resolve($1)', 'managed:project/erroth/C') LIKE '%CLOUDGRID_PROVIDER_SECRET_ENCRYPTION_KEY%', 'the 55000 hint says which variable to set');
SELECT ok(pg_temp.error_of('SELECT provsecret.resolve($1)', 'managed:project/erroth/C') !~ '(canary-err-c|00112233445566778899aabbccddeeff)', 'the 55000 text contains neither the value nor the root key');
SELECT is(pg_temp.sqlstate_of('SELECT provsecret.seal($1, $2)', 'managed:project/erroth/C2', 'canary-err-c2'), '55000', 'sealing under that data key is 55000 too');
UPDATE provsecret.data_key k SET root_key_fingerprint = saved_keys.root_key_fingerprint,
       wrapped_key = set_byte(saved_keys.wrapped_key, 30, get_byte(saved_keys.wrapped_key, 30) # 1)
  FROM saved_keys WHERE k.id = saved_keys.id;
SELECT throws_ok($$SELECT provsecret.resolve('managed:project/erroth/C')$$, 'XX001', NULL, 'an altered wrapped data key: XX001');
UPDATE provsecret.data_key k SET wrapped_key = (SELECT wrapped_key FROM saved_keys o
                                                 WHERE o.id = (SELECT data_key_id FROM provsecret.ai_provider_secret WHERE reference = 'managed:project/errp/A'))
 WHERE k.id = (SELECT data_key_id FROM provsecret.ai_provider_secret WHERE reference = 'managed:project/erroth/C');
SELECT throws_ok($$SELECT provsecret.resolve('managed:project/erroth/C')$$, 'XX001', NULL, 'another tenant''s wrapped data key: XX001');
UPDATE provsecret.data_key k SET root_key_fingerprint = saved_keys.root_key_fingerprint, wrapped_key = saved_keys.wrapped_key
  FROM saved_keys WHERE k.id = saved_keys.id;
SELECT is(provsecret.resolve('managed:project/erroth/C'), 'canary-err-c', 'with its own data key restored, C resolves again');

SELECT * FROM finish();
ROLLBACK;
