-- isolation.sql: resolve() reads with one index probe (secret_fetch.c); it
-- must still see what the same transaction sealed, at every isolation level,
-- including earlier in the same statement.
\pset format unaligned
\pset tuples_only true
\pset pager off
\set VERBOSITY terse
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS provsecret;
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT plan(5);
SELECT is(provsecret.seal('managed:project/iso/a', 'canary-iso-1'), 'managed:project/iso/a', 'seal in a repeatable read transaction');
SELECT is(provsecret.resolve('managed:project/iso/a'), 'canary-iso-1', 'the next statement resolves it');
SELECT is(s || ' ' || r, 'managed:project/iso/a canary-iso-2', 'a rotation earlier in the same statement is seen')
  FROM (SELECT provsecret.seal('managed:project/iso/a', 'canary-iso-2') AS s) x,
       LATERAL (SELECT provsecret.resolve('managed:project/iso/a') AS r WHERE x.s IS NOT NULL) y;
SAVEPOINT before_delete;
SELECT ok(provsecret.delete_secret('managed:project/iso/a'), 'deleted in a savepoint');
ROLLBACK TO before_delete;
SELECT is(provsecret.resolve('managed:project/iso/a'), 'canary-iso-2', 'the rolled-back delete is not seen');
SELECT * FROM finish();
ROLLBACK;
