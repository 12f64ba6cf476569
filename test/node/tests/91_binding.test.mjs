// A workspace bound to a resolver (bind_workspace, DESIGN §9) keeps the
// REST surface of /v1/workspaces/{ws}/secrets: PUT stores the value in the
// backend (201 then 200), GET lists metadata without calling it, GET of a
// key reveals from it, DELETE removes it (204, also when missing); 502
// when the backend is down; 403 without the permission.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { api, grant, sql, token } from '../lib/env.mjs';
import { createBackends, refusedPort } from '../../fake-backends/secret_backends.mjs';

const vaultToken = `vt-canary-${Math.random().toString(36).slice(2)}`;
const value = `sk-bound-canary-${Math.random().toString(36).slice(2)}`;
const backends = createBackends({ vaultToken, infisicalToken: 'unused-i', jsonToken: 'unused-j' });
const ws = '/v1/workspaces/bind-ws/secrets';
let tok;
let base;
let refused;

async function vaultGet(path) {
  const r = await fetch(`${base}/v1/secret/data/${path}`, { headers: { 'x-vault-token': vaultToken } });
  return { status: r.status, json: await r.json() };
}

before(async () => {
  const port = await backends.listen();
  base = `http://127.0.0.1:${port}`;
  refused = await refusedPort();
  grant('bind', 'bind-ws', ['describe', 'read', 'write', 'delete']);
  grant('bind-viewer', 'bind-ws', ['describe']);
  sql(`SELECT provsecret.seal('managed:project/bind-ws/vault-token', '${vaultToken}')`);
  sql(`SELECT provsecret.create_resolver('bind-vault', 'project/bind-ws', 'vault-kv2', '${base}',
       '{"timeout_ms":1000,"breaker_failures":0}', 'managed:project/bind-ws/vault-token')`);
  sql("SELECT provsecret.bind_workspace('bind-ws', 'bind-vault')");
  tok = await token('bind');
});

after(() => backends.close());

test('PUT stores the value in the backend, GET lists and reveals, DELETE removes', async () => {
  let r = await api('PUT', `${ws}/OPENAI_API_KEY`, { tok, body: { value, description: 'bound' } });
  assert.equal(r.status, 201, r.text);
  assert.deepEqual(r.json, { key: 'OPENAI_API_KEY', description: 'bound' });
  let v = await vaultGet('OPENAI_API_KEY');
  assert.equal(v.json.data.data.value, value);

  r = await api('PUT', `${ws}/OPENAI_API_KEY`, { tok, body: { value: `${value}-2` } });
  assert.equal(r.status, 200, r.text);

  const before = (await (await fetch(`${base}/_control/stats`)).json()).requests['/v1'];
  r = await api('GET', ws, { tok });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json.secrets.filter((s) => s.key === 'OPENAI_API_KEY'),
    [{ key: 'OPENAI_API_KEY', description: 'bound' }]);
  assert.ok(!r.text.includes(value));
  const afterList = (await (await fetch(`${base}/_control/stats`)).json()).requests['/v1'];
  assert.equal(afterList, before, 'listing does not call the backend');

  r = await api('GET', `${ws}/OPENAI_API_KEY`, { tok });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json, { key: 'OPENAI_API_KEY', value: `${value}-2`, description: 'bound' });
  const audit = sql(`SELECT string_agg(action || ' ' || channel || ' ' || detail, ',' ORDER BY id)
                       FROM provsecret.audit_log WHERE reference = 'managed:project/bind-ws/OPENAI_API_KEY'`);
  assert.equal(audit, 'secret.sealed rest resolver bind-vault,secret.rotated rest resolver bind-vault,'
    + 'secret.revealed rest resolver bind-vault');

  r = await api('DELETE', `${ws}/OPENAI_API_KEY`, { tok });
  assert.equal(r.status, 204, r.text);
  v = await vaultGet('OPENAI_API_KEY');
  assert.equal(v.status, 404);
  r = await api('GET', `${ws}/OPENAI_API_KEY`, { tok });
  assert.equal(r.status, 404, r.text);
  r = await api('DELETE', `${ws}/OPENAI_API_KEY`, { tok });
  assert.equal(r.status, 204, r.text);
});

test('403 without the permission, and the value is not shown', async () => {
  await api('PUT', `${ws}/K2`, { tok, body: { value } });
  const viewer = await token('bind-viewer');
  let r = await api('GET', `${ws}/K2`, { tok: viewer });
  assert.equal(r.status, 403, r.text);
  assert.ok(!r.text.includes(value));
  r = await api('PUT', `${ws}/K2`, { tok: viewer, body: { value: 'x' } });
  assert.equal(r.status, 403, r.text);
});

test('502 when the backend is down, naming the resolver only', async () => {
  sql(`SELECT provsecret.alter_resolver('bind-vault', base_url => 'http://127.0.0.1:${refused}')`);
  try {
    for (const [method, body] of [['PUT', { value }], ['GET', undefined], ['DELETE', undefined]]) {
      const r = await api(method, `${ws}/K2`, { tok, body });
      assert.equal(r.status, 502, `${method}: ${r.text}`);
      assert.match(r.json.error.message, /^external resolver bind-vault: /);
      assert.ok(!r.text.includes(vaultToken) && !r.text.includes(value) && !r.text.includes('127.0.0.1'), r.text);
    }
  } finally {
    sql(`SELECT provsecret.alter_resolver('bind-vault', base_url => '${base}')`);
  }
});
