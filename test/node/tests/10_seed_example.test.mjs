// The Groundfloor seed document, run as written: list, reveal (the
// TypeScript server route, in plain .mjs with fetch), upsert, delete.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { BASE, grant, sql, token } from '../lib/env.mjs';

let tok;
before(async () => {
  grant('seed-dev', 'seed-ws', ['read', 'write', 'delete']);
  tok = await token('seed-dev');
});

// app/api/internal/llm-key/route.ts, minus the types
async function llmKeyRoute(getKeycloakTokenFromSession, env) {
  const token = await getKeycloakTokenFromSession();
  const workspaceId = env.WORKSPACE_ID;
  const res = await fetch(
    `${env.CONTROLPLANE_URL}/v1/workspaces/${workspaceId}/secrets/LITELLM_API_KEY`,
    { headers: { Authorization: `Bearer ${token}` } },
  );
  if (!res.ok) throw new Error(await res.text());
  const { value } = await res.json();
  return Response.json({ configured: Boolean(value) });
}

test('upsert returns metadata only, 201 then 200', async () => {
  const put = (body) => fetch(`${BASE}/v1/workspaces/seed-ws/secrets/LITELLM_API_KEY`, {
    method: 'PUT',
    headers: { Authorization: `Bearer ${tok}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  let res = await put({ value: 'sk-first', description: 'Workspace LiteLLM virtual key' });
  assert.equal(res.status, 201);
  assert.deepEqual(await res.json(), { key: 'LITELLM_API_KEY', description: 'Workspace LiteLLM virtual key' });
  res = await put({ value: 'sk-litellm-123', description: 'Workspace LiteLLM virtual key' });
  assert.equal(res.status, 200);
  const text = await res.text();
  assert.ok(!text.includes('sk-litellm-123'), 'value not echoed');

  res = await fetch(`${BASE}/v1/workspaces/seed-ws/secrets/OPENAI_API_KEY`, {
    method: 'PUT',
    headers: { Authorization: `Bearer ${tok}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ value: 'sk-openai', description: 'BYO OpenAI for LiteLLM routing' }),
  });
  assert.equal(res.status, 201);
});

test('list: keys and descriptions, sorted, never values', async () => {
  const res = await fetch(`${BASE}/v1/workspaces/seed-ws/secrets`, {
    headers: { Authorization: `Bearer ${tok}` },
  });
  assert.equal(res.status, 200);
  const text = await res.text();
  assert.deepEqual(JSON.parse(text), {
    secrets: [
      { key: 'LITELLM_API_KEY', description: 'Workspace LiteLLM virtual key' },
      { key: 'OPENAI_API_KEY', description: 'BYO OpenAI for LiteLLM routing' },
    ],
  });
  assert.ok(!text.includes('sk-'), 'no value in a listing');
});

test('the seed TypeScript server route works unchanged, and the reveal is audited', async () => {
  const requestsBefore = Number(sql(
    "SELECT count(*) FROM provsecret.audit_log WHERE action = 'secret.revealed' AND reference = 'managed:project/seed-ws/LITELLM_API_KEY'"));
  const response = await llmKeyRoute(async () => tok, { WORKSPACE_ID: 'seed-ws', CONTROLPLANE_URL: BASE });
  assert.deepEqual(await response.json(), { configured: true });

  const direct = await fetch(`${BASE}/v1/workspaces/seed-ws/secrets/LITELLM_API_KEY`, {
    headers: { Authorization: `Bearer ${tok}`, 'X-Request-Id': 'seed-reveal-1' },
  });
  assert.equal(direct.headers.get('x-request-id'), 'seed-reveal-1');
  assert.deepEqual(await direct.json(), {
    key: 'LITELLM_API_KEY', value: 'sk-litellm-123', description: 'Workspace LiteLLM virtual key',
  });
  const after = Number(sql(
    "SELECT count(*) FROM provsecret.audit_log WHERE action = 'secret.revealed' AND reference = 'managed:project/seed-ws/LITELLM_API_KEY'"));
  assert.equal(after, requestsBefore + 2);
  const row = sql(
    "SELECT principal || '|' || channel || '|' || host(client_addr) FROM provsecret.audit_log WHERE request_id = 'seed-reveal-1'");
  assert.equal(row, 'user:seed-dev|rest|127.0.0.1');
});

test('delete is idempotent: 204 twice, then 404 on reveal', async () => {
  for (let i = 0; i < 2; i++) {
    const res = await fetch(`${BASE}/v1/workspaces/seed-ws/secrets/OPENAI_API_KEY`, {
      method: 'DELETE', headers: { Authorization: `Bearer ${tok}` },
    });
    assert.equal(res.status, 204);
    assert.equal(await res.text(), '');
  }
  const res = await fetch(`${BASE}/v1/workspaces/seed-ws/secrets/OPENAI_API_KEY`, {
    headers: { Authorization: `Bearer ${tok}` },
  });
  assert.equal(res.status, 404);
});
