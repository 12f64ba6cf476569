// Resolver series on /metrics (Prometheus text): outcomes of external
// resolves (ok, not_found, error, rejected_open_breaker, cache_hit) and the
// latency of backend calls, read from shared memory after resolves in SQL
// sessions.  The page needs no token, so by default the series are by
// resolver kind and never show a (tenant-chosen) resolver name; with
// provsecret.metrics_resolver_names on they are per resolver, and past the
// tracked number of resolvers, later names add up under resolver="_other".
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { api, grant, reconfigure, sql, token, waitFor, PGBIN, PGPORT, TMP } from '../lib/env.mjs';
import { createBackends, refusedPort } from '../../fake-backends/secret_backends.mjs';

/* SQL in one psql session without blocking the event loop (the stand-in
   backends answer from this process). */
async function sqlAsync(query) {
  const argv = [`${PGBIN}/psql`, '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1',
    '-h', TMP, '-p', PGPORT, '-U', 'postgres', '-d', 'postgres', '-c', query];
  const [cmd, ...args] = process.getuid && process.getuid() === 0
    ? ['runuser', '-u', 'postgres', '--', ...argv] : argv;
  const { stdout } = await promisify(execFile)(cmd, args, { encoding: 'utf8' });
  return stdout.trim();
}

const vaultToken = `vt-canary-${Math.random().toString(36).slice(2)}`;
const value = `sk-met-canary-${Math.random().toString(36).slice(2)}`;
const backends = createBackends({ vaultToken, infisicalToken: 'unused-i', jsonToken: 'unused-j' });
let down;

/* The value of one sample, or undefined when the page does not have it. */
function sample(text, name, labels) {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`).join(',');
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${want}} `));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

async function metrics() {
  const r = await api('GET', '/metrics');
  assert.equal(r.status, 200);
  return r.text;
}

const swallow = (ref) => `DO $$ BEGIN PERFORM provsecret.resolve('${ref}');
  EXCEPTION WHEN OTHERS THEN NULL; END $$;`;

before(async () => {
  const port = await backends.listen();
  const base = `http://127.0.0.1:${port}`;
  down = `http://127.0.0.1:${await refusedPort()}`;
  await fetch(`${base}/v1/secret/data/team/openai`, {
    method: 'POST',
    headers: { 'x-vault-token': vaultToken, 'content-type': 'application/json' },
    body: JSON.stringify({ data: { value } }),
  });
  sql(`SELECT provsecret.register_project('met-ws', NULL)`);
  sql(`SELECT provsecret.seal('managed:project/met-ws/vault-token', '${vaultToken}')`);
  for (const [name, url, opts] of [
    ['met-ok', base, '{}'],
    ['met-cache', base, '{"cache_ttl_s":60}'],
    ['met-down', down, '{"timeout_ms":1000,"breaker_failures":2,"breaker_cooldown_s":60}'],
  ]) {
    sql(`SELECT provsecret.create_resolver('${name}', 'project/met-ws', 'vault-kv2', '${url}',
         '${opts}', 'managed:project/met-ws/vault-token')`);
  }
});

after(() => {
  backends.close();
  reconfigure({ 'provsecret.metrics_resolver_names': null });
});

test('by default, series by kind: no resolver name on the page', async () => {
  const okBefore = sample(await metrics(), 'provsecret_resolver_requests_total', { kind: 'vault-kv2', outcome: 'ok' }) ?? 0;
  await sqlAsync(`SELECT provsecret.resolve('external:met-ok/team/openai');
       SELECT provsecret.resolve('external:met-ok/team/openai');`);
  const text = await metrics();
  assert.ok(!text.includes('met-'), 'no resolver name on the page');
  assert.ok(!/resolver="/.test(text), 'no resolver label at all');
  assert.equal(sample(text, 'provsecret_resolver_requests_total', { kind: 'vault-kv2', outcome: 'ok' }), okBefore + 2,
    'the two resolves count under kind="vault-kv2"');
  for (const kind of ['vault-kv2', 'infisical', 'http-json']) {
    assert.notEqual(sample(text, 'provsecret_resolver_request_duration_seconds_count', { kind }), undefined,
      `a latency series for ${kind}`);
  }

  reconfigure({ 'provsecret.metrics_resolver_names': 'on' });
  await waitFor('resolver names on /metrics', async () => (await metrics()).includes('resolver="met-ok"'));
});

test('outcomes and latency per resolver (metrics_resolver_names on)', async () => {
  // one session each, so the value cache sees its own puts
  assert.equal(await sqlAsync(`SELECT provsecret.resolve('external:met-ok/team/openai');
       SELECT provsecret.resolve('external:met-ok/team/openai');
       SELECT provsecret.resolve('external:met-ok/team/openai');
       ${swallow('external:met-ok/team/none')}`), [value, value, value].join('\n'));
  await sqlAsync(`SELECT provsecret.resolve('external:met-cache/team/openai');
       SELECT provsecret.resolve('external:met-cache/team/openai');
       SELECT provsecret.resolve('external:met-cache/team/openai');`);
  await sqlAsync(Array(4).fill(swallow('external:met-down/team/openai')).join('\n'));

  const text = await metrics();
  const count = (resolver, outcome) => sample(text, 'provsecret_resolver_requests_total', { resolver, outcome });
  assert.match(text, /^# TYPE provsecret_resolver_requests_total counter$/m);
  assert.match(text, /^# TYPE provsecret_resolver_request_duration_seconds histogram$/m);

  assert.deepEqual(['ok', 'not_found', 'error', 'rejected_open_breaker', 'cache_hit'].map((o) => count('met-ok', o)),
    [5, 1, 0, 0, 0], 'met-ok: five values (two from the test before) and a clean 404');
  assert.deepEqual(['ok', 'cache_hit', 'error'].map((o) => count('met-cache', o)), [1, 2, 0],
    'met-cache: one fetch, then two cache hits');
  assert.deepEqual(['ok', 'error', 'rejected_open_breaker'].map((o) => count('met-down', o)), [0, 2, 2],
    'met-down: two failures open the breaker, the next two are rejected without a call');

  const hist = (resolver, suffix, le) => sample(text, `provsecret_resolver_request_duration_seconds_${suffix}`,
    le === undefined ? { resolver } : { resolver, le });
  assert.equal(hist('met-ok', 'count'), 6, 'met-ok: six backend calls timed');
  assert.equal(hist('met-ok', 'bucket', '+Inf'), 6);
  assert.ok(hist('met-ok', 'sum') > 0 && hist('met-ok', 'sum') < 6 * 5, 'a plausible latency sum');
  assert.equal(hist('met-cache', 'count'), 1, 'cache hits make no backend call');
  assert.equal(hist('met-down', 'count'), 2, 'rejected calls make no backend call');
  let previous = 0;
  for (const line of text.split('\n').filter((l) => l.startsWith('provsecret_resolver_request_duration_seconds_bucket{resolver="met-ok",'))) {
    const n = Number(line.slice(line.lastIndexOf(' ') + 1));
    assert.ok(n >= previous, `buckets are cumulative: ${line}`);
    previous = n;
  }
  assert.ok(!text.includes(vaultToken) && !text.includes(value), 'neither token nor value on the page');
});

test('REST resolves count too', async () => {
  const beforeText = await metrics();
  grant('met-user', 'met-ws', ['read']);
  const tok = await token('met-user');
  const r = await api('POST', '/v1/resolve', { tok, body: { reference: 'external:met-down/team/openai' } });
  assert.equal(r.status, 502, r.text);
  const afterText = await metrics();
  const rejected = (t) => sample(t, 'provsecret_resolver_requests_total', { resolver: 'met-down', outcome: 'rejected_open_breaker' });
  assert.equal(rejected(afterText), rejected(beforeText) + 1);
});

test('past the tracked number of resolvers, later ones add up under _other', async () => {
  const n = 70;
  const names = Array.from({ length: n }, (_, i) => `met-many-${String(i).padStart(2, '0')}`);
  sql(names.map((name) => `SELECT provsecret.create_resolver('${name}', 'project/met-ws', 'http-json',
       '${down}', '{"timeout_ms":1000,"breaker_failures":0}');`).join('\n'));
  await sqlAsync(names.map((name) => swallow(`external:${name}/x`)).join('\n'));

  const text = await metrics();
  const labels = new Set([...text.matchAll(/^provsecret_resolver_requests_total\{resolver="([^"]*)"/gm)].map((m) => m[1]));
  assert.ok(labels.size <= 65, `at most 64 resolvers and _other (${labels.size})`);
  assert.ok(labels.has('_other'), 'the rest are under _other');
  const errors = (resolver) => sample(text, 'provsecret_resolver_requests_total', { resolver, outcome: 'error' }) ?? 0;
  const tracked = names.filter((name) => labels.has(name)).reduce((sum, name) => sum + errors(name), 0);
  assert.ok(tracked + errors('_other') >= n, 'every failure is counted somewhere');
  assert.ok(tracked < n, 'not every one of them has its own series');
  assert.equal(errors('met-ok'), 0, 'resolvers tracked earlier keep their series');
  assert.equal(sample(text, 'provsecret_resolver_requests_total', { resolver: 'met-ok', outcome: 'ok' }), 5);
});
