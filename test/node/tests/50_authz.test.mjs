// Permissions come from provsecret grants on the token's principals only:
// lacking one is 403, and a grant on one workspace gives nothing on another.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { api, grant, token } from '../lib/env.mjs';

let owner; let reader; let describer; let outsider;
before(async () => {
  grant('az-owner', 'az-ws1', ['read', 'write', 'delete']);
  grant('az-owner', 'az-ws2', ['read', 'write', 'delete']);
  grant('az-reader', 'az-ws1', ['read']);
  grant('az-describer', 'az-ws1', ['describe']);
  [owner, reader, describer, outsider] = await Promise.all(
    ['az-owner', 'az-reader', 'az-describer', 'az-outsider'].map((s) => token(s)));
  for (const ws of ['az-ws1', 'az-ws2']) {
    const r = await api('PUT', `/v1/workspaces/${ws}/secrets/KEY`, { tok: owner, body: { value: `v-${ws}` } });
    assert.equal(r.status, 201);
  }
});

test('missing permission: 403 for each operation', async () => {
  const k = '/v1/workspaces/az-ws1/secrets/KEY';
  assert.equal((await api('GET', k, { tok: describer })).status, 403);
  assert.equal((await api('PUT', k, { tok: reader, body: { value: 'x' } })).status, 403);
  assert.equal((await api('DELETE', k, { tok: reader })).status, 403);
  assert.equal((await api('GET', '/v1/workspaces/az-ws1/secrets', { tok: outsider })).status, 403);
  assert.equal((await api('POST', '/v1/resolve', { tok: describer, body: { reference: 'managed:project/az-ws1/KEY' } })).status, 403);
  const r = await api('GET', k, { tok: reader });
  assert.equal(r.status, 200);
  assert.equal(r.json.value, 'v-az-ws1');
});

test('describe lists but never reveals', async () => {
  const r = await api('GET', '/v1/workspaces/az-ws1/secrets', { tok: describer });
  assert.equal(r.status, 200);
  assert.deepEqual(r.json, { secrets: [{ key: 'KEY', description: null }] });
});

test('cross-workspace: a grant on az-ws1 gives nothing on az-ws2', async () => {
  const k = '/v1/workspaces/az-ws2/secrets/KEY';
  for (const [m, body] of [['GET'], ['PUT', { value: 'x' }], ['DELETE']]) {
    const r = await api(m, k, { tok: reader, body });
    assert.equal(r.status, 403, `${m}: ${r.text}`);
    assert.ok(!r.text.includes('v-az-ws2'));
  }
  assert.equal((await api('GET', '/v1/workspaces/az-ws2/secrets', { tok: reader })).status, 403);
  const r = await api('POST', '/v1/resolve', { tok: reader, body: { reference: 'managed:project/az-ws2/KEY' } });
  assert.equal(r.status, 403);
  // the owner still has it: the refusals changed nothing
  assert.equal((await api('GET', k, { tok: owner })).json.value, 'v-az-ws2');
});
