// Check-and-set on the native REST surface: If-Match, ETag, 412.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { spawn } from 'node:child_process';
import { api, grant, sql, token, waitFor, PGBIN, PGPORT, TMP } from '../lib/env.mjs';

const WS = '/v1/workspaces/cas-ws/secrets';
let tok;
let reader;

const digest = (s) => createHash('sha256').update(s).digest('hex');

before(async () => {
  grant('cas', 'cas-ws', ['read', 'write', 'delete', 'describe']);
  grant('cas-reader', 'cas-ws', ['read']);
  sql("SELECT provsecret.register_company('cas-co')");
  sql("SELECT provsecret.grant('user:cas', 'company/cas-co', ARRAY['read','write','delete','describe'])");
  tok = await token('cas');
  reader = await token('cas-reader');
});

function is412(r) {
  assert.equal(r.status, 412, r.text);
  assert.equal(r.json.error.code, 'precondition_failed');
  assert.equal(typeof r.json.error.message, 'string');
  assert.equal(r.headers.get('etag'), null, 'no ETag on an error');
}

const put = (path, value, ifMatch) =>
  api('PUT', path, { tok, body: { value }, headers: ifMatch === undefined ? {} : { 'if-match': ifMatch } });

test('every PUT and GET of an item answers ETag: "<value_version>"', async () => {
  let r = await put(`${WS}/TAGGED`, 'canary-tag-1');
  assert.equal(r.status, 201);
  assert.equal(r.headers.get('etag'), '"1"');
  r = await put(`${WS}/TAGGED`, 'canary-tag-2');
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('etag'), '"2"');
  r = await api('GET', `${WS}/TAGGED`, { tok: reader });
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('etag'), '"2"');
  r = await api('GET', WS, { tok });
  assert.equal(r.headers.get('etag'), null, 'a listing has no ETag');
  const p = '/v1/companies/cas-co/provider-secrets/openai';
  r = await api('PUT', p, { tok, body: { credentialValue: 'canary-prov-1' } });
  assert.equal(r.headers.get('etag'), '"1"');
  r = await api('GET', p, { tok });
  assert.equal(r.headers.get('etag'), '"1"');
  assert.equal(r.json.valueVersion, 1);
});

test('a matching If-Match writes; a stale one is 412 and writes nothing', async () => {
  let r = await put(`${WS}/CAS`, 'canary-cas-1');
  assert.equal(r.status, 201);
  r = await put(`${WS}/CAS`, 'canary-cas-2', '"1"');
  assert.equal(r.status, 200, r.text);
  assert.equal(r.headers.get('etag'), '"2"');
  is412(await put(`${WS}/CAS`, 'canary-cas-lost', '"1"'));
  r = await api('GET', `${WS}/CAS`, { tok });
  assert.equal(r.headers.get('etag'), '"2"');
  assert.equal(digest(r.json.value), digest('canary-cas-2'), 'the refused write left the value alone');
  assert.equal(sql("SELECT value_version FROM provsecret.ai_provider_secret WHERE reference = 'managed:project/cas-ws/CAS'"), '2');
  assert.equal(sql("SELECT count(*) FROM provsecret.audit_log WHERE reference = 'managed:project/cas-ws/CAS' AND action IN ('secret.sealed','secret.rotated')"), '2',
    'no write event for the refused write');
  // a list naming the current version matches; weak tags never match (strong comparison)
  r = await put(`${WS}/CAS`, 'canary-cas-3', 'W/"7", "2"');
  assert.equal(r.status, 200, r.text);
  is412(await put(`${WS}/CAS`, 'canary-cas-weak', 'W/"3"'));
  is412(await put(`${WS}/CAS`, 'canary-cas-zero', '"0"'));
  is412(await put(`${WS}/CAS`, 'canary-cas-opaque', '"abc"'));
});

test('If-Match: * means "must exist"', async () => {
  is412(await put(`${WS}/NEW_ONE`, 'canary-new', '*'));
  assert.equal(sql("SELECT count(*) FROM provsecret.ai_provider_secret WHERE reference = 'managed:project/cas-ws/NEW_ONE'"), '0');
  let r = await put(`${WS}/NEW_ONE`, 'canary-new-1');
  assert.equal(r.status, 201);
  r = await put(`${WS}/NEW_ONE`, 'canary-new-2', '*');
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('etag'), '"2"');
  is412(await put(`${WS}/MISSING`, 'canary-missing', '"1"'));
});

test('a malformed If-Match is 400; If-Match elsewhere than PUT is 400', async () => {
  for (const h of ['1', '"1', 'W/1', '"1" "2"', ' , ', '**', '"1", "2"', '"a b"']) {
    const r = await put(`${WS}/CAS`, 'canary-bad', h);
    assert.equal(r.status, 400, `If-Match: ${h} -> ${r.text}`);
    assert.equal(r.json.error.code, 'bad_request');
  }
  let r = await api('DELETE', `${WS}/CAS`, { tok, headers: { 'if-match': '"3"' } });
  assert.equal(r.status, 400);
  r = await api('GET', `${WS}/CAS`, { tok });
  assert.equal(r.status, 200, 'the refused DELETE deleted nothing');
  assert.equal(r.headers.get('etag'), '"3"');
});

test('403 comes before 412: a caller without write learns nothing', async () => {
  const r = await api('PUT', `${WS}/CAS`, { tok: reader, body: { value: 'x' }, headers: { 'if-match': '"99"' } });
  assert.equal(r.status, 403);
});

test('concurrent PUTs with the same If-Match: exactly one wins', async () => {
  let r = await put(`${WS}/RACE`, 'canary-race-0');
  const tag = r.headers.get('etag');
  const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => put(`${WS}/RACE`, `canary-race-${i + 1}`, tag)));
  const statuses = answers.map((a) => a.status).sort();
  assert.equal(statuses.filter((s) => s === 200).length, 1, statuses.join(','));
  assert.equal(statuses.filter((s) => s === 412).length, 7, statuses.join(','));
  r = await api('GET', `${WS}/RACE`, { tok });
  assert.equal(r.headers.get('etag'), '"2"');
});

// The version is compared under the row lock the write takes: a PUT that
// waits for an SQL rotation to commit compares against the rotated version
// (a check read before the lock would pass and overwrite it).
test('If-Match is compared after waiting for the row lock, not before', async () => {
  const ref = 'managed:project/cas-ws/LOCKED';
  let r = await put(`${WS}/LOCKED`, 'canary-locked-1');
  assert.equal(r.headers.get('etag'), '"1"');
  const argv = ['-X', '-q', '-h', TMP, '-p', PGPORT, '-U', 'postgres', '-d', 'postgres'];
  const psql = process.getuid() === 0
    ? spawn('runuser', ['-u', 'postgres', '--', `${PGBIN}/psql`, ...argv], { stdio: ['pipe', 'ignore', 'inherit'] })
    : spawn(`${PGBIN}/psql`, argv, { stdio: ['pipe', 'ignore', 'inherit'] });
  psql.stdin.write(`BEGIN;\nSELECT provsecret.seal('${ref}', 'canary-locked-sql');\n`);
  let pending;
  try {
    await waitFor('the SQL rotation to hold the row', () => sql(
      // seal() hides its statement text from pg_stat_activity: find the session by its state
      "SELECT count(*) FROM pg_stat_activity WHERE state = 'idle in transaction' AND backend_type = 'client backend'") === '1');
    pending = put(`${WS}/LOCKED`, 'canary-locked-rest', '"1"');
    await waitFor('the PUT to wait for the lock', () => sql(
      "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'provsecret rest' AND wait_event_type = 'Lock'") === '1', 1500, 20);
  } finally {
    psql.stdin.end('COMMIT;\n');
    await new Promise((res) => psql.on('exit', res));
  }
  is412(await pending);
  r = await api('GET', `${WS}/LOCKED`, { tok });
  assert.equal(r.headers.get('etag'), '"2"');
  assert.equal(digest(r.json.value), digest('canary-locked-sql'), 'the SQL rotation was not overwritten');
});
