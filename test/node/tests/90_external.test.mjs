// POST /v1/resolve with external: references (DESIGN §9): 200 with the
// backend's value, 404 for a clean 404, 502 when the backend is down or
// broken (naming the resolver, never the token), 403 without read.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { api, grant, sql, token, PGPORT, REST_PORT } from '../lib/env.mjs';
import { createBackends, refusedPort } from '../../fake-backends/secret_backends.mjs';

const vaultToken = `vt-canary-${Math.random().toString(36).slice(2)}`;
const value = `sk-ext-canary-${Math.random().toString(36).slice(2)}`;
const backends = createBackends({ vaultToken, infisicalToken: 'unused-i', jsonToken: 'unused-j' });
let tok;
let base;

before(async () => {
  const port = await backends.listen();
  base = `http://127.0.0.1:${port}`;
  const refused = await refusedPort();
  await fetch(`${base}/v1/secret/data/team/openai`, {
    method: 'POST',
    headers: { 'x-vault-token': vaultToken, 'content-type': 'application/json' },
    body: JSON.stringify({ data: { value } }),
  });
  grant('ext', 'ext-ws', ['read']);
  grant('ext-viewer', 'ext-ws', ['describe']);
  sql(`SELECT provsecret.seal('managed:project/ext-ws/vault-token', '${vaultToken}')`);
  for (const [name, url] of [['ext-vault', base], ['ext-down', `http://127.0.0.1:${refused}`],
    ['ext-broken', `${base}/fault/bad-json`]]) {
    sql(`SELECT provsecret.create_resolver('${name}', 'project/ext-ws', 'vault-kv2', '${url}',
         '{"timeout_ms":1000,"breaker_failures":0}', 'managed:project/ext-ws/vault-token')`);
  }
  tok = await token('ext');
});

after(() => backends.close());

test('200 with the value from the backend, audited on the rest channel', async () => {
  const reference = 'external:ext-vault/team/openai';
  const r = await api('POST', '/v1/resolve', { tok, body: { reference } });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json, { reference, value });
  const audit = sql(`SELECT channel || ' ' || outcome || ' ' || detail FROM provsecret.audit_log
                      WHERE reference = '${reference}' ORDER BY id DESC LIMIT 1`);
  assert.equal(audit, 'rest ok resolver ext-vault');
});

test('404 when the backend has no such secret', async () => {
  const r = await api('POST', '/v1/resolve', { tok, body: { reference: 'external:ext-vault/team/none' } });
  assert.equal(r.status, 404, r.text);
  assert.equal(r.json.error.code, 'not_found');
});

test('502 when the backend is down or answers garbage, naming the resolver only', async () => {
  for (const name of ['ext-down', 'ext-broken']) {
    const t0 = Date.now();
    const r = await api('POST', '/v1/resolve', { tok, body: { reference: `external:${name}/team/openai` } });
    assert.equal(r.status, 502, r.text);
    assert.equal(r.json.error.code, 'bad_gateway');
    assert.match(r.json.error.message, new RegExp(`^external resolver ${name}: `));
    assert.ok(!r.text.includes(vaultToken) && !r.text.includes('127.0.0.1'), r.text);
    assert.ok(Date.now() - t0 < 2500, 'within the resolver timeout');
  }
});

test('403 without read on the resolver target', async () => {
  const viewer = await token('ext-viewer');
  const r = await api('POST', '/v1/resolve', { tok: viewer, body: { reference: 'external:ext-vault/team/openai' } });
  assert.equal(r.status, 403, r.text);
  assert.ok(!r.text.includes(value));
});

test('each call carrying the token is a secret.used event of the REST caller, with its request id', async () => {
  const requestId = `use-${Math.random().toString(36).slice(2, 10)}`;
  const r = await api('POST', '/v1/resolve', {
    tok, body: { reference: 'external:ext-vault/team/openai' }, headers: { 'x-request-id': requestId },
  });
  assert.equal(r.status, 200, r.text);
  const used = sql(`SELECT reference || ' ' || principal || ' ' || channel || ' ' || outcome || ' ' || detail
                      FROM provsecret.audit_log WHERE action = 'secret.used' AND request_id = '${requestId}'`);
  assert.equal(used, 'managed:project/ext-ws/vault-token user:ext rest ok '
    + 'resolver ext-vault: sent as the token, for external:ext-vault/team/openai');
});

test('a resolver may never point at the REST listener or PostgreSQL itself', () => {
  for (const port of [REST_PORT, PGPORT]) {
    assert.throws(() => sql(`SELECT provsecret.create_resolver('ext-self-${port}', 'project/ext-ws', 'http-json',
      'http://127.0.0.1:${port}')`), /own REST and PostgreSQL ports are never called/);
  }
});
