// The authorization matrix (docs/SECURITY.md): every SQL function, view,
// table and sequence of the extension and every REST route, called by every
// actor on four tenants (own company, another company, a company-less
// project, a project not yet registered), from ONE spec, test/authz/matrix.spec.
// Each case asserts allow/deny (SQLSTATE 42501 / HTTP 403, 401 without a
// token; 403 for every refusal of the Vault dialect) and the audit events it
// left (action, outcome, principal, channel),
// read from audit_log as provsecret_auditor.  A function, relation or route
// without a row fails the coverage tests.  Values are canaries; the test
// never prints a resolved value (calls wrap resolve() in length()).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { BASE, PGBIN, PGPORT, TMP, api, claims, sign, sql } from '../lib/env.mjs';

const BASE_URL = new URL(BASE);

const SPEC_PATH = new URL('../../authz/matrix.spec', import.meta.url);
const OPENAPI_PATH = new URL('../../../docs/openapi.json', import.meta.url);
const UI_DOC_PATH = new URL('../../../docs/ui.md', import.meta.url);
const TENANTS = ['A', 'G', 'S', 'F'];
const TENANT_NAMES = { A: 'own company', G: 'other company', S: 'company-less project', F: 'unregistered' };

/* ---------------------------------------------------------------- spec */

function parseCells(text, n) {
  const cells = text.trim().split(/\s+/);
  if (cells.length !== n) throw new Error(`expected ${n} cells, got ${cells.length}: ${text}`);
  for (const c of cells) {
    if (!/^[-+.]$|^[-+.]{4}$/.test(c)) throw new Error(`bad cell "${c}"`);
  }
  return cells;
}

function parseAudit(text) {
  const [ok, deny] = text.split('/').map((s) => s.trim());
  if (ok === undefined || deny === undefined) throw new Error(`bad audit field: ${text}`);
  return { ok, deny };
}

export function parseSpec(text) {
  const spec = { sql: { actors: [], rows: [] }, rest: { actors: [], rows: [] }, ui: { actors: [], rows: [] }, vault: { actors: [], rows: [] }, internal: new Map() };
  let section = null;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\s+$/, '');
    if (line === '' || line.startsWith('#')) continue;
    let m = /^\[(sql|rest|ui|vault)\]\s+(.*)$/.exec(line);
    if (m) {
      section = m[1];
      spec[section].actors = m[2].trim().split(/\s+/);
      continue;
    }
    m = /^internal\s+(\S+)\s+(.+)$/.exec(line);
    if (m) { spec.internal.set(m[1], m[2]); continue; }
    if (!section) throw new Error(`row outside a section: ${line}`);
    const [main, prep] = line.split(' || ');
    const f = main.split(' | ').map((s) => s.trim());
    const row = { name: f[0], audit: parseAudit(f[1]), cells: parseCells(f[2], spec[section].actors.length), prep: prep?.trim() };
    if (section === 'sql') {
      row.call = f[3];
      const ok = f.slice(4).find((x) => x.startsWith('ok='));
      row.okCodes = ok ? ok.slice(3).split(',') : null;
    } else {
      const [method, route] = f[3].split(/\s+/);
      row.method = method;
      row.route = route;
      row.path = f[4];
      const rest = f.slice(5);
      row.body = rest.find((x) => !x.startsWith('ok='));
      const ok = rest.find((x) => x.startsWith('ok='));
      row.okCodes = ok ? ok.slice(3).split(',') : null;
    }
    const list = spec[section].rows;
    const dup = list.findIndex((r) => r.name === row.name);
    if (dup >= 0) list[dup] = row; else list.push(row);
  }
  return spec;
}

const spec = parseSpec(readFileSync(SPEC_PATH, 'utf8'));

/* ---------------------------------------------------------------- psql */

const asRoot = process.getuid && process.getuid() === 0;

/*
 * One psql session for every case (a connection costs ~0.25 s here).  A
 * script is written to its stdin and answered up to an end marker; errors
 * do not stop it.  After each statement that matters the script echoes
 * :SQLSTATE (00000 on success) and :LAST_ERROR_MESSAGE, so stderr is not
 * needed.  Line-buffered (stdbuf) so each answer arrives when written.
 */
let session = null;
let ended = 0;
function openSession() {
  const argv = ['stdbuf', '-oL', `${PGBIN}/psql`, '-X', '-q', '-A', '-t', '-n',
    '-h', TMP, '-p', PGPORT, '-U', 'postgres', '-d', 'postgres', '-f', '-'];
  const [cmd, ...args] = asRoot ? ['runuser', '-u', 'postgres', '--', ...argv] : argv;
  const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'ignore'] });
  session = { child, buf: '', waiting: null };
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (d) => {
    session.buf += d;
    if (session.waiting) session.waiting();
  });
}

function psql(script) {
  const tag = `@@END${++ended}`;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`psql did not answer: ${script.slice(0, 200)}`)), 60000);
    session.waiting = () => {
      const at = session.buf.indexOf(`${tag}\n`);
      if (at < 0) return;
      const out = session.buf.slice(0, at);
      session.buf = session.buf.slice(at + tag.length + 1);
      session.waiting = null;
      clearTimeout(timer);
      resolve({ out });
    };
    session.child.stdin.write(`${script}\n\\echo ${tag}\n`);
    session.waiting();
  });
}

const AUDIT_QUERY = `SET ROLE m_audreader;
SELECT '@@EV ' || action || ' ' || outcome || ' ' || principal || ' ' || channel
  FROM provsecret.audit_log WHERE id > :marker ORDER BY id;
RESET ROLE;`;
const ECHO_STATE = (tag) => `\\echo @@${tag} :SQLSTATE :LAST_ERROR_MESSAGE`;

function parseEvents(out) {
  return out.split('\n').filter((l) => l.startsWith('@@EV ')).map((l) => {
    const [, action, outcome, principal, channel] = l.split(' ');
    return { action, outcome, principal, channel };
  });
}

/* ---------------------------------------------------------------- fixture */

const SQL_ROLES = {
  super: 'CREATE ROLE m_super SUPERUSER',
  admin: 'CREATE ROLE m_admin IN ROLE provsecret_admin',
  auditor: 'CREATE ROLE m_auditor IN ROLE provsecret_auditor',
  ownmgr: 'CREATE ROLE m_ownmgr',
  pmgr: 'CREATE ROLE m_pmgr',
  othermgr: 'CREATE ROLE m_othermgr',
  nogrant: 'CREATE ROLE m_nogrant',
  readall: 'CREATE ROLE m_readall IN ROLE pg_read_all_data',
  writeall: 'CREATE ROLE m_writeall IN ROLE pg_write_all_data',
};
const ALL = "ARRAY['describe','read','write','delete','manage']";

const REST_TOKENS = {
  uacme: { sub: 'u-acme', azp: 'mx-app' },
  creader: { sub: 'c-reader-sub', azp: 'c-reader' },
  rwriter: { sub: 'r-writer-sub', azp: 'mx-app', realm_access: { roles: ['r-writer'] } },
  gdesc: { sub: 'g-desc-sub', azp: 'mx-app', groups: ['g-desc'] },
  uglobex: { sub: 'u-globex', azp: 'mx-app' },
  unone: { sub: 'u-none', azp: 'mx-app' },
  anon: null,
};
const tokens = {};

const FIXTURE = `
CREATE SCHEMA authz_matrix;
CREATE FUNCTION authz_matrix.ensure_secret(ref text) RETURNS void LANGUAGE plpgsql AS $f$
BEGIN
  IF EXISTS (SELECT 1 FROM provsecret.secrets WHERE reference = ref) THEN
    IF EXISTS (SELECT 1 FROM provsecret.versions(ref) WHERE value_version = 1) THEN RETURN; END IF;
    PERFORM provsecret.delete_secret(ref);
  END IF;
  PERFORM provsecret.seal(ref, 'canary-authz-matrix-1', NULL);
  PERFORM provsecret.seal(ref, 'canary-authz-matrix-2', NULL);
END $f$;
CREATE FUNCTION authz_matrix.ensure_resolver(n text, t text, auth text DEFAULT NULL) RETURNS void LANGUAGE plpgsql AS $f$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM provsecret.resolvers WHERE name = n) THEN
    PERFORM provsecret.create_resolver(n, t, 'http-json', 'http://127.0.0.1:9/', '{"timeout_ms":1000,"breaker_failures":0}', auth);
  END IF;
END $f$;
CREATE FUNCTION authz_matrix.ensure_grant(p text, t text, perms text[]) RETURNS void LANGUAGE plpgsql AS $f$
BEGIN
  IF (SELECT count(*) FROM provsecret.grants WHERE principal = p AND target = t AND permission = ANY (perms))
     < cardinality(perms) THEN
    PERFORM provsecret.grant(p, t, perms);
  END IF;
END $f$;
-- the tenants as every case finds them
CREATE FUNCTION authz_matrix.reset() RETURNS void LANGUAGE plpgsql AS $f$
DECLARE r text;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM provsecret.project WHERE project = 'pa') THEN
    PERFORM provsecret.register_company('acme');
    PERFORM provsecret.register_company('globex');
    PERFORM provsecret.register_project('pa', 'acme');
    PERFORM provsecret.register_project('pg', 'globex');
    PERFORM provsecret.register_project('ps');
  END IF;
  PERFORM provsecret.unbind_workspace(project) FROM provsecret.workspace_bindings
   WHERE project IN ('pa', 'pg', 'ps');
  FOREACH r IN ARRAY ARRAY['project/pa', 'project/pg', 'project/ps', 'company/acme', 'company/globex'] LOOP
    PERFORM authz_matrix.ensure_secret('managed:' || r || '/K');
    PERFORM authz_matrix.ensure_secret('managed:' || r || '/D');
  END LOOP;
  PERFORM authz_matrix.ensure_resolver('r_pa', 'project/pa');
  PERFORM authz_matrix.ensure_resolver('r_pg', 'project/pg');
  PERFORM authz_matrix.ensure_resolver('r_ps', 'project/ps');
  PERFORM authz_matrix.ensure_resolver('rt_' || p, 'project/' || p, 'managed:project/' || p || '/K')
     FROM unnest(ARRAY['pa', 'pg', 'ps']) p;
  PERFORM authz_matrix.ensure_resolver('rc_acme', 'company/acme');
  PERFORM authz_matrix.ensure_resolver('rc_globex', 'company/globex');
  PERFORM authz_matrix.ensure_grant('db:m_nobody', 'project/' || p, ARRAY['describe'])
     FROM unnest(ARRAY['pa', 'pg', 'ps']) p;
  PERFORM authz_matrix.ensure_grant('db:m_ownmgr', 'company/acme', ${ALL});
  PERFORM authz_matrix.ensure_grant('db:m_pmgr', 'project/pa', ${ALL});
  PERFORM authz_matrix.ensure_grant('db:m_othermgr', 'company/globex', ${ALL});
  PERFORM authz_matrix.ensure_grant('user:u-acme', 'company/acme', ${ALL});
  PERFORM authz_matrix.ensure_grant('client:c-reader', 'project/pa', ARRAY['describe','read']);
  PERFORM authz_matrix.ensure_grant('role:r-writer', 'project/pa', ARRAY['write','delete']);
  PERFORM authz_matrix.ensure_grant('group:g-desc', 'company/acme', ARRAY['describe']);
  PERFORM authz_matrix.ensure_grant('user:u-globex', 'company/globex', ${ALL});
END $f$;
-- a project that exists (it has a secret) in company c, or without one ('')
CREATE FUNCTION authz_matrix.tenant_project(p text, c text, fresh boolean) RETURNS void LANGUAGE plpgsql AS $f$
BEGIN
  IF fresh THEN RETURN; END IF;
  PERFORM provsecret.register_project(p, NULLIF(c, ''));
  PERFORM provsecret.seal('managed:project/' || p || '/K', 'canary-authz-matrix', NULL);
END $f$;
`;

function settingExists(name) {
  return sql(`SELECT count(*) FROM pg_settings WHERE name = '${name}'`) === '1';
}

const saved = {};
before(async () => {
  sql(Object.values(SQL_ROLES).join('; ') + '; CREATE ROLE m_audreader IN ROLE provsecret_auditor');
  sql(FIXTURE);
  const settings = {
    'provsecret.audit_level': 'all',
    'provsecret.env_allowlist': 'AUTHZ_MATRIX_UNSET',
    // DESIGN §9: loopback resolvers only for listed hosts (when the setting exists)
    'provsecret.outbound_allowed_hosts': '127.0.0.1',
  };
  for (const [name, value] of Object.entries(settings)) {
    if (!settingExists(name)) continue;
    saved[name] = sql(`SELECT setting FROM pg_settings WHERE name = '${name}'`);
    sql(`ALTER SYSTEM SET ${name} = '${value}'`);
  }
  sql('SELECT pg_reload_conf()');
  await new Promise((r) => setTimeout(r, 500));
  sql('SELECT authz_matrix.reset()');
  openSession();
  for (const [actor, c] of Object.entries(REST_TOKENS)) {
    if (c) tokens[actor] = await sign('rsa1', claims(c.sub, c));
  }
});

after(() => {
  if (session) session.child.stdin.end();
  for (const name of Object.keys(saved)) sql(`ALTER SYSTEM RESET ${name}`);
  sql('SELECT pg_reload_conf()');
});

/* ---------------------------------------------------------------- cases */

let counter = 0;
/* The fixture is restored (authz_matrix.reset()) only after a case that may have changed it. */
let dirty = true;
const READ_ONLY = /^(resolve\.external-tok|view\.|table\..*\.read$|resolve(\.|$)|versions|authenticate|has_permission|current_principal|root_key_role|verify_audit_chain|audit_worker_state|healthz|readyz|metrics|openapi|ws\.list|ws\.get|co\.list|co\.get|pr\.list|pr\.get|vault\.(read|list|meta\.get|health|lookup|login|revoke))/;
function resetSql(row) {
  const need = dirty || Boolean(row.prep);
  dirty = false;
  return need ? 'SELECT authz_matrix.reset();' : '';
}
function touched(row, allowed) {
  if (row.prep || (allowed && !READ_ONLY.test(row.name))) dirty = true;
}
function subst(text, tenant, i) {
  const names = {
    A: { P: 'pa', C: 'acme', X: 'globex' },
    G: { P: 'pg', C: 'globex', X: 'acme' },
    S: { P: 'ps', C: '', X: '' },
    F: { P: `pn${i}`, C: `cn${i}`, X: '' },
  }[tenant ?? 'A'];
  return text.replaceAll('{P}', names.P).replaceAll('{C}', names.C).replaceAll('{X}', names.X)
    .replaceAll('{F}', tenant === 'F' ? 'true' : 'false').replaceAll('{i}', String(i));
}

/* Expectations of one actor's cell: [{tenant, want}] with want '+', '-'. */
function cases(cell) {
  if (cell.length === 1) return cell === '.' ? [] : [{ tenant: null, want: cell, idx: 0 }];
  return [...cell].map((want, idx) => ({ tenant: TENANTS[idx], want, idx })).filter((c) => c.want !== '.');
}

function auditSpec(text) {
  if (text === '*' || text === 'none') return text;
  return text.split(',').map((alt) => alt.split('|').map((a) => {
    const [action, outcome] = a.split(':');
    return { action, outcome: outcome ?? (action === 'access.denied' ? 'denied' : 'ok') };
  }));
}

/* Problems with the events left, [] when they match. */
function checkAudit(field, events, principal, channel, tenant, actor) {
  const problems = [];
  // "spec;F=other": another expectation on one tenant (or one actor: "anon=...")
  const [base, ...overrides] = field.split(';');
  const override = overrides.map((o) => o.split('=')).find(([t]) => t === tenant)
    ?? overrides.map((o) => o.split('=')).find(([t]) => t === actor);
  const spec = auditSpec(override ? override[1] : base);
  const shown = events.map((e) => `${e.action}:${e.outcome}:${e.principal}:${e.channel}`).join(' ') || 'no event';
  if (spec === '*') return problems;
  if (spec === 'none') {
    if (events.length) problems.push(`audit: expected no event, got ${shown}`);
    return problems;
  }
  for (const alts of spec) {
    const hit = events.find((e) => alts.some((a) => a.action === e.action && a.outcome === e.outcome)
      && e.principal === principal && e.channel === channel);
    if (!hit) {
      problems.push(`audit: expected ${alts.map((a) => `${a.action}:${a.outcome}`).join('|')} by ${principal} on ${channel}, got ${shown}`);
    }
  }
  return problems;
}

async function runSqlCase(row, actor, tenant, want, idx) {
  const i = ++counter;
  const call = subst(row.call, tenant, i);
  const reset = resetSql(row);
  const prep = row.prep ? subst(row.prep, tenant, i) : '';
  // a call the runner wraps in a transaction it rolls back (direct table writes)
  const [begin, end] = row.rollback ? ['BEGIN;', 'ROLLBACK;'] : ['', ''];
  const script = `\\set ON_ERROR_STOP 0
${reset}
${reset ? ECHO_STATE('RESET') : ''}
${prep ? `${prep};\n${ECHO_STATE('PREP')}` : ''}
SELECT last_value AS marker FROM provsecret.audit_event_id_seq \\gset
SET ROLE m_${actor};
${begin}
\\echo @@CALL
${call};
${ECHO_STATE('STATE')}
${end}
RESET ROLE;
${AUDIT_QUERY}`;
  const { out } = await psql(script);
  if (process.env.MX_DEBUG && row.name.startsWith(process.env.MX_DEBUG)) console.log(`--- ${row.name} ${actor} ${tenant}\n${script}\n>>>\n${out}`);
  for (const tag of ['RESET', 'PREP']) {
    const m = new RegExp(`@@${tag} (\\S+)(.*)`).exec(out);
    if (m && m[1] !== '00000') { dirty = true; return [`fixture ${tag} failed (${m[1]}):${m[2]}`]; }
  }
  const sm = /@@STATE (\S+) ?(.*)/.exec(out);
  const state = sm?.[1] ?? '?';
  const msg = state === '00000' ? '' : (sm?.[2] ?? '').slice(0, 160);
  const result = out.split('@@CALL\n')[1]?.split('\n@@STATE')[0].trim().split('\n').pop() ?? '';
  const events = parseEvents(out);
  const problems = [];
  const isView = row.name.startsWith('view.') || /\.read$/.test(row.name);
  let got;
  if (state === '42501') got = '-';
  else if (isView) got = state === '00000' && result === 't' ? '+' : '-';
  else got = '+';
  touched(row, got === '+');
  if (got !== want) {
    problems.push(`${want === '+' ? 'allow' : 'deny (42501)'} expected, got ${state}${isView ? ` rows=${result}` : ''} ${msg}`);
  } else if (want === '+' && !isView && row.okCodes) {
    const code = row.okCodes[row.okCodes.length === 1 ? 0 : idx];
    if (code && code !== '*' && code !== '.' && code !== state) {
      problems.push(`allowed with ${code} expected, got ${state} ${msg}`);
    }
  }
  if (got === want) {
    problems.push(...checkAudit(want === '+' ? row.audit.ok : row.audit.deny, events, `db:m_${actor}`, 'sql', tenant));
  }
  return problems;
}

/*
 * A REST case; vault: a row of the [vault] section (the Vault dialect, docs/vault.md):
 * every refusal is 403 (anonymous too), events are on channel vault, and an
 * anonymous caller's events (login) name "anonymous".  {T} in a body is the
 * actor's token ("not-a-token" for anon).
 */
async function runRestCase(row, actor, tenant, want, vault = false) {
  const i = ++counter;
  const prep = row.prep ? `${subst(row.prep, tenant, i)};` : '';
  const a = await psql(`${resetSql(row)}
${prep}
SELECT '@@MARK ' || last_value FROM provsecret.audit_event_id_seq;`);
  const marker = /@@MARK (\d+)/.exec(a.out)?.[1];
  if (!marker) { dirty = true; return [`fixture failed: ${a.out}`]; }
  const body = row.body ? JSON.parse(subst(row.body, tenant, i).replaceAll('{T}', tokens[actor] ?? 'not-a-token')) : undefined;
  const r = await api(row.method, subst(row.path, tenant, i), { tok: tokens[actor], body });
  const { out } = await psql(`\\set marker ${marker}\n${AUDIT_QUERY}`);
  const events = parseEvents(out);
  const problems = [];
  const denyStatus = actor === 'anon' && !vault ? 401 : 403;
  const allowed = (r.status >= 200 && r.status < 300) || r.status === 404;
  touched(row, allowed);
  const code = r.json?.error?.code ?? (r.json?.errors ? JSON.stringify(r.json.errors) : '');
  if (vault && !(r.status === 204 || r.json)) problems.push(`a JSON body expected, got ${r.text.slice(0, 80)}`);
  if (vault && r.status >= 400 && !Array.isArray(r.json?.errors)) problems.push(`Vault's {"errors":[...]} expected, got ${r.text.slice(0, 80)}`);
  if (want === '+' && !allowed) problems.push(`allow expected, got HTTP ${r.status} ${code}`);
  else if (want === '+' && row.okCodes) {
    const expect = row.okCodes[row.okCodes.length === 1 ? 0 : TENANTS.indexOf(tenant)];
    if (expect && expect !== '*' && expect !== String(r.status)) problems.push(`allowed with HTTP ${expect} expected, got ${r.status} ${code}`);
  }
  if (want === '-' && r.status !== denyStatus) problems.push(`HTTP ${denyStatus} expected, got ${r.status} ${code}`);
  if (!problems.length && actor !== 'anon') {
    problems.push(...checkAudit(want === '+' ? row.audit.ok : row.audit.deny, events, `user:${REST_TOKENS[actor].sub}`, vault ? 'vault' : 'rest', tenant, actor));
  } else if (!problems.length && vault) {
    // anonymous: nothing recorded unless the row says so (";anon=...")
    const field = row.audit[want === '+' ? 'ok' : 'deny'];
    const anon = field.split(';').slice(1).find((o) => o.startsWith('anon='));
    problems.push(...checkAudit(anon ? `none;${anon}` : 'none', events, 'anonymous', 'vault', tenant, actor));
  }
  return problems;
}

/* ---------------------------------------------------------------- coverage */

test('coverage: every SQL function of the extension has a row (or is internal with a reason)', () => {
  const fns = sql(`SELECT p.proname || '/' || p.pronargs FROM pg_proc p
      JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
      JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'provsecret'
     ORDER BY 1`).split('\n').filter(Boolean);
  const missing = [];
  const arity = new Map();
  for (const f of fns) {
    const [name] = f.split('/');
    arity.set(name, (arity.get(name) ?? 0) + 1);
  }
  for (const [name, overloads] of arity) {
    if (spec.internal.has(name)) continue;
    const re = new RegExp(`provsecret\\."?${name}"?\\(`);
    const rows = spec.sql.rows.filter((r) => re.test(r.call));
    if (rows.length < overloads) missing.push(`${name} (${overloads} overload(s), ${rows.length} row(s))`);
  }
  assert.deepEqual(missing, [], 'functions without a matrix row');
});

const relations = () => sql(`SELECT c.relkind::text || ' ' || c.relname FROM pg_class c
    JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e'
    JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'provsecret'
   ORDER BY 1`).split('\n').filter(Boolean).map((l) => l.split(' '));

test('coverage: every view of the extension has a row', () => {
  const missing = relations().filter(([k]) => k === 'v').map(([, n]) => n)
    .filter((n) => !spec.sql.rows.some((r) => r.call.includes(`provsecret.${n} `) || r.call.includes(`provsecret.${n}\n`)
      || r.call.endsWith(`provsecret.${n}`)));
  assert.deepEqual(missing, [], 'views without a matrix row');
});

function routesOf(doc) {
  const out = [];
  for (const [p, ops] of Object.entries(doc.paths ?? {})) {
    for (const m of Object.keys(ops)) {
      if (['get', 'put', 'post', 'delete', 'patch', 'head', 'options'].includes(m)) out.push(`${m.toUpperCase()} ${p}`);
    }
  }
  return out;
}

test('coverage: every REST route (docs/openapi.json and the served /v1/openapi.json) has a row', async () => {
  const served = await api('GET', '/v1/openapi.json');
  assert.equal(served.status, 200);
  const all = new Set([...routesOf(JSON.parse(readFileSync(OPENAPI_PATH, 'utf8'))), ...routesOf(served.json)]);
  const have = new Set(spec.rest.rows.map((r) => `${r.method} ${r.route}`));
  assert.deepEqual([...all].filter((r) => !have.has(r)).sort(), [], 'routes without a matrix row');
});

/*
 * The settings pages are not in the OpenAPI document: their routes are the
 * ```ui-routes block of docs/ui.md.  Each needs a [ui] row; the anon column
 * runs here, the session columns in the browser suite (they need a sign-in
 * through an OpenID provider).
 */
function uiRoutes() {
  const block = /```ui-routes\n([\s\S]*?)```/.exec(readFileSync(UI_DOC_PATH, 'utf8'));
  assert.ok(block, 'docs/ui.md has a ```ui-routes block');
  return block[1].split('\n').map((l) => l.trim()).filter(Boolean);
}

test('coverage: every settings-page route (docs/ui.md) has a [ui] row, and every row a route', () => {
  const routes = uiRoutes();
  const have = spec.ui.rows.map((r) => `${r.method} ${r.route}`);
  assert.deepEqual(routes.filter((r) => !have.includes(r)).sort(), [], 'routes without a matrix row');
  assert.deepEqual(have.filter((r) => !routes.includes(r)).sort(), [], 'rows naming no route');
});

test('settings pages without a session (the anon column), and changes from another site', async (t) => {
  const anon = spec.ui.actors.indexOf('anon');
  const own = BASE_URL.origin;
  for (const row of spec.ui.rows) {
    await t.test(row.name, async () => {
      const path = subst(row.path, 'A', 0);
      const body = row.body ? subst(row.body, 'A', 0) : undefined;
      const change = !['GET', 'HEAD'].includes(row.method);
      const headers = change ? { origin: own, 'content-type': 'application/json' } : {};
      const r = await fetch(`${BASE_URL.origin}${path}`, { method: row.method, headers, body, redirect: 'manual' });
      const text = await r.text();
      if (row.cells[anon] === '-') assert.equal(r.status, 401, `${row.name}: 401 without a session`);
      else assert.ok((row.okCodes ?? ['200']).includes(String(r.status)), `${row.name}: got HTTP ${r.status}`);
      assert.ok(!text.includes('canary'), 'no value in the answer');
      assert.match(r.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/);
      if (change) {
        const evil = await fetch(`${BASE_URL.origin}${path}`, {
          method: row.method, body, redirect: 'manual',
          headers: { origin: 'http://evil.example', 'content-type': 'application/x-www-form-urlencoded' },
        });
        assert.equal(evil.status, 403, `${row.name}: a change from another site is refused`);
        assert.match(await evil.text(), /cross-site request refused/);
      }
    });
  }
});

/*
 * Every route of the Vault dialect (src/rest/vault_parse.c: each route and
 * the methods it takes), as "METHOD template" with the default mount.
 */
const VAULT_ROUTES = [
  'GET /v1/secret/data/project/{project}/{name}', 'PUT /v1/secret/data/project/{project}/{name}',
  'POST /v1/secret/data/project/{project}/{name}', 'DELETE /v1/secret/data/project/{project}/{name}',
  'GET /v1/secret/data/company/{company}/{name}', 'PUT /v1/secret/data/company/{company}/{name}',
  'POST /v1/secret/data/company/{company}/{name}', 'DELETE /v1/secret/data/company/{company}/{name}',
  'GET /v1/secret/metadata/project/{project}/{name}', 'DELETE /v1/secret/metadata/project/{project}/{name}',
  'GET /v1/secret/metadata/company/{company}/{name}', 'DELETE /v1/secret/metadata/company/{company}/{name}',
  'LIST /v1/secret/metadata/project/{project}/', 'GET /v1/secret/metadata/project/{project}?list=true',
  'LIST /v1/secret/metadata/company/{company}/', 'GET /v1/secret/metadata/company/{company}?list=true',
  'GET /v1/secret/data/project/{project}/{name}?version={version}',
  'GET /v1/sys/health', 'GET /v1/auth/token/lookup-self',
  'PUT /v1/auth/token/revoke-self', 'POST /v1/auth/token/revoke-self',
  'POST /v1/auth/jwt/login', 'PUT /v1/auth/jwt/login',
];

test('coverage: every route of the Vault dialect has a row', () => {
  const have = new Set(spec.vault.rows.map((r) => `${r.method} ${r.route}`));
  assert.deepEqual(VAULT_ROUTES.filter((r) => !have.has(r)), [], 'Vault routes without a matrix row');
  assert.deepEqual(spec.vault.rows.filter((r) => !VAULT_ROUTES.includes(`${r.method} ${r.route}`)).map((r) => r.name), [],
    'rows naming no Vault route');
});

/* Table and sequence rows, generated for every one the extension owns. */
function relationRows() {
  const rows = [];
  const actors = spec.sql.actors;
  const cells = (overrides = {}) => actors.map((a) => overrides[a] ?? (a === 'super' ? '.' : '-'));
  for (const [kind, name] of relations()) {
    if (kind === 'r' || kind === 'p') {
      rows.push({ name: `table.${name}.read`, audit: { ok: 'none', deny: 'none' }, cells: cells(),
        call: `SELECT count(*) > 0 FROM provsecret.${name}` });
      rows.push({ name: `table.${name}.write`, audit: { ok: '*', deny: 'none' }, cells: cells(), rollback: true,
        call: `DELETE FROM provsecret.${name}` });
      // an INSERT must be refused as such (42501), not reach the constraints
      rows.push({ name: `table.${name}.insert`, audit: { ok: '*', deny: 'none' }, cells: cells(), rollback: true,
        call: `INSERT INTO provsecret.${name} DEFAULT VALUES` });
    } else if (kind === 'S') {
      // pg_write_all_data holds UPDATE on every sequence and PostgreSQL
      // cannot refuse its nextval/setval: the audit worker moves a set-back
      // sequence past the ids in use instead (test/t/130_audit_id_sequence.pl)
      rows.push({ name: `sequence.${name}.write`, audit: { ok: '*', deny: 'none' }, cells: cells({ writeall: '+' }),
        call: `SELECT nextval('provsecret.${name}') > 0` });
    }
  }
  // spec rows of the same name replace the generated ones
  return rows.map((r) => spec.sql.rows.find((s) => s.name === r.name) ?? r);
}

/* ---------------------------------------------------------------- the matrix */

test('SQL matrix', { skip: ['rest', 'vault'].includes(process.env.MX_ONLY) }, async (t) => {
  const rows = [...spec.sql.rows.filter((r) => !/^table\./.test(r.name)), ...relationRows()];
  for (const row of rows) {
    await t.test(row.name, async (tr) => {
      for (const [ai, actor] of spec.sql.actors.entries()) {
        await tr.test(actor, async () => {
          const problems = [];
          for (const c of cases(row.cells[ai])) {
            for (const p of await runSqlCase(row, actor, c.tenant, c.want, c.idx)) {
              problems.push(`${row.name} ${actor}${c.tenant ? ` ${TENANT_NAMES[c.tenant]}` : ''}: ${p}`);
            }
          }
          assert.deepEqual(problems, []);
        });
      }
    });
  }
});

test('REST matrix', { skip: ['sql', 'vault'].includes(process.env.MX_ONLY) }, async (t) => {
  for (const row of spec.rest.rows) {
    await t.test(row.name, async (tr) => {
      for (const [ai, actor] of spec.rest.actors.entries()) {
        await tr.test(actor, async () => {
          const problems = [];
          for (const c of cases(row.cells[ai])) {
            for (const p of await runRestCase(row, actor, c.tenant, c.want)) {
              problems.push(`${row.name} ${actor}${c.tenant ? ` ${TENANT_NAMES[c.tenant]}` : ''}: ${p}`);
            }
          }
          assert.deepEqual(problems, []);
        });
      }
    });
  }
});

test('Vault matrix', { skip: ['sql', 'rest'].includes(process.env.MX_ONLY) }, async (t) => {
  for (const row of spec.vault.rows) {
    await t.test(row.name, async (tr) => {
      for (const [ai, actor] of spec.vault.actors.entries()) {
        await tr.test(actor, async () => {
          const problems = [];
          for (const c of cases(row.cells[ai])) {
            for (const p of await runRestCase(row, actor, c.tenant, c.want, true)) {
              problems.push(`${row.name} ${actor}${c.tenant ? ` ${TENANT_NAMES[c.tenant]}` : ''}: ${p}`);
            }
          }
          assert.deepEqual(problems, []);
        });
      }
    });
  }
});

// DESIGN §9 / contract fix: a caller who may not read learns nothing from
// the resolver name: an unknown resolver and a denied one give the same
// SQLSTATE and the same message apart from the name.
test('unknown and denied resolvers look the same to a caller who may not read', async () => {
  const one = async (ref) => {
    const { out } = await psql(`SET ROLE m_nogrant;
SELECT length(provsecret.resolve('${ref}')) > 0;
${ECHO_STATE('STATE')}
RESET ROLE;`);
    const m = /@@STATE (\S+) ?(.*)/.exec(out);
    return { state: m?.[1], msg: (m?.[2] ?? '').replaceAll('r_pg', 'NAME').replaceAll('nosuch_zz', 'NAME') };
  };
  await psql('SELECT authz_matrix.reset();');
  const denied = await one('external:r_pg/x');
  const unknown = await one('external:nosuch_zz/x');
  assert.equal(unknown.state, denied.state, `unknown ${unknown.state} vs denied ${denied.state}`);
  assert.equal(unknown.msg, denied.msg);
});

// DESIGN §4: a token's principals apply in SQL after authenticate(), for the
// rest of the transaction; the audit names user:<sub> on channel sql.
test('SQL token holder: authenticate() then resolve, per tenant', async () => {
  await psql('SELECT authz_matrix.reset();');
  const tok = tokens.uacme;
  const run = async (ref) => {
    const { out } = await psql(`SELECT last_value AS marker FROM provsecret.audit_event_id_seq \\gset
SET ROLE m_nogrant;
BEGIN;
SELECT provsecret.authenticate('${tok}') IS NOT NULL;
SELECT length(provsecret.resolve('${ref}')) > 0;
${ECHO_STATE('STATE')}
ROLLBACK;
RESET ROLE;
${AUDIT_QUERY}`);
    return { state: /@@STATE (\S+)/.exec(out)?.[1], events: parseEvents(out) };
  };
  const own = await run('managed:project/pa/K');
  assert.equal(own.state, '00000');
  assert.deepEqual(checkAudit('secret.revealed', own.events, 'user:u-acme', 'sql'), []);
  for (const ref of ['managed:project/pg/K', 'managed:project/ps/K', 'managed:company/globex/K']) {
    const other = await run(ref);
    assert.equal(other.state, '42501', ref);
    assert.deepEqual(checkAudit('access.denied', other.events, 'user:u-acme', 'sql'), [], ref);
  }
});

// Contract fix: /metrics (no authentication) names no resolver.
test('/metrics names no resolver', async () => {
  await psql(`SELECT authz_matrix.reset();
SET ROLE m_super;
SELECT length(provsecret.resolve('external:r_pa/x')) > 0;
RESET ROLE;`);
  const r = await api('GET', '/metrics');
  assert.equal(r.status, 200);
  for (const name of ['r_pa', 'r_pg', 'rt_pa', 'rc_acme']) {
    assert.ok(!r.text.includes(`"${name}"`), `/metrics names resolver ${name}`);
  }
});
