-- references.sql: the reference grammar of DESIGN §3, through every function
-- that takes a reference (one parser used everywhere).  Malformed input is
-- 22023 with a message that never echoes more than the first 64 characters.
-- Runs as the superuser, so authorization never hides a grammar error.
-- psql settings, extensions, BEGIN, pg_temp.sqlstate_of() and
-- pg_temp.error_of(): test/data/helpers.psql
\getenv abs_srcdir PG_ABS_SRCDIR
\set helpers :abs_srcdir '/data/helpers.psql'
\i :helpers
SELECT plan(98);

SELECT lives_ok($$SELECT provsecret.register_company('refco')$$, 'register company refco');
SELECT lives_ok($$SELECT provsecret.register_project('refp', 'refco')$$, 'register project refp');
SELECT lives_ok($$SELECT provsecret.register_company(repeat('c', 128))$$, 'a 128-character company name is valid');
SELECT lives_ok($$SELECT provsecret.register_project(repeat('p', 128))$$, 'a 128-character project name is valid');
SELECT lives_ok($$SELECT provsecret.register_project('a.b-c_D9')$$, 'project names may hold . - _ and digits');
SELECT is(pg_temp.sqlstate_of('SELECT provsecret.register_company($1)', repeat('c', 129)), '22023', 'a 129-character company name is 22023');
SELECT is(pg_temp.sqlstate_of('SELECT provsecret.register_project($1)', repeat('p', 129)), '22023', 'a 129-character project name is 22023');
SELECT is(pg_temp.sqlstate_of('SELECT provsecret.register_project($1)', '-dash'), '22023', 'a project name must start with a letter or digit');

-- Valid managed: references are accepted and returned unchanged.
CREATE TEMP TABLE valid_ref (label text, ref text);
INSERT INTO valid_ref VALUES
    ('company secret',                 'managed:company/refco/openai'),
    ('project secret',                 'managed:project/refp/OPENAI_API_KEY'),
    ('name with . - _',                'managed:project/refp/LITELLM.key-2_b'),
    ('name starting with a digit',     'managed:project/refp/9lives'),
    ('128-character name',             'managed:project/refp/' || repeat('n', 128)),
    ('128-character company',          'managed:company/' || repeat('c', 128) || '/openai'),
    ('128-character project',          'managed:project/' || repeat('p', 128) || '/openai'),
    ('project with . - _',             'managed:project/a.b-c_D9/anthropic');
SELECT is(provsecret.seal(ref, 'canary-ref-value'), ref, 'seal accepts ' || label)
  FROM valid_ref ORDER BY label;
SELECT is(provsecret.resolve(ref), 'canary-ref-value', 'resolve accepts ' || label)
  FROM valid_ref ORDER BY label;

-- Names are case-sensitive: openai and OpenAI are two secrets.
SELECT is(provsecret.seal('managed:project/refp/OpenAI', 'canary-upper'), 'managed:project/refp/OpenAI', 'seal OpenAI next to openai');
SELECT is(provsecret.resolve('managed:project/refp/OpenAI'), 'canary-upper', 'OpenAI resolves to its own value');
SELECT is(pg_temp.sqlstate_of('SELECT provsecret.resolve($1)', 'managed:project/refp/openai'), 'P0002', 'openai (lower case) was never sealed in refp');

-- Malformed references: 22023 from seal, resolve and delete_secret.
CREATE TEMP TABLE bad_ref (label text, ref text);
INSERT INTO bad_ref VALUES
    ('empty string',                   ''),
    ('no scheme',                      'company/refco/openai'),
    ('unknown scheme',                 'vault:refco/openai'),
    ('upper-case scheme',              'Managed:company/refco/openai'),
    ('managed: alone',                 'managed:'),
    ('unknown scope',                  'managed:team/refco/openai'),
    ('missing name',                   'managed:company/refco'),
    ('empty owner',                    'managed:company//openai'),
    ('empty name',                     'managed:company/refco/'),
    ('extra segment',                  'managed:company/refco/openai/extra'),
    ('owner starting with -',          'managed:company/-refco/openai'),
    ('name starting with .',           'managed:project/refp/.env'),
    ('space in name',                  'managed:project/refp/open ai'),
    ('non-ASCII name',                 'managed:project/refp/cl' || chr(233) || 'f'),
    ('129-character name',             'managed:project/refp/' || repeat('n', 129)),
    ('129-character company',          'managed:company/' || repeat('c', 129) || '/openai'),
    ('129-character project',          'managed:project/' || repeat('p', 129) || '/openai'),
    ('leading space',                  ' managed:project/refp/openai'),
    ('trailing space',                 'managed:project/refp/openai '),
    ('trailing newline',               'managed:project/refp/openai' || chr(10)),
    ('control character',              'managed:project/refp/open' || chr(1) || 'ai'),
    ('.. as a name',                   'managed:project/refp/..');
SELECT is(pg_temp.sqlstate_of('SELECT provsecret.seal($1, $2)', ref, 'canary-bad-ref'), '22023', 'seal rejects ' || label)
  FROM bad_ref ORDER BY label;
SELECT is(pg_temp.sqlstate_of('SELECT provsecret.resolve($1)', ref), '22023', 'resolve rejects ' || label)
  FROM bad_ref WHERE label IN ('empty string', 'unknown scheme', 'missing name', '129-character name', 'trailing newline', 'non-ASCII name')
  ORDER BY label;
SELECT is(pg_temp.sqlstate_of('SELECT provsecret.delete_secret($1)', ref), '22023', 'delete_secret rejects ' || label)
  FROM bad_ref WHERE label IN ('empty string', 'extra segment', '129-character project', 'space in name')
  ORDER BY label;

-- seal only creates managed: secrets.
SELECT is(pg_temp.sqlstate_of('SELECT provsecret.seal($1, $2)', 'env:PS_TEST_ENV_CANARY', 'canary-env-seal'), '22023', 'seal rejects an env: reference');
SELECT is(pg_temp.sqlstate_of('SELECT provsecret.seal($1, $2)', 'external:vault/a/b', 'canary-ext-seal'), '22023', 'seal rejects an external: reference');

-- env:<NAME> is [A-Z_][A-Z0-9_]{0,127}.  A well-formed name that is not in
-- the (default empty) allowlist is 42501, a malformed one 22023.
SELECT is(current_setting('provsecret.env_allowlist'), '', 'env_allowlist is empty by default');
SELECT is(pg_temp.sqlstate_of('SELECT provsecret.resolve($1)', 'env:' || repeat('A', 128)), '42501', 'a 128-character env name is well-formed (not listed: 42501)');
SELECT is(pg_temp.sqlstate_of('SELECT provsecret.resolve($1)', 'env:_UNDERSCORE_1'), '42501', 'env names may start with _ (not listed: 42501)');
CREATE TEMP TABLE bad_env (label text, ref text);
INSERT INTO bad_env VALUES
    ('empty env name',                 'env:'),
    ('lower-case env name',            'env:openai_key'),
    ('env name starting with a digit', 'env:1KEY'),
    ('dash in env name',               'env:MY-KEY'),
    ('129-character env name',         'env:' || repeat('A', 129)),
    ('env name with a space',          'env:MY KEY');
SELECT is(pg_temp.sqlstate_of('SELECT provsecret.resolve($1)', ref), '22023', 'resolve rejects ' || label)
  FROM bad_env ORDER BY label;

-- external:<resolver>/<path>[#field]: well-formed names a resolver, which
-- does not exist here (P0002); malformed is 22023.
CREATE TEMP TABLE good_ext (label text, ref text);
INSERT INTO good_ext VALUES
    ('simple external',                'external:vault/team/openai'),
    ('external with #field',           'external:vault/team/openai#password'),
    ('128-character resolver',         'external:' || repeat('r', 128) || '/a'),
    ('512-character path',             'external:vault/' || repeat('a', 512)),
    ('path with a..b',                 'external:vault/a..b/c');
SELECT is(pg_temp.sqlstate_of('SELECT provsecret.resolve($1)', ref), 'P0002', 'resolve: ' || label || ' is well-formed (no such resolver)')
  FROM good_ext ORDER BY label;
CREATE TEMP TABLE bad_ext (label text, ref text);
INSERT INTO bad_ext VALUES
    ('external: alone',                'external:'),
    ('no path',                        'external:vault'),
    ('empty path',                     'external:vault/'),
    ('empty resolver',                 'external:/a/b'),
    ('129-character resolver',         'external:' || repeat('r', 129) || '/a'),
    ('513-character path',             'external:vault/' || repeat('a', 513)),
    ('.. as the path',                 'external:vault/..'),
    ('leading .. segment',             'external:vault/../etc/passwd'),
    ('inner .. segment',               'external:vault/a/../b'),
    ('trailing .. segment',            'external:vault/a/..'),
    ('tab in path',                    'external:vault/a' || chr(9) || 'b'),
    ('newline in path',                'external:vault/a' || chr(10) || 'b'),
    ('DEL in path',                    'external:vault/a' || chr(127) || 'b'),
    ('non-ASCII path',                 'external:vault/caf' || chr(233));
SELECT is(pg_temp.sqlstate_of('SELECT provsecret.resolve($1)', ref), '22023', 'resolve rejects ' || label)
  FROM bad_ext ORDER BY label;

-- Non-UTF-8 bytes cannot reach the parser through SQL in a UTF8 database
-- (PostgreSQL rejects them with 22021 first): test/unit/reference_bytes_test.c
-- and test/t/070_non_utf8.pl (a SQL_ASCII database) cover them.  NULL is not
-- a reference.
SELECT is(pg_temp.sqlstate_of('SELECT provsecret.seal($1, $2)', NULL, 'canary-null-ref'), '22023', 'seal(NULL, value) is 22023');
SELECT ok(pg_temp.sqlstate_of('SELECT provsecret.resolve($1) IS NULL', NULL) IN ('00000', '22023'), 'resolve(NULL) is NULL or 22023, never a crash');

-- A megabyte of reference is refused like any other malformed one.
SELECT is(pg_temp.sqlstate_of('SELECT provsecret.resolve($1)', 'managed:project/refp/' || repeat('a', 1048576)), '22023', 'a 1 MB reference is 22023');
SELECT is(pg_temp.sqlstate_of('SELECT provsecret.resolve($1)', 'external:vault/' || repeat('a/', 524288)), '22023', 'a 1 MB external path is 22023');

-- Error messages name the rule and never echo more than 64 characters.
SELECT ok(pg_temp.error_of('SELECT provsecret.resolve($1)', 'managed:project/refp/' || repeat('x', 50) || 'ECHOTAIL' || repeat('y', 100)) NOT LIKE '%ECHOTAIL%', 'an over-long reference is not echoed past 64 characters');
SELECT ok(pg_temp.error_of('SELECT provsecret.seal($1, $2)', 'managed:project/refp/' || repeat('x', 60) || ' TAIL!', 'canary-echo') NOT LIKE '%TAIL!%', 'a bad character past 64 characters is not echoed');
SELECT ok(pg_temp.error_of('SELECT provsecret.seal($1, $2)', 'managed:project/refp/' || repeat('x', 60) || ' TAIL!', 'canary-echo') NOT LIKE '%canary-echo%', 'the value is not in the error of a malformed reference');
SELECT matches(split_part(pg_temp.error_of('SELECT provsecret.resolve($1)', 'managed:project/refp/' || repeat('n', 129)), E'\n', 2), '(127|128|long|length)', 'the message for a 129-character name names the length rule');
SELECT matches(split_part(pg_temp.error_of('SELECT provsecret.resolve($1)', 'external:vault/a/../b'), E'\n', 2), '(\.\.|segment|travers)', 'the message for a .. segment names the rule');

SELECT * FROM finish();
ROLLBACK;
