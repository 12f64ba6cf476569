-- search_path.sql: statements run with elevated rights resolve every
-- operator in pg_catalog, so operators a caller puts ahead of pg_catalog on
-- search_path are never called by them (DESIGN "Who a query runs as").
\pset format unaligned
\pset tuples_only true
\pset pager off
\set VERBOSITY terse
\set ON_ERROR_ROLLBACK on
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS provsecret;
BEGIN;
CREATE FUNCTION pg_temp.error_of(sql text, a1 text DEFAULT NULL,
    a2 text DEFAULT NULL) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE sql USING a1, a2;
    RETURN NULL;
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ' ' || SQLERRM;
END $$;
SELECT plan(6);

-- Operators that must never run: each raises when called.
CREATE SCHEMA pst_hostile;
CREATE FUNCTION pst_hostile.hijacked(text, text) RETURNS boolean
LANGUAGE plpgsql AS $$BEGIN RAISE EXCEPTION 'hijacked text operator'; END$$;
CREATE FUNCTION pst_hostile.hijacked(bigint, bigint) RETURNS boolean
LANGUAGE plpgsql AS $$BEGIN RAISE EXCEPTION 'hijacked bigint operator'; END$$;
CREATE FUNCTION pst_hostile.hijacked(timestamptz, timestamptz) RETURNS boolean
LANGUAGE plpgsql AS $$BEGIN RAISE EXCEPTION 'hijacked timestamptz operator'; END$$;
CREATE OPERATOR pst_hostile.= (LEFTARG = text, RIGHTARG = text, FUNCTION = pst_hostile.hijacked);
CREATE OPERATOR pst_hostile.< (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = pst_hostile.hijacked);
CREATE OPERATOR pst_hostile.<= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = pst_hostile.hijacked);
CREATE OPERATOR pst_hostile.>= (LEFTARG = timestamptz, RIGHTARG = timestamptz, FUNCTION = pst_hostile.hijacked);

SELECT lives_ok($$SELECT provsecret.register_project('sp_p1', 'sp_co')$$, 'project sp_p1 in company sp_co');
SELECT lives_ok($$SELECT provsecret.seal('managed:project/sp_p1/K', 'canary-search-path')$$, 'seal a secret');
-- another tenant's key, so shred compares rows that are not the company's
SELECT lives_ok($$SELECT provsecret.seal('managed:project/sp_solo/K', 'canary-search-path-2')$$, 'seal a secret elsewhere');
-- a reveal: the audit chain has events and a chain key for audit_retain
SELECT provsecret.resolve('managed:project/sp_p1/K') IS NOT NULL;

CREATE TEMP TABLE pst_outcome (what text, error text);
SET search_path = pst_hostile, pg_catalog;
INSERT INTO pst_outcome SELECT 'shred', pg_temp.error_of('SELECT provsecret.shred($1, $2)', 'company/sp_co', 'company/sp_co');
INSERT INTO pst_outcome SELECT 'audit_retain', pg_temp.error_of('SELECT provsecret.audit_retain(''1 millisecond'')');
RESET search_path;

SELECT is((SELECT error FROM pst_outcome WHERE what = 'shred'), NULL,
          'shred calls no operator from the caller''s search_path');
SELECT is((SELECT error FROM pst_outcome WHERE what = 'audit_retain'), NULL,
          'audit_retain calls no operator from the caller''s search_path');
SELECT is(provsecret.resolve('managed:project/sp_solo/K'), 'canary-search-path-2', 'the other tenant''s secret is untouched');

SELECT * FROM finish();
ROLLBACK;
