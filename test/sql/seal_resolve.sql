-- seal_resolve.sql: seal / resolve / rotate / delete_secret round trips
-- (DESIGN §4): the reference is stable, rotation bumps value_version, the
-- value limit is 10,000 characters (not bytes), delete is idempotent.
-- psql settings, extensions, BEGIN, pg_temp.sqlstate_of() and
-- pg_temp.error_of(): test/data/helpers.psql
\getenv abs_srcdir PG_ABS_SRCDIR
\set helpers :abs_srcdir '/data/helpers.psql'
\i :helpers
SELECT plan(41);

SELECT lives_ok($$SELECT provsecret.register_company('sealco')$$, 'register company sealco');
SELECT lives_ok($$SELECT provsecret.register_project('sealp', 'sealco')$$, 'register project sealp in sealco');
SELECT lives_ok($$SELECT provsecret.register_project('sealsolo')$$, 'register project sealsolo without a company');

-- Round trips in each scope.
SELECT is(provsecret.seal('managed:project/sealp/OPENAI_API_KEY', 'canary-seal-v1', 'demo key'),
          'managed:project/sealp/OPENAI_API_KEY', 'seal returns the reference');
SELECT is(provsecret.resolve('managed:project/sealp/OPENAI_API_KEY'), 'canary-seal-v1', 'resolve returns the sealed value');
SELECT is(provsecret.seal('managed:company/sealco/openai', 'canary-company-value'),
          'managed:company/sealco/openai', 'seal a company secret');
SELECT is(provsecret.resolve('managed:company/sealco/openai'), 'canary-company-value', 'resolve a company secret');
SELECT is(provsecret.seal('managed:project/sealsolo/anthropic', 'canary-solo-value'),
          'managed:project/sealsolo/anthropic', 'seal in a project without a company');
SELECT is(provsecret.resolve('managed:project/sealsolo/anthropic'), 'canary-solo-value', 'resolve in a project without a company');
SELECT is(provsecret.resolve('managed:project/sealp/OPENAI_API_KEY'), 'canary-seal-v1', 'sealing other secrets leaves the first one intact');

-- Metadata after the first seal.
SELECT results_eq(
    $$SELECT reference, scope, company, project, name, description, value_version
        FROM provsecret.secrets WHERE reference = 'managed:project/sealp/OPENAI_API_KEY'$$,
    $$VALUES ('managed:project/sealp/OPENAI_API_KEY'::text, 'project'::text, 'sealco'::text,
              'sealp'::text, 'OPENAI_API_KEY'::text, 'demo key'::text, 1)$$,
    'the secrets view describes the new secret (company filled from the project)');
SELECT results_eq(
    $$SELECT scope, company, project, name FROM provsecret.secrets
       WHERE reference = 'managed:company/sealco/openai'$$,
    $$VALUES ('company'::text, 'sealco'::text, NULL::text, 'openai'::text)$$,
    'a company secret has no project');
SELECT is((SELECT created_by FROM provsecret.secrets WHERE reference = 'managed:project/sealp/OPENAI_API_KEY'),
          'db:' || current_user, 'created_by is the caller''s principal');

-- Rotation keeps the reference and bumps value_version.
SELECT is(provsecret.seal('managed:project/sealp/OPENAI_API_KEY', 'canary-seal-v2'),
          'managed:project/sealp/OPENAI_API_KEY', 'rotation returns the same reference');
SELECT is(provsecret.resolve('managed:project/sealp/OPENAI_API_KEY'), 'canary-seal-v2', 'resolve returns the rotated value');
SELECT is((SELECT value_version FROM provsecret.secrets WHERE reference = 'managed:project/sealp/OPENAI_API_KEY'),
          2, 'rotation bumps value_version to 2');
SELECT is((SELECT description FROM provsecret.secrets WHERE reference = 'managed:project/sealp/OPENAI_API_KEY'),
          'demo key', 'rotation without a description keeps the description');
SELECT is((SELECT count(*) FROM provsecret.secrets WHERE name = 'OPENAI_API_KEY' AND project = 'sealp'),
          1::bigint, 'rotation does not create a second secret');
SELECT lives_ok($$SELECT provsecret.seal('managed:project/sealp/OPENAI_API_KEY', 'canary-seal-v3', 'new text')$$, 'rotate with a description');
SELECT results_eq(
    $$SELECT description, value_version FROM provsecret.secrets
       WHERE reference = 'managed:project/sealp/OPENAI_API_KEY'$$,
    $$VALUES ('new text'::text, 3)$$,
    'a description given on rotation replaces the old one; value_version 3');

-- The limit is 10,000 characters, not bytes.
SELECT lives_ok($$SELECT provsecret.seal('managed:project/sealp/BIG_ASCII', repeat('a', 10000))$$, '10,000 ASCII characters are accepted');
SELECT is(provsecret.resolve('managed:project/sealp/BIG_ASCII'), repeat('a', 10000), '10,000 ASCII characters round-trip');
SELECT lives_ok($$SELECT provsecret.seal('managed:project/sealp/BIG_2BYTE', repeat(chr(233), 10000))$$, '10,000 two-byte characters (20,000 bytes) are accepted');
SELECT is(provsecret.resolve('managed:project/sealp/BIG_2BYTE'), repeat(chr(233), 10000), '10,000 two-byte characters round-trip');
SELECT lives_ok($$SELECT provsecret.seal('managed:project/sealp/BIG_4BYTE', repeat(chr(128273), 10000))$$, '10,000 four-byte characters (40,000 bytes) are accepted');
SELECT is(provsecret.resolve('managed:project/sealp/BIG_4BYTE'), repeat(chr(128273), 10000), '10,000 four-byte characters round-trip');
SELECT is(pg_temp.sqlstate_of('SELECT provsecret.seal($1, $2)', 'managed:project/sealp/TOO_BIG', repeat('a', 10001)), '22001', '10,001 ASCII characters are 22001');
SELECT is(pg_temp.sqlstate_of('SELECT provsecret.seal($1, $2)', 'managed:project/sealp/TOO_BIG', repeat(chr(233), 10001)), '22001', '10,001 two-byte characters are 22001');
SELECT is(pg_temp.sqlstate_of('SELECT provsecret.seal($1, $2)', 'managed:project/sealp/BIG_ASCII', repeat('b', 10001)), '22001', 'rotating to 10,001 characters is 22001');
SELECT is(provsecret.resolve('managed:project/sealp/BIG_ASCII'), repeat('a', 10000), 'a refused rotation leaves the value unchanged');
SELECT is(pg_temp.sqlstate_of('SELECT provsecret.resolve($1)', 'managed:project/sealp/TOO_BIG'), 'P0002', 'a refused seal creates nothing');
SELECT is(pg_temp.sqlstate_of('SELECT provsecret.seal($1, $2)', 'managed:project/sealp/NULL_VALUE', NULL), '22023', 'a NULL value is 22023');

-- A value with every kind of character survives exactly.
SELECT lives_ok($$SELECT provsecret.seal('managed:project/sealp/ODD', E'canary \\ '' " \t\n' || chr(8364) || ' end')$$, 'seal a value with quotes, escapes and a euro sign');
SELECT is(provsecret.resolve('managed:project/sealp/ODD'), E'canary \\ '' " \t\n' || chr(8364) || ' end', 'it resolves byte for byte');

-- delete_secret is idempotent and the secret is gone.
SELECT is(provsecret.delete_secret('managed:project/sealp/OPENAI_API_KEY'), true, 'delete_secret returns true when it deleted');
SELECT is(provsecret.delete_secret('managed:project/sealp/OPENAI_API_KEY'), false, 'delete_secret again returns false');
SELECT is(provsecret.delete_secret('managed:project/sealp/NEVER_SEALED'), false, 'delete_secret of a missing secret returns false');
SELECT is(pg_temp.sqlstate_of('SELECT provsecret.resolve($1)', 'managed:project/sealp/OPENAI_API_KEY'), 'P0002', 'a deleted secret is P0002');
SELECT is((SELECT count(*) FROM provsecret.secrets WHERE reference = 'managed:project/sealp/OPENAI_API_KEY'), 0::bigint, 'a deleted secret leaves the secrets view');
SELECT is(provsecret.seal('managed:project/sealp/OPENAI_API_KEY', 'canary-reborn'), 'managed:project/sealp/OPENAI_API_KEY', 'a deleted reference can be sealed again');
SELECT is(provsecret.resolve('managed:project/sealp/OPENAI_API_KEY'), 'canary-reborn', 'and resolves to its new value');

SELECT * FROM finish();
ROLLBACK;
