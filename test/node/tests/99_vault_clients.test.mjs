// Real Vault clients against the Vault KV v2 dialect (docs/vault.md):
// node-vault (npm) and python3-hvac (Debian), each in its full flow (JWT
// login, write with cas, read, read of a kept version, list, delete), and
// the server log, which must never hold a client's token.  Values are
// compared as digests and never printed.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import nodeVault from 'node-vault';
import { BASE, TMP, grant, reconfigure, sql, token, waitFor } from '../lib/env.mjs';

const sha = (s) => createHash('sha256').update(s).digest('hex');
const canary = (n) => `vault-client-canary-${n}-${Math.random().toString(36).slice(2)}`;

/* Every token a client sent in this file: none may reach the server log. */
const sent = [];
let logFrom = 0;

before(async () => {
  logFrom = readFileSync(`${TMP}/server.log`).length;
  // the most the server logs (the REST worker's debug lines, every statement)
  reconfigure({ log_min_messages: 'debug1', log_statement: 'all', log_min_error_statement: 'debug1' });
  await waitFor('debug logging', async () => sql('SHOW log_min_messages') === 'debug1');
});

after(() => {
  reconfigure({ log_min_messages: null, log_statement: null, log_min_error_statement: null });
});

/* The rejection of a node-vault call: its status and Vault's error body. */
async function rejected(promise) {
  try {
    await promise;
  } catch (e) {
    return { status: e.response?.statusCode, body: e.response?.body, message: e.message };
  }
  return { status: 200 };
}

test('node-vault: jwt login, write with cas, read, kept version, list, delete', async () => {
  grant('vlt-node', 'vault-node', ['describe', 'read', 'write', 'delete']);
  const jwt = await token('vlt-node');
  sent.push(jwt);
  const v = nodeVault({ endpoint: BASE, apiVersion: 'v1' });

  const login = await v.jwtLogin({ role: 'any', jwt });
  assert.equal(login.auth.client_token, jwt, 'the client token is the JWT');
  assert.equal(v.token, jwt, 'node-vault took the token from the login');
  assert.ok(login.auth.policies.includes('user:vlt-node'));
  const me = await v.tokenLookupSelf();
  assert.ok(me.data.ttl > 0);

  const path = 'secret/data/project/vault-node/NODE_KEY';
  const v1 = canary(1); const v2 = canary(2);
  let w = await v.write(path, { data: { key: v1 }, options: { cas: 0 } });
  assert.equal(w.data.version, 1);
  const mismatch = await rejected(v.write(path, { data: { key: v2 }, options: { cas: 0 } }));
  assert.equal(mismatch.status, 400);
  assert.deepEqual(mismatch.body, { errors: ['check-and-set parameter did not match the current version'] });
  w = await v.write(path, { data: { key: v2 }, options: { cas: 1 } });
  assert.equal(w.data.version, 2);

  let r = await v.read(path);
  assert.equal(sha(r.data.data.key), sha(v2));
  assert.equal(r.data.metadata.version, 2);
  r = await v.read(`${path}?version=1`);
  assert.equal(sha(r.data.data.key), sha(v1), 'a kept version');
  assert.equal(r.data.metadata.version, 1);
  const gone = await rejected(v.read(`${path}?version=3`));
  assert.equal(gone.status, 404);
  assert.deepEqual(gone.body, { errors: [] });

  const list = await v.list('secret/metadata/project/vault-node');
  assert.deepEqual(list.data.keys, ['NODE_KEY']);
  // a client that does not send LIST: GET ?list=1
  const plain = nodeVault({ endpoint: BASE, token: jwt, noCustomHTTPVerbs: true });
  assert.deepEqual((await plain.list('secret/metadata/project/vault-node')).data.keys, ['NODE_KEY']);
  const md = await v.read('secret/metadata/project/vault-node/NODE_KEY');
  assert.deepEqual(Object.keys(md.data.versions).sort(), ['1', '2']);

  await v.delete('secret/metadata/project/vault-node/NODE_KEY');
  await v.delete(path);
  const deleted = await rejected(v.read(path));
  assert.equal(deleted.status, 404);

  const health = await v.health();
  assert.equal(health.initialized, true);
  assert.equal(health.sealed, false);

  const events = sql(`SELECT string_agg(action || ':' || coalesce(value_version, 0), ',' ORDER BY id)
      FROM provsecret.audit_log WHERE channel = 'vault' AND principal = 'user:vlt-node'`);
  assert.equal(events, 'auth.login:0,secret.sealed:1,secret.rotated:2,secret.revealed:2,secret.revealed:1,secret.deleted:2');
});

test('node-vault: an unknown, expired or badly signed token is 403 with Vault\'s errors', async () => {
  grant('vlt-node', 'vault-node', ['describe', 'read', 'write', 'delete']);
  const expired = await token('vlt-node', 'rsa1', { exp: Math.floor(Date.now() / 1000) - 60 });
  const good = await token('vlt-node');
  const forged = `${good.slice(0, good.lastIndexOf('.'))}.${'A'.repeat(40)}`;
  sent.push(expired, good, forged);
  for (const [what, t] of [['unknown', 'hvs.CAESIJ-not-a-provsecret-token'], ['expired', expired], ['forged', forged]]) {
    const v = nodeVault({ endpoint: BASE, token: t });
    const r = await rejected(v.read('secret/data/project/vault-node/NODE_KEY'));
    assert.equal(r.status, 403, what);
    assert.deepEqual(r.body, { errors: ['permission denied'] }, what);
    const login = await rejected(nodeVault({ endpoint: BASE }).jwtLogin({ role: 'any', jwt: t }));
    assert.equal(login.status, 403, `${what} login`);
    assert.deepEqual(login.body, { errors: ['permission denied'] }, `${what} login`);
  }
});

test('python3-hvac: jwt login, write with cas, read, kept version, list, delete', () => {
  grant('vlt-hvac', 'vault-hvac', ['describe', 'read', 'write', 'delete']);
  return token('vlt-hvac').then((jwt) => {
    sent.push(jwt);
    const script = fileURLToPath(new URL('../../vault/hvac_client.py', import.meta.url));
    const res = spawnSync('/usr/bin/python3', [script], {
      encoding: 'utf8',
      env: { ...process.env, VAULT_ADDR: BASE, PS_VAULT_JWT: jwt, PS_VAULT_TENANT: 'vault-hvac', PS_VAULT_SUB: 'vlt-hvac' },
    });
    assert.equal(res.status, 0, `${res.stdout}\n${res.stderr}`);
    assert.ok(!res.stdout.includes(jwt) && !res.stderr.includes(jwt));
    for (const check of ['jwt login gives a client token', 'read version=1 (kept)', 'metadata lists the kept versions',
      'stale cas is refused', 'list shows the key', 'deleted secret is 404', 'unknown token is 403']) {
      assert.match(res.stdout, new RegExp(`^ok ${check.replace(/[()]/g, '\\$&')}$`, 'm'));
    }
  });
});

test('no client token in the server log', () => {
  const log = readFileSync(`${TMP}/server.log`, 'utf8').slice(logFrom);
  assert.ok(log.length > 0, 'the server logged something');
  for (const t of sent) {
    const signature = t.slice(t.lastIndexOf('.') + 1);
    assert.ok(!log.includes(t), 'a token in the server log');
    assert.ok(signature.length < 20 || !log.includes(signature), 'a token signature in the server log');
  }
});
