// NOTIFY provsecret_changes from REST writes (README, Change notifications):
// sent when the worker's batch commits; a refused write (412) sends nothing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { api, grant, reconfigure, sql, token, waitFor, PGBIN, PGPORT, TMP } from '../lib/env.mjs';

const WS = '/v1/workspaces/notify-ws/secrets';
let tok;

before(async () => {
  grant('notify', 'notify-ws', ['read', 'write', 'delete']);
  tok = await token('notify');
  reconfigure({ 'provsecret.notify_changes': 'on' });
});

after(() => reconfigure({ 'provsecret.notify_changes': null }));

/* A psql that LISTENs for ms, then reads what arrived; resolves to the payloads. */
function listen(ms) {
  const argv = [`${PGBIN}/psql`, '-X', '-A', '-t', '-h', TMP, '-p', PGPORT, '-U', 'postgres', '-d', 'postgres',
    '-c', 'LISTEN provsecret_changes', '-c', `SELECT pg_sleep(${ms / 1000})`, '-c', 'SELECT pg_sleep(0.3)', '-c', 'SELECT 1'];
  const asRoot = process.getuid && process.getuid() === 0;
  const [cmd, ...args] = asRoot ? ['runuser', '-u', 'postgres', '--', ...argv] : argv;
  const child = spawn(cmd, args);
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { out += d; });
  return new Promise((resolve) => child.on('close', () => resolve(
    [...out.matchAll(/Asynchronous notification "provsecret_changes" with payload "(.*?)" received/g)].map((m) => m[1]))));
}

test('REST seal, rotation and delete notify on commit; a 412 does not', async () => {
  const done = listen(4000);
  await waitFor('the listener', () => sql(
    "SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(4)' AND state = 'active'") === '1');
  let r = await api('PUT', `${WS}/K`, { tok, body: { value: 'notify-canary-1' } });
  assert.equal(r.status, 201);
  r = await api('PUT', `${WS}/K`, { tok, body: { value: 'notify-canary-2' }, headers: { 'if-match': '"1"' } });
  assert.equal(r.status, 200);
  r = await api('PUT', `${WS}/K`, { tok, body: { value: 'notify-canary-3' }, headers: { 'if-match': '"1"' } });
  assert.equal(r.status, 412);
  r = await api('DELETE', `${WS}/K`, { tok });
  assert.equal(r.status, 204);
  const got = await done;
  assert.deepEqual(got, [
    '{"reference":"managed:project/notify-ws/K","value_version":1,"action":"sealed"}',
    '{"reference":"managed:project/notify-ws/K","value_version":2,"action":"rotated"}',
    '{"reference":"managed:project/notify-ws/K","value_version":2,"action":"deleted"}',
  ]);
});
