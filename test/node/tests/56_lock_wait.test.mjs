// One REST worker serves every client, so a request must not wait long for
// a lock: a seal behind a data-key rotation batch left open in another
// session answers 503 after provsecret's 2 s lock_timeout, and the worker
// serves the next request at once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { api, grant, sql, token, TMP, PGBIN, PGPORT } from '../lib/env.mjs';

test('a seal blocked by an open rotation batch answers 503, not a hang', async () => {
  const ws = 'lock-wait';
  grant('locker', ws, ['read', 'write', 'delete']);
  sql(`SELECT provsecret.seal('managed:project/${ws}/A', 'v-a', 'a')`);
  sql(`SELECT provsecret.seal('managed:project/${ws}/B', 'v-b', 'b')`);
  const tok = await token('locker');

  const argv = ['-X', '-q', '-h', TMP, '-p', PGPORT, '-U', 'postgres', '-d', 'postgres'];
  const psql = process.getuid() === 0
    ? spawn('runuser', ['-u', 'postgres', '--', `${PGBIN}/psql`, ...argv], { stdio: ['pipe', 'ignore', 'inherit'] })
    : spawn(`${PGBIN}/psql`, argv, { stdio: ['pipe', 'ignore', 'inherit'] });
  psql.stdin.write(`BEGIN;\nSELECT provsecret.rotate_data_key('project/${ws}', 1);\n`);
  try {
    await new Promise((r) => setTimeout(r, 700));
    const started = Date.now();
    const put = await api('PUT', `/v1/workspaces/${ws}/secrets/C`, { tok, body: { value: 'v-c' } });
    const waited = Date.now() - started;
    assert.equal(put.status, 503, `PUT answered ${put.status}: ${put.text}`);
    assert.ok(waited < 10000, `answered after ${waited} ms`);
    const list = await api('GET', `/v1/workspaces/${ws}/secrets`, { tok });
    assert.equal(list.status, 200, 'the worker serves the next request');
  } finally {
    psql.stdin.end('ROLLBACK;\n');
    await new Promise((r) => psql.on('exit', r));
  }
  const put = await api('PUT', `/v1/workspaces/${ws}/secrets/C`, { tok, body: { value: 'v-c' } });
  assert.equal(put.status, 201, 'with the batch gone the seal goes through');
});
