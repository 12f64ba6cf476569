// Until CREATE EXTENSION provsecret has run, every route answers 503 (healthz
// with the reason, readyz with the reason code), and the worker picks the
// extension up within 5 s.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { api, sql, token, waitFor } from '../lib/env.mjs';

test('503 everywhere before CREATE EXTENSION, then serving within 5 s', async () => {
  const health = await api('GET', '/healthz');
  assert.equal(health.status, 503);
  assert.match(health.json.error.message, /CREATE EXTENSION provsecret/);
  assert.ok(health.headers.get('x-request-id'));

  const ready = await api('GET', '/readyz');
  assert.equal(ready.status, 503);
  assert.equal(ready.json.status, 'unavailable');
  assert.equal(ready.json.reason, 'extension_missing');

  const list = await api('GET', '/v1/workspaces/ws1/secrets', { tok: await token('alice') });
  assert.equal(list.status, 503);
  assert.equal(list.json.error.code, 'unavailable');
  for (const path of ['/metrics', '/v1/openapi.json']) {
    const r = await api('GET', path);
    assert.equal(r.status, 503, `${path} before CREATE EXTENSION`);
    assert.equal(r.json.error.code, 'unavailable');
  }

  sql('CREATE EXTENSION provsecret');
  const t0 = Date.now();
  const t1 = await waitFor('healthz 200', async () => (await api('GET', '/healthz')).status === 200, 8000, 50);
  assert.ok(t1 - t0 <= 5000, `picked up after ${t1 - t0} ms`);
  assert.deepEqual((await api('GET', '/healthz')).json, { status: 'ok' });
  await waitFor('readyz 200', async () => (await api('GET', '/readyz')).status === 200, 8000, 50);
  assert.deepEqual((await api('GET', '/readyz')).json, { status: 'ready' });
});
