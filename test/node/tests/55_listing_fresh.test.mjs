// Listings are kept by the REST worker between requests (listing_cache.c);
// a kept answer must never outlive a committed change to what it shows:
// secrets sealed, described again or deleted through SQL, rows changed
// behind the API, grants revoked, the worker's own PUTs, and a rolled-back
// change must not show.  Each request is sent after the change committed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { api, grant, sql, token, TMP, PGBIN, PGPORT } from '../lib/env.mjs';

const ws = 'listing-fresh';
const list = async (tok) => api('GET', `/v1/workspaces/${ws}/secrets`, { tok });
const keys = (res) => res.json.secrets.map((s) => `${s.key}=${s.description}`).sort();
const seal = (name, description) =>
  sql(`SELECT provsecret.seal('managed:project/${ws}/${name}', 'v-${name}', '${description}')`);

test('a kept listing follows every committed change', async () => {
  grant('lister', ws, ['read', 'write', 'delete']);
  const tok = await token('lister');
  seal('A', 'first');

  // twice: the second answer may come from what the worker kept
  assert.deepEqual(keys(await list(tok)), ['A=first']);
  assert.deepEqual(keys(await list(tok)), ['A=first']);

  seal('B', 'second');
  assert.deepEqual(keys(await list(tok)), ['A=first', 'B=second'], 'a seal in SQL shows at once');

  seal('A', 'renamed');
  assert.deepEqual(keys(await list(tok)), ['A=renamed', 'B=second'], 'a new description shows');

  sql(`UPDATE provsecret.ai_provider_secret SET description = 'behind the API'
        WHERE reference = 'managed:project/${ws}/B'`);
  assert.deepEqual(keys(await list(tok)), ['A=renamed', 'B=behind the API'],
    'a row changed behind the API shows');

  sql(`SELECT provsecret.delete_secret('managed:project/${ws}/A')`);
  assert.deepEqual(keys(await list(tok)), ['B=behind the API'], 'a delete shows');

  const put = await api('PUT', `/v1/workspaces/${ws}/secrets/C`, { tok, body: { value: 'v-c', description: 'via rest' } });
  assert.ok(put.status === 200 || put.status === 201, `PUT answered ${put.status}`);
  assert.deepEqual(keys(await list(tok)), ['B=behind the API', 'C=via rest'], "the worker's own PUT shows");
});

test('a rolled-back change never shows, a committed one does', async () => {
  const tok = await token('lister');
  const before = keys(await list(tok));
  // hold a transaction open with a new secret while listing from REST
  const psql = spawn(process.getuid() === 0 ? 'runuser' : `${PGBIN}/psql`,
    [...(process.getuid() === 0 ? ['-u', 'postgres', '--', `${PGBIN}/psql`] : []),
      '-X', '-q', '-h', TMP, '-p', PGPORT, '-U', 'postgres', '-d', 'postgres'],
    { stdio: ['pipe', 'ignore', 'inherit'] });
  psql.stdin.write(`BEGIN;\nSELECT provsecret.seal('managed:project/${ws}/D', 'v-d', 'uncommitted');\n`);
  await new Promise((r) => setTimeout(r, 500));
  assert.deepEqual(keys(await list(tok)), before, 'an open transaction does not show');
  psql.stdin.end('ROLLBACK;\n');
  await new Promise((r) => psql.on('exit', r));
  assert.deepEqual(keys(await list(tok)), before, 'a rolled-back one never shows');
});

test('grants decide, per principal set, on every request', async () => {
  const owner = await token('lister');
  const stranger = await token('stranger');
  assert.equal((await list(owner)).status, 200);
  assert.equal((await list(stranger)).status, 403, "another principal never gets the kept answer");

  sql(`SELECT provsecret.revoke('user:lister', 'project/${ws}', ARRAY['read', 'write', 'delete'])`);
  assert.equal((await list(owner)).status, 403, 'a revoked grant holds at once');
  grant('lister', ws, ['describe']);
  assert.equal((await list(owner)).status, 200, 'a new grant holds at once');
});

test('a listing is sorted by key in byte order, whatever the database collation', async () => {
  const sortedWs = 'listing-order';
  grant('orderer', sortedWs, ['read']);
  for (const name of ['b', 'B', 'a_2', 'A', 'a-1'])
    sql(`SELECT provsecret.seal('managed:project/${sortedWs}/${name}', 'v')`);
  const res = await api('GET', `/v1/workspaces/${sortedWs}/secrets`, { tok: await token('orderer') });
  assert.equal(res.status, 200);
  assert.deepEqual(res.json.secrets.map((s) => s.key), ['A', 'B', 'a-1', 'a_2', 'b']);
});
