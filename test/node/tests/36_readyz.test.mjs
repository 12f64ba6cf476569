// GET /readyz: 200 only while this node serves REST (primary, root key,
// audit worker, database); 503 with a reason code otherwise.  No token is
// needed and the answer says nothing beyond ready or why not.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { api, rawRequest, sql, waitFor } from '../lib/env.mjs';

test('ready: 200 {"status":"ready"} without a token, HEAD too, no other method', async () => {
  const r = await api('GET', '/readyz');
  assert.equal(r.status, 200);
  assert.deepEqual(r.json, { status: 'ready' });
  assert.ok(r.headers.get('x-request-id'));
  assert.equal(r.headers.get('cache-control'), 'no-store');
  assert.equal((await rawRequest('HEAD', '/readyz')).status, 200);
  const post = await api('POST', '/readyz');
  assert.equal(post.status, 405);
  assert.match(post.headers.get('allow'), /GET/);
  // a token, even a bad one, changes nothing
  const bad = await api('GET', '/readyz', { headers: { authorization: 'Bearer nonsense' } });
  assert.equal(bad.status, 200);
  // nothing is audited for it
  const before = sql("SELECT count(*) FROM provsecret.audit_log WHERE request_id = 'readyz-probe'");
  await api('GET', '/readyz', { headers: { 'x-request-id': 'readyz-probe' } });
  assert.equal(sql("SELECT count(*) FROM provsecret.audit_log WHERE request_id = 'readyz-probe'"), before);
});

test('audit worker gone: 503 audit_worker_down, then ready again once it is back', async () => {
  const pid = Number(sql("SELECT pid FROM pg_stat_activity WHERE backend_type = 'provsecret audit'"));
  assert.ok(pid > 0, 'audit worker visible as provsecret audit');
  const seen = [];
  const t0 = Date.now();
  sql(`SELECT pg_terminate_backend(${pid})`);
  // the worker is restarted 1 s after it exits; poll through that window
  await waitFor('readyz 503 while the audit worker is away', async () => {
    const r = await rawRequest('GET', '/readyz');
    if (r.status === 503) seen.push(r.json);
    return r.status === 503;
  }, 3000, 10);
  assert.deepEqual(seen[0], {
    status: 'unavailable', reason: 'audit_worker_down',
    error: { code: 'unavailable', message: 'the audit worker is not running' },
  });
  // /healthz (liveness) does not depend on the audit worker
  assert.equal((await rawRequest('GET', '/healthz')).status, 200);
  await waitFor('readyz 200 again', async () => (await rawRequest('GET', '/readyz')).status === 200, 10000, 50);
  const again = Number(sql("SELECT pid FROM pg_stat_activity WHERE backend_type = 'provsecret audit'"));
  assert.ok(again > 0 && again !== pid, `a new audit worker (${Date.now() - t0} ms)`);
});
