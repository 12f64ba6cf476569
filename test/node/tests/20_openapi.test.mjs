// The served OpenAPI document: what docs/openapi.json says, usable by
// openapi-fetch, and clean under `redocly lint` (recommended rules).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import createClient from 'openapi-fetch';
import { BASE, TMP, grant, token } from '../lib/env.mjs';

const here = fileURLToPath(new URL('..', import.meta.url));

async function served() {
  const res = await fetch(`${BASE}/v1/openapi.json`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /application\/json/);
  return res.text();
}

test('served document is docs/openapi.json, OpenAPI 3.1 with every route', async () => {
  const text = await served();
  assert.equal(text, readFileSync(`${here}/../../docs/openapi.json`, 'utf8'));
  const doc = JSON.parse(text);
  assert.equal(doc.openapi, '3.1.0');
  assert.ok(doc.tags.some((t) => t.name === 'secrets'));
  assert.equal(doc.components.securitySchemes.bearerAuth.scheme, 'bearer');
  for (const p of ['/v1/workspaces/{workspace_id}/secrets', '/v1/workspaces/{workspace_id}/secrets/{key}',
    '/v1/companies/{company}/provider-secrets', '/v1/companies/{company}/provider-secrets/{provider}',
    '/v1/projects/{project}/provider-secrets', '/v1/projects/{project}/provider-secrets/{provider}',
    '/v1/resolve', '/healthz', '/readyz', '/metrics', '/v1/openapi.json']) {
    assert.ok(doc.paths[p], `path ${p} documented`);
  }
  const ws = doc.paths['/v1/workspaces/{workspace_id}/secrets/{key}'];
  for (const code of ['200', '400', '401', '403', '404', '503']) assert.ok(ws.get.responses[code], `reveal ${code}`);
  assert.ok(ws.put.responses['201'] && ws.put.responses['413']);
  assert.ok(ws.delete.responses['204']);
});

test('redocly lint (recommended) passes on the served document', async () => {
  const file = `${TMP}/served-openapi.json`;
  writeFileSync(file, await served());
  const run = spawnSync(`${here}/node_modules/.bin/redocly`, ['lint', '--extends=recommended', file],
    { encoding: 'utf8', env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' } });
  const out = `${run.stdout}${run.stderr}`;
  assert.equal(run.status, 0, out);
  assert.match(out, /Your API description is valid/);
  assert.doesNotMatch(out, /You have \d+ warning/, 'no warnings either');
});

test('openapi-fetch client driven by the served document', async () => {
  grant('oa-user', 'oa-ws', ['read', 'write', 'delete']);
  const tok = await token('oa-user');
  const client = createClient({ baseUrl: BASE, headers: { Authorization: `Bearer ${tok}` } });

  let r = await client.PUT('/v1/workspaces/{workspace_id}/secrets/{key}', {
    params: { path: { workspace_id: 'oa-ws', key: 'STRIPE_KEY' } },
    body: { value: 'sk_test_1', description: 'Stripe' },
  });
  assert.equal(r.response.status, 201);
  assert.deepEqual(r.data, { key: 'STRIPE_KEY', description: 'Stripe' });

  r = await client.GET('/v1/workspaces/{workspace_id}/secrets', { params: { path: { workspace_id: 'oa-ws' } } });
  assert.deepEqual(r.data, { secrets: [{ key: 'STRIPE_KEY', description: 'Stripe' }] });

  r = await client.GET('/v1/workspaces/{workspace_id}/secrets/{key}', {
    params: { path: { workspace_id: 'oa-ws', key: 'STRIPE_KEY' } },
  });
  assert.equal(r.data.value, 'sk_test_1');

  r = await client.PUT('/v1/projects/{project}/provider-secrets/{provider}', {
    params: { path: { project: 'oa-ws', provider: 'openai' } },
    body: { credentialValue: 'sk-proj-1' },
  });
  assert.equal(r.response.status, 201);
  assert.deepEqual(r.data, { provider: 'openai', reference: 'managed:project/oa-ws/openai', description: null, valueVersion: 1 });

  r = await client.POST('/v1/resolve', { body: { reference: 'managed:project/oa-ws/openai' } });
  assert.deepEqual(r.data, { reference: 'managed:project/oa-ws/openai', value: 'sk-proj-1' });

  r = await client.DELETE('/v1/workspaces/{workspace_id}/secrets/{key}', {
    params: { path: { workspace_id: 'oa-ws', key: 'STRIPE_KEY' } },
  });
  assert.equal(r.response.status, 204);

  r = await client.GET('/v1/workspaces/{workspace_id}/secrets/{key}', {
    params: { path: { workspace_id: 'oa-ws', key: 'STRIPE_KEY' } },
  });
  assert.equal(r.response.status, 404);
  assert.equal(r.error.error.code, 'not_found');
});
