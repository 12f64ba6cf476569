// POST /v1/resolve with external:<resolver>/… (DESIGN §9) says nothing
// about a resolver to a token that may not read through it: the same 403
// and body whether the resolver exists or not, naming no target.  No
// backend is called (the refusal comes first).
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { api, grant, sql, token } from '../lib/env.mjs';

let tok;

before(async () => {
  sql("SELECT provsecret.register_project('rx-ws')");
  sql(`SELECT provsecret.create_resolver('rx-res', 'project/rx-ws', 'http-json', 'http://127.0.0.1:9')`);
  grant('rx-user', 'rx-elsewhere', ['read']);
  tok = await token('rx-user');
});

test('403 with the same body for an existing and a missing resolver', async () => {
  const existing = await api('POST', '/v1/resolve', { tok, body: { reference: 'external:rx-res/a/b' } });
  const missing = await api('POST', '/v1/resolve', { tok, body: { reference: 'external:rx-none/a/b' } });
  assert.equal(existing.status, 403, existing.text);
  assert.equal(missing.status, 403, missing.text);
  assert.equal(missing.text.replaceAll('rx-none', 'rx-res'), existing.text);
  assert.ok(!existing.text.includes('rx-ws'), existing.text);
  const denied = sql(`SELECT count(*) FROM provsecret.audit_log
                       WHERE action = 'access.denied' AND principal = 'user:rx-user'
                         AND reference IN ('external:rx-res/a/b', 'external:rx-none/a/b')`);
  assert.equal(denied, '2');
});
