-- views.sql: the views of DESIGN §4 and §7 show metadata only; no view and
-- no table ever holds a value in plaintext (DESIGN §5).
-- psql settings, extensions, BEGIN, pg_temp.sqlstate_of() and
-- pg_temp.error_of(): test/data/helpers.psql
\getenv abs_srcdir PG_ABS_SRCDIR
\set helpers :abs_srcdir '/data/helpers.psql'
\i :helpers
SELECT plan(17);

SELECT has_view('provsecret', 'secrets', 'view secrets exists');
SELECT has_view('provsecret', 'grants', 'view grants exists');
SELECT has_view('provsecret', 'audit_log', 'view audit_log exists');
SELECT has_view('provsecret', 'key_status', 'view key_status exists');
SELECT columns_are('provsecret', 'secrets',
    ARRAY['reference', 'scope', 'company', 'project', 'name', 'description', 'value_version',
          'created_at', 'created_by', 'updated_at', 'updated_by'],
    'secrets has exactly the metadata columns of the contract');
-- DESIGN §7's columns, plus the detail column added in docs/DESIGN.md.
SELECT columns_are('provsecret', 'audit_log',
    ARRAY['id', 'at', 'action', 'reference', 'company', 'project', 'principal', 'channel',
          'client_addr', 'request_id', 'value_version', 'outcome', 'count', 'detail'],
    'audit_log has exactly the columns of the contract');
SELECT columns_are('provsecret', 'key_status',
    ARRAY['root_key_fingerprint', 'root_key', 'data_keys', 'secrets', 'kept_versions',
          'retired_data_keys', 'rotating_tenants'],
    'key_status has the columns of docs/DESIGN.md');
SELECT is((SELECT count(*) FROM information_schema.columns
            WHERE table_schema = 'provsecret'
              AND table_name IN ('secrets', 'grants', 'audit_log', 'key_status')
              AND (data_type = 'bytea' OR column_name ~* 'cipher|wrapped|plain|value$')),
          0::bigint, 'no view has a ciphertext, key or value column');

SELECT lives_ok($$SELECT provsecret.register_company('viewco')$$, 'register company viewco');
SELECT lives_ok($$SELECT provsecret.register_project('viewp', 'viewco')$$, 'register project viewp');
SELECT lives_ok($$SELECT provsecret.seal('managed:project/viewp/K', 'canary-view-plaintext', 'view test')$$, 'seal a canary');
SELECT lives_ok($$SELECT provsecret.seal('managed:company/viewco/K', 'canary-view-plaintext')$$, 'seal it again in the company');
SELECT is(provsecret.resolve('managed:project/viewp/K'), 'canary-view-plaintext', 'it resolves');
SELECT results_eq($$SELECT root_key, data_keys, secrets FROM provsecret.key_status$$,
                  $$VALUES ('current'::text, 1::bigint, 2::numeric)$$,
                  'key_status: one data key (the company''s, used by its project too) and two secrets');

-- Search every row of every view and table of the schema for the plaintext,
-- as text and as the hex of its bytes (how bytea columns print).
CREATE FUNCTION pg_temp.rows_containing(needle text) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    rel record;
    n bigint;
    total bigint := 0;
BEGIN
    FOR rel IN SELECT c.oid::regclass AS name FROM pg_class c
                 JOIN pg_namespace s ON s.oid = c.relnamespace
                WHERE s.nspname = 'provsecret' AND c.relkind IN ('r', 'v', 'm', 'p')
    LOOP
        EXECUTE format('SELECT count(*) FROM %s t WHERE t::text LIKE $1 OR t::text LIKE $2', rel.name)
           INTO n USING '%' || needle || '%', '%' || encode(convert_to(needle, 'UTF8'), 'hex') || '%';
        total := total + n;
    END LOOP;
    RETURN total;
END $$;
SELECT ok(pg_temp.rows_containing('managed:project/viewp/K') > 0, 'the search finds what is there (the reference)');
SELECT is(pg_temp.rows_containing('canary-view-plaintext'), 0::bigint, 'no row of any provsecret table or view contains the plaintext');
SELECT is((SELECT count(*) FROM provsecret.ai_provider_secret
            WHERE position(convert_to('canary-view-plaintext', 'UTF8') IN ciphertext) > 0), 0::bigint, 'no ciphertext contains the plaintext bytes');

SELECT * FROM finish();
ROLLBACK;
