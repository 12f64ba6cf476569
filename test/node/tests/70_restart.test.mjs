// Reloads and crashes: SIGHUP picks up a new JWKS file; a worker killed with
// SIGKILL is serving again within 5 s.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TMP, grant, rawRequest, reconfigure, sql, token, waitFor } from '../lib/env.mjs';

const path = '/v1/workspaces/rs-ws/secrets';

test('SIGHUP with a new JWKS file: a token of the new key is accepted', async () => {
  grant('rotated-user', 'rs-ws', ['read']);
  const auth = { authorization: `Bearer ${await token('rotated-user', 'rsa2')}` };
  assert.equal((await rawRequest('GET', path, auth)).status, 401, 'rsa2 is not published yet');
  reconfigure({ 'provsecret.jwt_jwks_file': `${TMP}/jwks-rotated.json` });
  await waitFor('the new key', async () => (await rawRequest('GET', path, auth)).status === 200, 5000);
  // the old keys still work
  const old = { authorization: `Bearer ${await token('rotated-user', 'rsa1')}` };
  assert.equal((await rawRequest('GET', path, old)).status, 200);
});

test('kill -9 of the REST worker: serving again within 5 s', async () => {
  const pid = Number(sql("SELECT pid FROM pg_stat_activity WHERE backend_type = 'provsecret rest'"));
  assert.ok(pid > 0, 'worker visible in pg_stat_activity as provsecret rest');
  const t0 = Date.now();
  process.kill(pid, 'SIGKILL');
  const t1 = await waitFor('healthz after the crash', async () => {
    const r = await rawRequest('GET', '/healthz');
    return r.status === 200;
  }, 10000, 50);
  assert.ok(t1 - t0 < 5000, `back after ${t1 - t0} ms`);
  const again = Number(sql("SELECT pid FROM pg_stat_activity WHERE backend_type = 'provsecret rest'"));
  assert.ok(again > 0 && again !== pid, 'a new worker');
  const auth = { authorization: `Bearer ${await token('rotated-user')}` };
  assert.equal((await rawRequest('GET', path, auth)).status, 200);
});
