// provsecret under Patroni: failover, switchover and replica reveals under
// load, against the three nodes test/ha/run.sh started.  Prints TAP and the
// figures (time to a new leader, time to REST, events checked).
//
// Load: two SQL sealers (each seal a new reference with a random value; a
// seal counts as acknowledged when the statement returned), one SQL
// resolver and two REST revealers (GET of a workspace secret with a unique
// X-Request-Id; counted when answered 200 with the right value), all aimed
// at whichever node Patroni reports as primary.  After each fault, on the
// new leader: every acknowledged seal resolves to its value (compared as
// SHA-256 digests), every answered REST reveal has its secret.revealed
// event, and the audit chain verifies.  Values never reach the output.
import pg from 'pg';
import http from 'node:http';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';

const DIR = process.env.HA_DIR;
const PG_PORTS = process.env.HA_PG_PORTS.split(' ').map(Number);
const PATRONI_PORTS = process.env.HA_PATRONI_PORTS.split(' ').map(Number);
const REST_PORTS = process.env.HA_REST_PORTS.split(' ').map(Number);
const TOKEN = readFileSync(process.env.HA_TOKEN_FILE, 'utf8').trim();
const NODES = PG_PORTS.map((_, i) => `node${i + 1}`);
const PROJECT = 'ha';
const BASE = 10; // secrets the revealers and the resolver read
const LOAD_BEFORE_MS = 3000; // load before each fault
const LOAD_AFTER_MS = 3000; // and after the new leader serves REST
const REST_DEADLINE_MS = 30000; // the issue's bound: REST within 30 s
const WAIT_MS = 120000; // the longest any wait may take

// --- TAP ---------------------------------------------------------------
let tests = 0;
let failures = 0;
function ok(cond, name, diag) {
  tests++;
  if (!cond) failures++;
  console.log(`${cond ? 'ok' : 'not ok'} ${tests} - ${name}`);
  if (!cond && diag) for (const line of String(diag).split('\n')) console.log(`#   ${line}`);
  return cond;
}
const note = (s) => console.log(`# ${s}`);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const digest = (s) => createHash('sha256').update(s, 'utf8').digest('hex');
const secs = (ms) => (ms / 1000).toFixed(1);

// --- clients -----------------------------------------------------------
function pgConfig(i) {
  return {
    host: '127.0.0.1', port: PG_PORTS[i], user: 'postgres', database: 'postgres',
    connectionTimeoutMillis: 3000, query_timeout: 20000, application_name: 'ha-test',
  };
}

async function withClient(i, fn) {
  const c = new pg.Client(pgConfig(i));
  c.on('error', () => {});
  await c.connect();
  try { return await fn(c); } finally { await c.end().catch(() => {}); }
}
const query = (i, text, params) => withClient(i, (c) => c.query(text, params));
const scalar = async (i, text, params) => {
  const r = await query(i, text, params);
  return r.rows.length ? Object.values(r.rows[0])[0] : undefined;
};

function httpGet(port, path, headers = {}, timeout = 5000) {
  return new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: 'GET', headers, agent: false, timeout }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve({ status: 0, body: e.code || e.message }));
    req.end();
  });
}

function patronictl(...args) {
  return new Promise((resolve) => {
    execFile('patronictl', ['-c', `${DIR}/node1.yml`, ...args], { timeout: 90000 },
      (err, stdout, stderr) => resolve({ ok: !err, out: `${stdout}${stderr}` }));
  });
}

// --- cluster state -------------------------------------------------------
/* Patroni's /cluster from the first node that answers. */
async function members() {
  for (const port of PATRONI_PORTS) {
    const r = await httpGet(port, '/cluster', {}, 2000);
    if (r.status === 200) {
      try { return JSON.parse(r.body).members || []; } catch { /* next */ }
    }
  }
  return [];
}

/* The index of the node whose Patroni says it runs as primary, or -1. */
async function primary(except = -1) {
  for (let i = 0; i < NODES.length; i++) {
    if (i === except) continue;
    if ((await httpGet(PATRONI_PORTS[i], '/primary', {}, 1000)).status === 200) return i;
  }
  return -1;
}

async function waitFor(what, fn, ms = WAIT_MS, step = 100) {
  const until = Date.now() + ms;
  let last;
  while (Date.now() < until) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false && v !== null) return v;
    } catch (e) { last = e; }
    await sleep(step);
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ''}`);
}

/*
 * Three members running, a leader, a synchronous standby, and (unless
 * rest is false: before CREATE EXTENSION) REST ready on the leader.
 */
async function waitHealthy(what, rest = true) {
  const t0 = Date.now();
  const leader = await waitFor(`a healthy cluster (${what})`, async () => {
    const m = await members();
    const leaders = m.filter((x) => x.role === 'leader' && x.state === 'running');
    const sync = m.filter((x) => x.role === 'sync_standby' && ['running', 'streaming'].includes(x.state));
    const up = m.filter((x) => ['running', 'streaming'].includes(x.state));
    if (m.length !== 3 || up.length !== 3 || leaders.length !== 1 || sync.length < 1) return false;
    const i = NODES.indexOf(leaders[0].name);
    if (!rest) return i;
    return (await httpGet(REST_PORTS[i], '/readyz')).status === 200 ? i : false;
  }, WAIT_MS, 250);
  note(`cluster healthy (${what}) after ${secs(Date.now() - t0)} s: leader ${NODES[leader]}`);
  return leader;
}

/* Wait until node i has replayed what the leader had written. */
async function caughtUp(leader, i) {
  const lsn = await scalar(leader, 'SELECT pg_current_wal_lsn()::text');
  await waitFor(`${NODES[i]} to replay ${lsn}`, async () =>
    (await scalar(i, 'SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn', [lsn])) === true, 30000, 100);
}

const resolveDigest = "SELECT encode(sha256(convert_to(provsecret.resolve($1), 'UTF8')), 'hex') AS d";
const baseValues = [];
const baseRef = (k) => `managed:project/${PROJECT}/BASE_${k}`;
const REPLICA_REF = `managed:project/${PROJECT}/REPLICA_READ`;
let replicaDigest;
let eventsChecked = 0;
const figures = [];

// --- load ---------------------------------------------------------------
function startLoad(label, leader) {
  const st = {
    label, leader, stop: false, seals: [], sealErrors: 0, resolves: 0, resolveErrors: 0,
    wrong: 0, reveals: [], revealErrors: 0, byLeader: {},
  };
  const tracker = (async () => {
    while (!st.stop) {
      const p = await primary();
      if (p >= 0) st.leader = p;
      await sleep(100);
    }
  })();

  async function sqlLoop(w, step) {
    let c = null;
    let at = -1;
    for (let k = 0; !st.stop; k++) {
      const idx = st.leader;
      try {
        if (!c || at !== idx) {
          if (c) c.end().catch(() => {});
          c = new pg.Client(pgConfig(idx));
          c.on('error', () => {});
          at = idx;
          await c.connect();
        }
        await step(c, k, idx);
      } catch {
        if (c) c.end().catch(() => {});
        c = null;
        await sleep(200);
      }
      await sleep(25);
    }
    if (c) await c.end().catch(() => {});
  }

  const sealer = (w) => sqlLoop(w, async (c, k, idx) => {
    const ref = `managed:project/${PROJECT}/${label}_${w}_${k}`;
    const value = `ha-${label}-${w}-${k}-${randomBytes(8).toString('hex')}`;
    try {
      await c.query('SELECT provsecret.seal($1, $2)', [ref, value]);
    } catch (e) { st.sealErrors++; throw e; }
    st.seals.push({ ref, d: digest(value), node: idx, at: Date.now() });
    st.byLeader[idx] = (st.byLeader[idx] || 0) + 1;
  });
  const resolver = (w) => sqlLoop(w, async (c, k) => {
    const b = k % BASE;
    let r;
    try { r = await c.query(resolveDigest, [baseRef(b)]); } catch (e) { st.resolveErrors++; throw e; }
    if (r.rows[0].d === baseValues[b]) st.resolves++;
    else st.wrong++;
  });
  async function revealer(w) {
    for (let k = 0; !st.stop; k++) {
      const b = k % BASE;
      const id = `ha-${label}-${w}-${k}`;
      const node = st.leader;
      const r = await httpGet(REST_PORTS[node], `/v1/workspaces/${PROJECT}/secrets/BASE_${b}`,
        { authorization: `Bearer ${TOKEN}`, 'x-request-id': id });
      if (r.status === 200) {
        let v;
        try { v = JSON.parse(r.body).value; } catch { /* counted as wrong */ }
        if (v !== undefined && digest(v) === baseValues[b]) st.reveals.push({ id, node, at: Date.now() });
        else st.wrong++;
      } else {
        st.revealErrors++;
        await sleep(200);
      }
      await sleep(25);
    }
  }
  const loops = [sealer('a'), sealer('b'), resolver('r'), revealer('x'), revealer('y'), tracker];
  st.done = () => { st.stop = true; return Promise.all(loops); };
  return st;
}

/* After a fault, on the new leader: seals, reveal events, the chain. */
async function verify(st, leader) {
  const what = `${st.label}: on the new leader ${NODES[leader]}`;
  const missing = [];
  await withClient(leader, async (c) => {
    for (const s of st.seals) {
      try {
        const r = await c.query(resolveDigest, [s.ref]);
        if (r.rows[0].d !== s.d) missing.push(`${s.ref}: another value`);
      } catch (e) { missing.push(`${s.ref}: ${e.code} ${e.message}`); }
    }
  });
  ok(st.seals.length > 0 && missing.length === 0,
    `${what}: every acknowledged seal resolves to its value (${st.seals.length} seals)`, missing.slice(0, 10).join('\n'));
  const found = (await query(leader, `SELECT DISTINCT request_id FROM provsecret.audit_log
      WHERE action = 'secret.revealed' AND outcome = 'ok' AND channel = 'rest'
        AND principal = 'user:ha-user' AND request_id = ANY($1)`, [st.reveals.map((x) => x.id)]))
    .rows.map((x) => x.request_id);
  const lost = st.reveals.filter((x) => !found.includes(x.id))
    .map((x) => `${x.id} answered by ${NODES[x.node]} ${x.at - st.t0} ms after the fault`);
  ok(st.reveals.length > 0 && lost.length === 0,
    `${what}: every answered REST reveal has its audit event (${found.length} of ${st.reveals.length})`,
    lost.slice(0, 10).join('\n'));
  ok(st.wrong === 0, `${st.label}: no resolve or reveal returned another value (${st.wrong})`);
  ok((await scalar(leader, 'SELECT bool_and(ok) FROM provsecret.verify_audit_chain()')) === true,
    `${what}: verify_audit_chain() passes`);
  eventsChecked += st.seals.length + st.reveals.length;
  note(`${st.label}: ${st.seals.length} seals acknowledged (${st.sealErrors} failed), ` +
    `${st.resolves} SQL resolves (${st.resolveErrors} failed), ${st.reveals.length} REST reveals answered ` +
    `(${st.revealErrors} not), seals per node ${JSON.stringify(st.byLeader)}`);
  return st;
}

/* Run the load, apply fault(st) -> {old, leader, t0}, measure, verify. */
async function underLoad(label, fault) {
  const leader0 = await waitHealthy(`before ${label}`);
  const st = startLoad(label, leader0);
  await sleep(LOAD_BEFORE_MS);
  const { old, t0 } = await fault(st);
  st.t0 = t0;
  let leader = -1;
  let tLeader = NaN;
  let tRest = NaN;
  try {
    leader = await waitFor('a new leader', async () => {
      const p = await primary(old);
      return p >= 0 ? p : false;
    }, 60000, 50);
    tLeader = Date.now() - t0;
    await waitFor('REST on the new leader', async () =>
      (await httpGet(REST_PORTS[leader], '/readyz', {}, 2000)).status === 200, 60000, 50);
    tRest = Date.now() - t0;
  } catch (e) { note(e.message); }
  ok(leader >= 0 && leader !== old, `${label}: a new leader is elected (${leader >= 0 ? NODES[leader] : 'none'}, was ${NODES[old]})`);
  ok(tRest <= REST_DEADLINE_MS, `${label}: its REST listener answers /readyz within 30 s (${secs(tRest)} s)`);
  // the load goes on until the new leader has acknowledged some of it
  // (seals and reveals wait for its synchronous standby), then a little more
  const onNew = (list) => list.filter((x) => x.node === leader && x.at > t0);
  try {
    await waitFor('seals and reveals acknowledged by the new leader', async () =>
      onNew(st.reveals).length >= 5 && onNew(st.seals).length >= 5, 60000, 100);
  } catch (e) { note(e.message); }
  await sleep(LOAD_AFTER_MS);
  await st.done();
  const first = (list) => Math.min(...onNew(list).map((x) => x.at)) - t0;
  const tSeal = first(st.seals);
  const tReveal = first(st.reveals);
  ok(onNew(st.reveals).length > 0 && onNew(st.seals).length > 0,
    `${label}: the new leader acknowledges seals (${onNew(st.seals).length}) and answers REST reveals (${onNew(st.reveals).length})`);
  note(`${label}: time to new leader ${secs(tLeader)} s, time to REST ${secs(tRest)} s, ` +
    `first seal acknowledged ${secs(tSeal)} s, first REST reveal answered ${secs(tReveal)} s`);
  figures.push({ label, tLeader, tRest, tSeal, tReveal, seals: st.seals.length, reveals: st.reveals.length });
  if (leader >= 0) await verify(st, leader);
  return leader;
}

/* A replica's SQL reveal: the value, and its event on the node that leads. */
async function replicaReveal(label, leader) {
  const replica = [0, 1, 2].find((i) => i !== leader);
  await caughtUp(leader, replica);
  const count = () => scalar(leader, `SELECT count(*)::int FROM provsecret.audit_log
      WHERE action = 'secret.revealed' AND reference = $1 AND detail = 'forwarded by a standby'`, [REPLICA_REF]);
  const before = await count();
  let got;
  try { got = (await query(replica, resolveDigest, [REPLICA_REF])).rows[0].d; } catch (e) { got = `${e.code} ${e.message}`; }
  ok(got === replicaDigest, `${label}: the replica ${NODES[replica]} resolves in SQL`, got);
  const after = await count();
  ok(after === before + 1, `${label}: its event is on the leader ${NODES[leader]}, forwarded (${before} -> ${after})`);
  eventsChecked += 1;
  return replica;
}

// --- the scenarios ---------------------------------------------------------
async function setup() {
  const leader = await waitHealthy('bootstrap', false);
  await withClient(leader, async (c) => {
    await c.query('CREATE EXTENSION provsecret');
    // the standbys forward their reveal events over primary_conninfo (Patroni's replication user)
    await c.query('GRANT provsecret_forwarder TO replicator');
    await c.query('SELECT provsecret.register_project($1)', [PROJECT]);
    await c.query("SELECT provsecret.grant('user:ha-user', $1, ARRAY['read'])", [`project/${PROJECT}`]);
    for (let k = 0; k < BASE; k++) {
      const v = `ha-base-${k}-${randomBytes(8).toString('hex')}`;
      await c.query('SELECT provsecret.seal($1, $2)', [baseRef(k), v]);
      baseValues.push(digest(v));
    }
    const v = `ha-replica-${randomBytes(8).toString('hex')}`;
    await c.query('SELECT provsecret.seal($1, $2)', [REPLICA_REF, v]);
    replicaDigest = digest(v);
  });
  await waitFor('REST ready after CREATE EXTENSION', async () =>
    (await httpGet(REST_PORTS[leader], '/readyz')).status === 200, 30000, 100);
  for (let i = 0; i < NODES.length; i++) {
    if (i === leader) continue;
    const r = await httpGet(REST_PORTS[i], '/readyz', {}, 2000);
    ok(r.status !== 200, `a replica (${NODES[i]}) is not ready for REST (${r.status || r.body})`);
  }
  return leader;
}

async function main() {
  let leader = await setup();
  ok(true, `setup: extension on the leader ${NODES[leader]}, ${BASE} secrets sealed`);
  await replicaReveal('replica', leader);

  // 1. SIGKILL of the leader's postmaster
  leader = await underLoad('failover', async (st) => {
    const old = st.leader;
    const pid = Number(readFileSync(`${DIR}/node${old + 1}/data/postmaster.pid`, 'utf8').split('\n')[0]);
    const t0 = Date.now();
    process.kill(pid, 'SIGKILL');
    note(`failover: SIGKILL of ${NODES[old]}'s postmaster (pid ${pid})`);
    return { old, t0 };
  });
  if (leader >= 0) await replicaReveal('after failover', await waitHealthy('after failover'));

  // 2. patronictl switchover to the synchronous standby
  leader = await underLoad('switchover', async (st) => {
    const old = st.leader;
    const sync = (await members()).find((m) => m.role === 'sync_standby');
    const t0 = Date.now();
    const r = await patronictl('switchover', '--leader', NODES[old], '--candidate', sync.name, '--force');
    ok(r.ok, `switchover: patronictl switchover ${NODES[old]} -> ${sync.name}`, r.out);
    return { old, t0 };
  });

  // 3. no leader: Patroni paused, the leader's postmaster killed; a
  // replica's reveal fails closed; after resume it goes to the new leader
  leader = await waitHealthy('before the leaderless period');
  let r = await patronictl('pause', '--wait');
  ok(r.ok, 'leaderless: patronictl pause', r.out);
  const replica = [0, 1, 2].find((i) => i !== leader);
  await caughtUp(leader, replica);
  const pid = Number(readFileSync(`${DIR}/node${leader + 1}/data/postmaster.pid`, 'utf8').split('\n')[0]);
  process.kill(pid, 'SIGKILL');
  await waitFor('no primary', async () => (await primary()) < 0, 30000, 100);
  const t0 = Date.now();
  let res;
  try { res = (await query(replica, resolveDigest, [REPLICA_REF])).rows[0].d; } catch (e) { res = e; }
  const took = Date.now() - t0;
  ok(res instanceof Error && res.code === '55000',
    `leaderless: a reveal on the replica ${NODES[replica]} fails closed with 55000 (${secs(took)} s)`,
    res instanceof Error ? res.message : 'a value was returned');
  ok(!(typeof res === 'string'), 'leaderless: no value returned');
  r = await patronictl('resume', '--wait');
  ok(r.ok, 'leaderless: patronictl resume', r.out);
  leader = await waitHealthy('after resume');
  await replicaReveal('after resume', leader);
  ok((await scalar(leader, 'SELECT bool_and(ok) FROM provsecret.verify_audit_chain()')) === true,
    `end: verify_audit_chain() passes on ${NODES[leader]}`);

  for (const f of figures) {
    note(`figures ${f.label}: time to new leader ${secs(f.tLeader)} s, time to REST ${secs(f.tRest)} s ` +
      `(first seal ${secs(f.tSeal)} s, first reveal ${secs(f.tReveal)} s), ` +
      `${f.seals} seals and ${f.reveals} REST reveal events checked`);
  }
  note(`events checked in all: ${eventsChecked}`);
}

try {
  await main();
} catch (e) {
  ok(false, `the scenario ran to its end`, e.stack);
}
console.log(`1..${tests}`);
process.exit(failures ? 1 : 0);
