// Real Vault clients against the Vault KV v2 dialect (docs/vault.md):
// node-vault (npm) and python3-hvac (Debian), each in its full flow (JWT
// login, write with cas, read, read of a kept version, list, delete); the
// recipes of docs/vault.md, checked by replaying the HTTP calls External
// Secrets Operator's Vault provider and LiteLLM's hashicorp_vault key
// manager make; and the server log, which must never hold a client's
// token.  Values are compared as digests and never printed.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import nodeVault from 'node-vault';
import { BASE, TMP, grant, rawRequest, reconfigure, sql, token, waitFor } from '../lib/env.mjs';

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

/*
 * External Secrets Operator, Vault provider (providers/v1/vault), with the
 * SecretStore and ExternalSecret of docs/vault.md: path "secret", version
 * "v2", auth.jwt (path "jwt", role "eso"), remoteRef.key
 * "project/<ws>/OPENAI_API_KEY", property "key".  Its Vault client
 * (hashicorp/vault/api over Go's net/http) sends every request with
 * X-Vault-Request: true, Go's User-Agent and Accept-Encoding, the token as
 * X-Vault-Token, X-Vault-Namespace when the store names a namespace, and a
 * body as json.Encoder writes it (keys sorted, a newline, no
 * Content-Type).  One reconcile without the token cache: login (PUT),
 * read (with ?version= when remoteRef.version is set), then Close():
 * lookup-self and, for a token still valid, revoke-self (PUT).
 */
function go(method, path, { token: t, body, namespace } = {}) {
  const h = { 'user-agent': 'Go-http-client/1.1', 'accept-encoding': 'gzip', 'x-vault-request': 'true' };
  if (t) h['x-vault-token'] = t;
  if (namespace) h['x-vault-namespace'] = namespace;
  let payload;
  if (body !== undefined) {
    const sorted = Object.fromEntries(Object.entries(body).sort(([a], [b]) => a.localeCompare(b)));
    payload = `${JSON.stringify(sorted)}\n`;
    h['content-length'] = String(Buffer.byteLength(payload));
  }
  return rawRequest(method, path, h, payload);
}

test('recipe: External Secrets Operator (SecretStore with the Vault provider, KV v2, JWT auth)', async () => {
  grant('eso-sa', 'eso-ws', ['read']);
  sql("SELECT provsecret.grant('user:eso-admin', 'project/eso-ws', ARRAY['write','describe'])");
  const admin = await token('eso-admin');
  const jwt = await token('eso-sa');
  sent.push(admin, jwt);
  const v1 = canary('eso1'); const v2 = canary('eso2');
  for (const v of [v1, v2]) {
    const w = await go('PUT', '/v1/secret/data/project/eso-ws/OPENAI_API_KEY', { token: admin, body: { data: { key: v } } });
    assert.equal(w.status, 200, w.text);
  }
  const since = sql('SELECT last_value FROM provsecret.audit_event_id_seq');

  for (const namespace of [undefined, 'team-a/']) {
    // setAuth(): no token yet, so auth/<jwt.path>/login with {"jwt", "role"}
    const login = await go('PUT', '/v1/auth/jwt/login', { body: { role: 'eso', jwt }, namespace });
    assert.equal(login.status, 200, login.text);
    const clientToken = login.json.auth.client_token;     // vaultResult.TokenID()
    assert.equal(typeof clientToken, 'string');

    // GetSecret(): readSecret(buildPath(key)) and data.data[property]
    let r = await go('GET', '/v1/secret/data/project/eso-ws/OPENAI_API_KEY', { token: clientToken, namespace });
    assert.equal(r.status, 200, r.text);
    assert.equal(sha(r.json.data.data.key), sha(v2));
    // remoteRef.version: "1"
    r = await go('GET', '/v1/secret/data/project/eso-ws/OPENAI_API_KEY?version=1', { token: clientToken, namespace });
    assert.equal(r.status, 200, r.text);
    assert.equal(sha(r.json.data.data.key), sha(v1));
    // a key that does not exist: 404 whose body has no data, which the Go client reads as "no secret"
    r = await go('GET', '/v1/secret/data/project/eso-ws/MISSING', { token: clientToken, namespace });
    assert.equal(r.status, 404);
    assert.deepEqual(r.json, { errors: [] });

    // Close(): checkToken() (lookup-self: data.type, data.ttl, data.expire_time), then revoke-self
    r = await go('GET', '/v1/auth/token/lookup-self', { token: clientToken, namespace });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.data.type, 'service', 'not a batch token');
    assert.ok(Number.isInteger(r.json.data.ttl) && r.json.data.ttl >= 60, 'a ttl under 60 s reads as expired');
    assert.ok(!Number.isNaN(Date.parse(r.json.data.expire_time)), 'expire_time is RFC 3339');
    r = await go('PUT', '/v1/auth/token/revoke-self', { token: clientToken, namespace });
    assert.equal(r.status, 204, r.text);
  }

  // the store's validation with a token that no longer verifies
  const expired = await token('eso-sa', 'rsa1', { exp: Math.floor(Date.now() / 1000) - 60 });
  sent.push(expired);
  let r = await go('PUT', '/v1/auth/jwt/login', { body: { role: 'eso', jwt: expired } });
  assert.equal(r.status, 403);
  assert.deepEqual(r.json, { errors: ['permission denied'] });
  r = await go('GET', '/v1/auth/token/lookup-self', { token: expired });
  assert.equal(r.status, 403);

  const events = sql(`SELECT string_agg(action || ':' || outcome || ':' || coalesce(value_version, 0), ',' ORDER BY id)
      FROM provsecret.audit_log WHERE id > ${since} AND channel = 'vault'`);
  const reconcile = ['auth.login:ok:0', 'secret.revealed:ok:2', 'secret.revealed:ok:1'];
  assert.equal(events, [...reconcile, ...reconcile, 'auth.login:denied:0'].join(','));
});

/*
 * LiteLLM, key_management_system: hashicorp_vault
 * (litellm/secret_managers/hashicorp_secret_manager.py): get_url() builds
 * {HCP_VAULT_ADDR}/v1/[{HCP_VAULT_NAMESPACE}/]{HCP_VAULT_MOUNT_NAME}/data/[{HCP_VAULT_PATH_PREFIX}/]{name},
 * each part stripped of spaces and '/'; the read is an httpx GET with
 * X-Vault-Token only (and httpx's own headers), raise_for_status(), then
 * data.data.key.  Writes (store_virtual_keys) POST {"data":{"key": value}}.
 */
function litellmUrl(env, name) {
  const part = (v) => (v === undefined || v === null ? null : (String(v).trim().replace(/^\/+|\/+$/g, '') || null));
  let url = `${env.HCP_VAULT_ADDR}/v1/`;
  if (part(env.HCP_VAULT_NAMESPACE)) url += `${part(env.HCP_VAULT_NAMESPACE)}/`;
  url += `${part(env.HCP_VAULT_MOUNT_NAME) ?? 'secret'}/data/`;
  if (part(env.HCP_VAULT_PATH_PREFIX)) url += `${part(env.HCP_VAULT_PATH_PREFIX)}/`;
  return url + name;
}

async function litellmRead(env, name) {
  const u = new URL(litellmUrl(env, name));
  assert.equal(u.origin, BASE);
  const r = await rawRequest('GET', u.pathname + u.search, {
    host: u.host, accept: '*/*', 'accept-encoding': 'gzip, deflate', connection: 'keep-alive',
    'user-agent': 'python-httpx/0.27.0', 'x-vault-token': env.HCP_VAULT_TOKEN,
  });
  // raise_for_status(): LiteLLM returns None on any error status
  return r.status >= 400 ? { status: r.status, value: null, json: r.json } : { status: r.status, value: r.json?.data?.data?.key ?? null };
}

test('recipe: LiteLLM hashicorp_vault (HCP_VAULT_ADDR, HCP_VAULT_MOUNT_NAME, HCP_VAULT_PATH_PREFIX, HCP_VAULT_TOKEN)', async () => {
  grant('litellm', 'litellm-ws', ['read', 'write', 'delete']);
  const tok = await token('litellm');
  sent.push(tok);
  const value = canary('litellm');
  const env = { HCP_VAULT_ADDR: BASE, HCP_VAULT_TOKEN: tok, HCP_VAULT_MOUNT_NAME: 'secret', HCP_VAULT_PATH_PREFIX: '/project/litellm-ws/' };
  assert.equal(litellmUrl(env, 'OPENAI_API_KEY'), `${BASE}/v1/secret/data/project/litellm-ws/OPENAI_API_KEY`);

  // async_write_secret (store_virtual_keys)
  const w = await rawRequest('POST', new URL(litellmUrl(env, 'OPENAI_API_KEY')).pathname,
    { 'content-type': 'application/json', 'x-vault-token': tok }, JSON.stringify({ data: { key: value } }));
  assert.equal(w.status, 200, w.text);
  // with a description LiteLLM adds a second field, which the dialect refuses
  const d = await rawRequest('POST', new URL(litellmUrl(env, 'OTHER')).pathname,
    { 'content-type': 'application/json', 'x-vault-token': tok }, JSON.stringify({ data: { key: value, description: 'x' } }));
  assert.equal(d.status, 400);

  let r = await litellmRead(env, 'OPENAI_API_KEY');
  assert.equal(r.status, 200);
  assert.equal(sha(r.value), sha(value), 'data.data.key');
  r = await litellmRead(env, 'NOT_THERE');
  assert.equal(r.status, 404);
  assert.equal(r.value, null);
  r = await litellmRead({ ...env, HCP_VAULT_TOKEN: 'hvs.not-a-token' }, 'OPENAI_API_KEY');
  assert.equal(r.status, 403);
  assert.deepEqual(r.json, { errors: ['permission denied'] });

  // HCP_VAULT_MOUNT_NAME must equal provsecret.vault_mount
  reconfigure({ 'provsecret.vault_mount': 'kv' });
  try {
    const kv = { ...env, HCP_VAULT_MOUNT_NAME: 'kv', HCP_VAULT_PATH_PREFIX: 'project/litellm-ws' };
    await waitFor('mount kv', async () => (await litellmRead(kv, 'OPENAI_API_KEY')).status === 200);
    r = await litellmRead(kv, 'OPENAI_API_KEY');
    assert.equal(sha(r.value), sha(value));
    r = await litellmRead(env, 'OPENAI_API_KEY');
    assert.equal(r.status, 404, 'the old mount is gone');
  } finally {
    reconfigure({ 'provsecret.vault_mount': null });
    await waitFor('mount secret', async () => (await litellmRead(env, 'OPENAI_API_KEY')).status === 200);
  }
  const n = sql(`SELECT count(*) FROM provsecret.audit_log WHERE action = 'secret.revealed' AND channel = 'vault'
      AND principal = 'user:litellm' AND reference = 'managed:project/litellm-ws/OPENAI_API_KEY'`);
  assert.ok(Number(n) >= 3, `LiteLLM's reads audited: ${n}`);
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
