// POST /v1/resolve with env: references (DESIGN §3): being on
// provsecret.env_allowlist is not permission; a token also needs read on
// env/<NAME>.  Without it: 403, the same answer whether or not the name is
// listed, and an access.denied event; with it: 200, audited on the rest
// channel.  run.sh starts the server with PS_TEST_ENV_REST in its
// environment.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { api, reconfigure, sql, token, waitFor } from '../lib/env.mjs';

const value = process.env.PS_TEST_ENV_REST;
const reference = 'env:PS_TEST_ENV_REST';
let tok;

before(async () => {
  assert.ok(value, 'run.sh sets PS_TEST_ENV_REST');
  reconfigure({ 'provsecret.env_allowlist': 'PS_TEST_ENV_REST' });
  tok = await token('env-reader');
});

after(() => {
  sql("SELECT provsecret.revoke('user:env-reader', 'env/PS_TEST_ENV_REST', NULL)");
  reconfigure({ 'provsecret.env_allowlist': null });
});

test('403 for a listed variable without a grant, the same as for an unlisted one', async () => {
  // the allowlist is in force: a superuser session sees it
  await waitFor('allowlist', async () => sql('SHOW provsecret.env_allowlist') === 'PS_TEST_ENV_REST');
  const listed = await api('POST', '/v1/resolve', { tok, body: { reference } });
  assert.equal(listed.status, 403, listed.text);
  assert.ok(!listed.text.includes(value));
  const unlisted = await api('POST', '/v1/resolve', { tok, body: { reference: 'env:PS_TEST_ENV_OTHER' } });
  assert.equal(unlisted.status, 403, unlisted.text);
  assert.equal(unlisted.text.replaceAll('OTHER', 'REST'), listed.text);
  const denied = sql(`SELECT channel || ' ' || principal FROM provsecret.audit_log
                       WHERE reference = '${reference}' AND action = 'access.denied'
                       ORDER BY id DESC LIMIT 1`);
  assert.equal(denied, 'rest user:env-reader');
});

test('200 with read on env/<NAME>, audited as a reveal', async () => {
  sql("SELECT provsecret.grant('user:env-reader', 'env/PS_TEST_ENV_REST', ARRAY['read'])");
  let r;
  await waitFor('the grant and the allowlist in the REST worker', async () => {
    r = await api('POST', '/v1/resolve', { tok, body: { reference } });
    return r.status === 200;
  });
  assert.deepEqual(r.json, { reference, value });
  const audit = sql(`SELECT channel || ' ' || outcome || ' ' || principal FROM provsecret.audit_log
                      WHERE reference = '${reference}' AND action = 'secret.revealed'
                      ORDER BY id DESC LIMIT 1`);
  assert.equal(audit, 'rest ok user:env-reader');
});

test('another token is still refused', async () => {
  const other = await token('env-other');
  const r = await api('POST', '/v1/resolve', { tok: other, body: { reference } });
  assert.equal(r.status, 403, r.text);
  assert.ok(!r.text.includes(value));
});
