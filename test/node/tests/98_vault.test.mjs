// The Vault KV v2-compatible dialect (DESIGN §8a, docs/vault.md): its HTTP
// surface with raw requests (real clients: 99_vault_clients).
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { TMP, grant, rawRequest, reconfigure, sql, token, waitFor } from '../lib/env.mjs';

const sha = (s) => createHash('sha256').update(s).digest('hex');
const canary = (n) => `vault-canary-${n}-${Math.random().toString(36).slice(2)}`;

let tok; let reader; let outsider;
before(async () => {
  grant('vlt', 'vault-ws', ['describe', 'read', 'write', 'delete']);
  grant('vlt-reader', 'vault-ws', ['read']);
  tok = await token('vlt');
  reader = await token('vlt-reader');
  outsider = await token('vlt-outsider');
});

async function vault(method, path, { t, body, headers = {} } = {}) {
  const h = { ...headers };
  if (t) h['x-vault-token'] = t;
  let payload;
  if (body !== undefined) {
    h['content-type'] = 'application/json';
    payload = typeof body === 'string' ? body : JSON.stringify(body);
  }
  return rawRequest(method, path, h, payload);
}

const data = '/v1/secret/data/project/vault-ws';

test('write, read, versions, check-and-set', async () => {
  const v1 = canary(1); const v2 = canary(2);
  let r = await vault('POST', `${data}/API_KEY`, { t: tok, body: { data: { key: v1 }, options: { cas: 0 } } });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.data.version, 1);
  assert.equal(r.json.data.destroyed, false);
  assert.equal(r.json.data.deletion_time, '');
  assert.ok(!r.text.includes(v1), 'value not echoed');
  r = await vault('PUT', `${data}/API_KEY`, { t: tok, body: { data: { key: v2 }, options: { cas: 0 } } });
  assert.equal(r.status, 400);
  assert.deepEqual(r.json, { errors: ['check-and-set parameter did not match the current version'] });
  r = await vault('PUT', `${data}/API_KEY`, { t: tok, body: { data: { key: v2 }, options: { cas: 1 } } });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.data.version, 2);
  r = await vault('GET', `${data}/API_KEY`, { headers: { authorization: `Bearer ${tok}` } });
  assert.equal(r.status, 200, r.text);
  assert.equal(sha(r.json.data.data.key), sha(v2));
  assert.deepEqual(Object.keys(r.json.data.data), ['key']);
  assert.equal(r.json.data.metadata.version, 2);
  assert.match(r.json.data.metadata.created_time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z$/);
  for (const k of ['request_id', 'lease_id', 'renewable', 'lease_duration', 'wrap_info', 'warnings', 'auth'])
    assert.ok(k in r.json, k);
  r = await vault('GET', `${data}/API_KEY?version=2`, { t: tok });
  assert.equal(sha(r.json.data.data.key), sha(v2));
  r = await vault('GET', `${data}/API_KEY?version=1`, { t: tok });
  assert.equal(r.status, 200, 'a kept version is answered');
  assert.equal(sha(r.json.data.data.key), sha(v1));
  r = await vault('GET', `${data}/API_KEY?version=x`, { t: tok });
  assert.equal(r.status, 400);
  // audited as a reveal on channel vault, with the request id
  const n = sql("SELECT count(*) FROM provsecret.audit_event WHERE channel = 'vault' AND action = 'secret.revealed' AND reference = 'managed:project/vault-ws/API_KEY'");
  assert.ok(Number(n) >= 2, `vault reveals audited: ${n}`);
});

test('kept versions: read, audited as a reveal of that version, pruned ones 404', async () => {
  const values = [1, 2, 3, 4, 5].map((i) => canary(`kept${i}`));
  for (const v of values) {
    const w = await vault('POST', `${data}/KEPT`, { t: tok, body: { data: { key: v } } });
    assert.equal(w.status, 200, w.text);
  }
  // provsecret.keep_versions = 3: versions 2, 3, 4 kept, 5 current, 1 pruned
  const since = sql('SELECT last_value FROM provsecret.audit_event_id_seq');
  for (const n of [2, 3, 4, 5]) {
    const r = await vault('GET', `${data}/KEPT?version=${n}`, { t: reader });
    assert.equal(r.status, 200, `version ${n}: ${r.text}`);
    assert.equal(sha(r.json.data.data.key), sha(values[n - 1]), `value of version ${n}`);
    assert.equal(r.json.data.metadata.version, n);
    assert.match(r.json.data.metadata.created_time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z$/);
  }
  let r = await vault('GET', `${data}/KEPT?version=0`, { t: tok });
  assert.equal(r.status, 200, 'version=0 is the current one');
  assert.equal(r.json.data.metadata.version, 5);
  const events = sql(`SELECT string_agg(value_version::text || ':' || principal, ',' ORDER BY id)
      FROM provsecret.audit_log WHERE id > ${since} AND action = 'secret.revealed'
       AND channel = 'vault' AND reference = 'managed:project/vault-ws/KEPT'`);
  assert.equal(events, '2:user:vlt-reader,3:user:vlt-reader,4:user:vlt-reader,5:user:vlt-reader,5:user:vlt');
  const before = sql('SELECT last_value FROM provsecret.audit_event_id_seq');
  for (const n of [1, 6, 999999999]) {
    r = await vault('GET', `${data}/KEPT?version=${n}`, { t: tok });
    assert.equal(r.status, 404, `version ${n}`);
    assert.deepEqual(r.json, { errors: [] });
  }
  r = await vault('GET', `${data}/NO_SUCH?version=1`, { t: tok });
  assert.equal(r.status, 404);
  assert.equal(sql(`SELECT count(*) FROM provsecret.audit_log WHERE id > ${before} AND action = 'secret.revealed'`), '0',
    'a version not kept reveals nothing');
  for (const bad of ['x', '-1', '1.5', '1e3', '', '1234567890']) {
    r = await vault('GET', `${data}/KEPT?version=${bad}`, { t: tok });
    assert.equal(r.status, 400, `version=${bad}`);
    assert.equal(r.json.errors.length, 1);
  }
  // the same permission as a reveal: denied and audited without read
  r = await vault('GET', `${data}/KEPT?version=2`, { t: outsider });
  assert.equal(r.status, 403);
  assert.equal(r.json.errors.length, 1);
  const denied = r.json;
  r = await vault('GET', `${data}/NO_SUCH?version=2`, { t: outsider });
  assert.equal(r.status, 403, 'an outsider learns nothing of which versions exist');
  assert.deepEqual(r.json, denied);
  // metadata lists the kept versions
  r = await vault('GET', '/v1/secret/metadata/project/vault-ws/KEPT', { t: tok });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(Object.keys(r.json.data.versions).map(Number).sort(), [2, 3, 4, 5]);
  assert.equal(r.json.data.current_version, 5);
  assert.equal(r.json.data.oldest_version, 2);
  assert.equal(r.json.data.created_time, r.json.data.versions['2'].created_time);
});

test('concurrent writes with one cas: exactly one succeeds', async () => {
  const first = await vault('POST', `${data}/RACE`, { t: tok, body: { data: { key: canary(10) }, options: { cas: 0 } } });
  assert.equal(first.status, 200, first.text);
  const tries = await Promise.all([1, 2, 3, 4, 5, 6].map((i) =>
    vault('PUT', `${data}/RACE`, { t: tok, body: { data: { key: canary(10 + i) }, options: { cas: 1 } } })));
  assert.deepEqual(tries.map((r) => r.status).sort(), [200, 400, 400, 400, 400, 400]);
  const meta = await vault('GET', '/v1/secret/metadata/project/vault-ws/RACE', { t: tok });
  assert.equal(meta.json.data.current_version, 2);
});

test('bodies: other fields, over 10,000 characters, bad JSON', async () => {
  const bad = async (body) => {
    const r = await vault('POST', `${data}/BODY`, { t: tok, body });
    assert.equal(r.status, 400, JSON.stringify(body));
    assert.ok(Array.isArray(r.json.errors) && r.json.errors.length === 1);
  };
  await bad({ data: { key: 'x', other: 'y' } });
  await bad({ data: { value: 'x' } });
  await bad({ data: { key: 'x'.repeat(10001) } });
  await bad({ data: { key: 7 } });
  await bad({ data: { key: 'x' }, options: { cas: -1 } });
  await bad('{"data":');
  await bad({ data: { key: 'x' }, extra: 1 });
  const r = await vault('GET', `${data}/BODY`, { t: tok });
  assert.equal(r.status, 404, 'nothing written');
  const ok = await vault('POST', `${data}/BODY`, { t: tok, body: { data: { key: 'é'.repeat(10000) } } });
  assert.equal(ok.status, 200, '10,000 characters is fine');
});

test('list, metadata, delete', async () => {
  await vault('POST', `${data}/LISTED`, { t: tok, body: { data: { key: canary(3) } } });
  let r = await vault('LIST', '/v1/secret/metadata/project/vault-ws/', { t: tok });
  assert.equal(r.status, 200, r.text);
  assert.ok(r.json.data.keys.includes('LISTED'));
  const keys = r.json.data.keys;
  assert.deepEqual([...keys].sort(), keys);
  for (const flag of ['true', '1', 't', 'TRUE']) {
    r = await vault('GET', `/v1/secret/metadata/project/vault-ws?list=${flag}`, { t: tok });
    assert.deepEqual(r.json.data.keys, keys, `list=${flag}`);
  }
  r = await vault('GET', '/v1/secret/metadata/project/vault-ws?list=false', { t: tok });
  assert.equal(r.status, 404, 'list=false is no listing');
  r = await vault('GET', '/v1/secret/metadata/project/vault-ws/LISTED', { t: tok });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.data.current_version, 1);
  assert.ok('1' in r.json.data.versions);
  assert.deepEqual(r.json.data.custom_metadata, {});
  r = await vault('LIST', '/v1/secret/metadata/project/vault-empty/', { t: tok });
  assert.equal(r.status, 403, 'no describe on another tenant');
  r = await vault('DELETE', `${data}/LISTED`, { t: tok });
  assert.equal(r.status, 204);
  r = await vault('DELETE', '/v1/secret/metadata/project/vault-ws/LISTED', { t: tok });
  assert.equal(r.status, 204, 'idempotent');
  r = await vault('GET', `${data}/LISTED`, { t: tok });
  assert.equal(r.status, 404);
});

// Lists are kept per worker like native listings (listing_cache.h) and
// answered before a batch: a kept one must never outlive a write or a revoke.
test('a kept list is retired by a write, a delete and a revoke', async () => {
  grant('vlt-lister', 'vault-kept', ['describe', 'write', 'delete']);
  const lister = await token('vlt-lister');
  const list = async () => vault('LIST', '/v1/secret/metadata/project/vault-kept/', { t: lister });
  let r = await vault('POST', '/v1/secret/data/project/vault-kept/A', { t: lister, body: { data: { key: canary('k1') } } });
  assert.equal(r.status, 200, r.text);
  for (let i = 0; i < 3; i++) {
    r = await list();
    assert.deepEqual(r.json.data.keys, ['A']);
  }
  const ids = new Set();
  for (let i = 0; i < 3; i++) ids.add((await list()).json.request_id);
  assert.equal(ids.size, 3, 'each answer has its own request_id');
  sql("SELECT provsecret.seal('managed:project/vault-kept/B', 'vault-kept-canary', NULL)");
  r = await list();
  assert.deepEqual(r.json.data.keys, ['A', 'B'], 'a write through SQL retires the kept list');
  r = await vault('DELETE', '/v1/secret/metadata/project/vault-kept/A', { t: lister });
  assert.equal(r.status, 204);
  r = await list();
  assert.deepEqual(r.json.data.keys, ['B'], 'a delete through the dialect retires it');
  r = await vault('GET', '/v1/secret/metadata/project/vault-kept?list=true', { t: lister });
  assert.deepEqual(r.json.data.keys, ['B']);
  sql("SELECT provsecret.revoke('user:vlt-lister', 'project/vault-kept', ARRAY['describe', 'write', 'delete'])");
  r = await list();
  assert.equal(r.status, 403, 'a revoke retires it');
});

test('permissions are the native ones', async () => {
  await vault('POST', `${data}/PERM`, { t: tok, body: { data: { key: canary(4) } } });
  let r = await vault('GET', `${data}/PERM`, { t: reader });
  assert.equal(r.status, 200, 'read permission reveals');
  r = await vault('LIST', '/v1/secret/metadata/project/vault-ws/', { t: outsider });
  assert.equal(r.status, 403, 'list needs describe');
  r = await vault('POST', `${data}/PERM`, { t: reader, body: { data: { key: 'x' }, options: { cas: 1 } } });
  assert.equal(r.status, 403, 'cas is not answered before the write permission');
  r = await vault('GET', `${data}/PERM`, { t: outsider });
  assert.equal(r.status, 403);
  const denied = sql("SELECT count(*) FROM provsecret.audit_event WHERE channel = 'vault' AND action = 'access.denied'");
  assert.ok(Number(denied) >= 1);
});

test('tokens, errors, health, login', async () => {
  let r = await vault('GET', `${data}/PERM`);
  assert.equal(r.status, 403);
  assert.ok(Array.isArray(r.json.errors));
  r = await vault('GET', `${data}/PERM`, { t: 'not.a.token' });
  assert.equal(r.status, 403);
  assert.deepEqual(r.json, { errors: ['permission denied'] });
  const expired = await token('vlt', 'rsa1', { exp: Math.floor(Date.now() / 1000) - 3600 });
  r = await vault('GET', `${data}/PERM`, { t: expired });
  assert.equal(r.status, 403);
  r = await vault('PATCH', `${data}/PERM`, { t: tok, body: {} });
  assert.equal(r.status, 405);
  assert.ok(Array.isArray(r.json.errors));
  r = await vault('GET', '/v1/secret/data/team/vault-ws/PERM', { t: tok });
  assert.equal(r.status, 404);
  r = await vault('GET', '/v1/other/data/project/vault-ws/PERM', { t: tok });
  assert.equal(r.status, 404, 'an unknown mount');
  assert.ok(Array.isArray(r.json.errors), "an unknown mount is Vault's 404");
  r = await vault('GET', '/v1/secret/data/project/vault-ws/a%2Fb', { t: tok });
  assert.equal(r.status, 400);
  r = await vault('GET', '/v1/secret/data/project/vault-ws/..', { t: tok });
  assert.equal(r.status, 400);
  r = await vault('GET', '/v1/sys/health');
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.initialized, true);
  assert.equal(r.json.sealed, false);
  assert.equal(r.json.standby, false);
  // the version is provsecret.control's default_version (the Makefile's -D), the installed one
  const control = readFileSync(new URL('../../../provsecret.control', import.meta.url), 'utf8');
  const version = /^default_version\s*=\s*'([^']+)'/m.exec(control)[1];
  assert.equal(r.json.version, `${version}+provsecret`);
  assert.equal(sql("SELECT extversion FROM pg_extension WHERE extname = 'provsecret'"), version);
  r = await vault('GET', '/v1/auth/token/lookup-self', { t: tok });
  assert.equal(r.status, 200, r.text);
  assert.ok(r.json.data.policies.includes('user:vlt'));
  assert.ok(r.json.data.ttl > 0 && r.json.data.ttl <= 330);
  assert.match(r.json.data.expire_time, /Z$/);
  assert.ok(!r.text.includes(tok), 'lookup-self does not echo the token');
  r = await vault('POST', '/v1/auth/jwt/login', { body: { jwt: tok, role: 'any' } });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.auth.client_token, tok);
  assert.equal(r.json.auth.renewable, false);
  assert.ok(r.json.auth.policies.includes('user:vlt'));
  r = await vault('POST', '/v1/auth/jwt/login', { body: { jwt: 'nope' } });
  assert.equal(r.status, 403);
  const log = sql("SELECT count(*) FROM provsecret.audit_event WHERE principal LIKE '%ey%'");
  assert.equal(log, '0');
});

test('jwt login is audited (auth.login ok / denied), never with the token', async () => {
  const since = sql('SELECT last_value FROM provsecret.audit_event_id_seq');
  const expired = await token('vlt', 'rsa1', { exp: Math.floor(Date.now() / 1000) - 3600 });
  let r = await vault('POST', '/v1/auth/jwt/login', { body: { jwt: tok, role: 'eso' } });
  assert.equal(r.status, 200, r.text);
  r = await vault('PUT', '/v1/auth/jwt/login', { body: { jwt: expired } });
  assert.equal(r.status, 403);
  assert.deepEqual(r.json, { errors: ['permission denied'] });
  r = await vault('POST', '/v1/auth/jwt/login', { body: { jwt: 'not.a.token' } });
  assert.equal(r.status, 403);
  r = await vault('POST', '/v1/auth/jwt/login', { body: { role: 'eso' } });
  assert.equal(r.status, 400, 'no jwt: a bad request, not a login');
  const rows = sql(`SELECT string_agg(outcome || '|' || principal || '|' || channel || '|' || coalesce(detail, ''), E'\n' ORDER BY id)
      FROM provsecret.audit_log WHERE id > ${since} AND action = 'auth.login'`).split('\n');
  assert.deepEqual(rows, [
    'ok|user:vlt|vault|jwt',
    'denied|anonymous|vault|bearer token rejected: token has expired',
    'denied|anonymous|vault|bearer token rejected: token is malformed',
  ]);
  const all = sql(`SELECT string_agg(row_to_json(a)::text, ' ') FROM provsecret.audit_log a WHERE id > ${since}`);
  for (const t of [tok, expired]) {
    assert.ok(!all.includes(t) && !all.includes(t.split('.')[2]), 'no token in an audit event');
  }
});

// The bad input: Vault's 400/404/405 with a JSON error, nothing
// written, nothing logged (no audit event, no server log line, no value).
test('bad input: Vault statuses and JSON errors, nothing written, nothing logged', async () => {
  const value = canary('bad');
  const body = (extra = {}) => ({ data: { key: value }, ...extra });
  const cases = [
    // unknown mount
    ['GET', '/v1/other/data/project/vault-ws/BAD', undefined, 404],
    ['POST', '/v1/kv/data/project/vault-ws/BAD', body(), 404],
    ['LIST', '/v1/other/metadata/project/vault-ws/', undefined, 404],
    // paths outside the reference grammar
    ['POST', '/v1/secret/data/team/vault-ws/BAD', body(), 404],
    ['POST', '/v1/secret/data/project/vault-ws', body(), 404],
    ['POST', '/v1/secret/data/project/vault-ws/BAD/deeper', body(), 404],
    ['POST', '/v1/secret/data/project//BAD', body(), 400],
    ['POST', '/v1/secret/data/project/vault-ws/a%2Fb', body(), 400],
    ['POST', '/v1/secret/data/project/vault-ws/..', body(), 400],
    ['POST', '/v1/secret/data/project/vault-ws/has%20space', body(), 400],
    ['POST', `/v1/secret/data/project/vault-ws/${'N'.repeat(129)}`, body(), 400],
    ['POST', '/v1/secret/data/project/bad%20ws/BAD', body(), 400],
    ['POST', '/v1/secret/undelete/project/vault-ws/BAD', { versions: [1] }, 404],
    ['POST', '/v1/secret/destroy/project/vault-ws/BAD', { versions: [1] }, 404],
    // bodies with fields other than key
    ['POST', `${data}/BAD`, { data: { key: value, description: 'x' } }, 400],
    ['POST', `${data}/BAD`, { data: { value } }, 400],
    ['POST', `${data}/BAD`, { data: {} }, 400],
    ['POST', `${data}/BAD`, body({ metadata: {} }), 400],
    ['POST', `${data}/BAD`, body({ options: { cas: 0, max_versions: 3 } }), 400],
    ['POST', `${data}/BAD`, { data: { key: '' } }, 400],
    ['POST', `${data}/BAD`, { data: { key: null } }, 400],
    ['POST', `${data}/BAD`, '["not an object"]', 400],
    ['POST', `${data}/BAD`, '', 400],
    // a value over 10,000 characters
    ['POST', `${data}/BAD`, { data: { key: 'v'.repeat(10001) } }, 400],
    ['PUT', `${data}/BAD`, { data: { key: 'é'.repeat(10001) } }, 400],
    // a cas that is not an integer
    ['POST', `${data}/BAD`, body({ options: { cas: '0' } }), 400],
    ['POST', `${data}/BAD`, body({ options: { cas: 1.5 } }), 400],
    ['POST', `${data}/BAD`, body({ options: { cas: null } }), 400],
    ['POST', `${data}/BAD`, body({ options: { cas: -1 } }), 400],
    ['POST', `${data}/BAD`, body({ options: { cas: 1e12 } }), 400],
    // methods Vault does not use here
    ['PATCH', `${data}/BAD`, body(), 405],
    ['OPTIONS', `${data}/BAD`, undefined, 405],
    ['COPY', `${data}/BAD`, undefined, 405],
    ['PUT', '/v1/secret/metadata/project/vault-ws/BAD', { max_versions: 3 }, 405],
    ['POST', '/v1/secret/metadata/project/vault-ws/BAD', { custom_metadata: {} }, 405],
    ['DELETE', '/v1/sys/health', undefined, 405],
    ['GET', '/v1/auth/jwt/login', undefined, 405],
  ];
  const logFrom = readFileSync(`${TMP}/server.log`).length;
  const since = sql('SELECT last_value FROM provsecret.audit_event_id_seq');
  for (const [method, path, b, status] of cases) {
    const r = await vault(method, path, { t: tok, body: b });
    const what = `${method} ${path.slice(0, 60)} ${typeof b === 'string' ? b : JSON.stringify(b ?? '').slice(0, 60)}`;
    assert.equal(r.status, status, `${what}: ${r.text.slice(0, 120)}`);
    assert.match(r.headers.get('content-type') ?? '', /^application\/json/, what);
    assert.ok(Array.isArray(r.json?.errors), `${what}: Vault's {"errors":[...]}`);
    if (status !== 404) assert.equal(r.json.errors.length, 1, what);
    assert.ok(!r.text.includes(value), `${what}: no value in the answer`);
    if (status === 405) assert.ok(r.headers.get('allow'), `${what}: Allow`);
  }
  assert.equal(sql(`SELECT count(*) FROM provsecret.secrets WHERE reference LIKE 'managed:project/vault-ws/BAD%'`), '0', 'nothing written');
  assert.equal(sql(`SELECT count(*) FROM provsecret.audit_log WHERE id > ${since}`), '0', 'no audit event');
  const log = readFileSync(`${TMP}/server.log`, 'utf8').slice(logFrom);
  assert.ok(!/provsecret rest/.test(log), `no server log line: ${log.slice(0, 300)}`);
  assert.ok(!log.includes(value) && !log.includes(tok));
});

test('provsecret.vault_mount and provsecret.vault_api', async () => {
  assert.throws(() => sql("ALTER SYSTEM SET provsecret.vault_mount = 'workspaces'"));
  assert.throws(() => sql("ALTER SYSTEM SET provsecret.vault_mount = 'sys'"));
  reconfigure({ 'provsecret.vault_mount': 'kv' });
  await waitFor('mount kv', async () => (await vault('GET', '/v1/kv/data/project/vault-ws/PERM', { t: tok })).status === 200);
  reconfigure({ 'provsecret.vault_api': 'off' });
  await waitFor('vault off', async () => (await vault('GET', '/v1/kv/data/project/vault-ws/PERM', { t: tok })).status === 404);
  const r = await vault('GET', '/v1/sys/health');
  assert.equal(r.status, 404);
  assert.ok(r.json.error, 'native error shape when off');
  reconfigure({ 'provsecret.vault_api': null, 'provsecret.vault_mount': null });
  await waitFor('vault back', async () => (await vault('GET', `${data}/PERM`, { t: tok })).status === 200);
});
