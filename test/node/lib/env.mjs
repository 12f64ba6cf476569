// Shared helpers of the REST tests: where the server is, SQL, tokens.
import { execFileSync } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { readFileSync } from 'node:fs';
import { SignJWT, importJWK } from 'jose';

export const TMP = process.env.PS_TMP;
export const PGBIN = process.env.PS_PGBIN;
export const PGPORT = process.env.PS_PGPORT;
export const REST_PORT = Number(process.env.PS_REST_PORT);
export const BASE = `http://127.0.0.1:${REST_PORT}`;
export const ISSUER = process.env.PS_JWT_ISSUER;
export const AUDIENCE = process.env.PS_JWT_AUDIENCE;

const asRoot = process.getuid && process.getuid() === 0;

/* Run SQL through psql as the cluster owner; returns unaligned output. */
export function sql(query) {
  const argv = [`${PGBIN}/psql`, '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1',
    '-h', TMP, '-p', PGPORT, '-U', 'postgres', '-d', 'postgres', '-c', query];
  const [cmd, ...args] = asRoot ? ['runuser', '-u', 'postgres', '--', ...argv] : argv;
  return execFileSync(cmd, args, { encoding: 'utf8' }).trim();
}

/* Change settings and SIGHUP the server (pg_reload_conf). */
export function reconfigure(settings) {
  for (const [name, value] of Object.entries(settings)) {
    if (value === null) sql(`ALTER SYSTEM RESET ${name}`);
    else sql(`ALTER SYSTEM SET ${name} = '${String(value).replaceAll("'", "''")}'`);
  }
  sql('SELECT pg_reload_conf()');
}

export function grant(sub, workspace, perms) {
  const arr = perms.map((p) => `'${p}'`).join(',');
  sql(`SELECT provsecret.grant('user:${sub}', 'project/${workspace}', ARRAY[${arr}])`);
}

const keys = TMP ? JSON.parse(readFileSync(`${TMP}/keys.json`, 'utf8')) : {};

/* Keycloak-shaped claims of an access token. */
export function claims(sub, extra = {}) {
  const now = Math.floor(Date.now() / 1000);
  return {
    iss: ISSUER, aud: [AUDIENCE, 'account'], azp: 'groundfloor-app', sub,
    typ: 'Bearer', iat: now, exp: now + 300, jti: `${sub}-${now}-${Math.random()}`,
    realm_access: { roles: ['offline_access', 'default-roles-test'] },
    preferred_username: sub, ...extra,
  };
}

/* Sign claims with one of the test keys; header fields may be overridden. */
export async function sign(kid, payload, header = {}) {
  const k = keys[kid];
  const key = await importJWK(k.private, k.alg);
  return new SignJWT(payload).setProtectedHeader({ alg: k.alg, kid, typ: 'JWT', ...header }).sign(key);
}

export async function token(sub, kid = 'rsa1', extra = {}) {
  return sign(kid, claims(sub, extra));
}

export async function api(method, path, { tok, body, headers = {}, raw } = {}) {
  const h = { ...headers };
  if (tok) h.authorization = `Bearer ${tok}`;
  let payload = raw;
  if (body !== undefined) {
    h['content-type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  const res = await fetch(`${BASE}${path}`, { method, headers: h, body: payload });
  const text = await res.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
  return { status: res.status, headers: res.headers, text, json };
}

export async function waitFor(what, fn, ms = 10000, step = 100) {
  const until = Date.now() + ms;
  let last;
  while (Date.now() < until) {
    try { if (await fn()) return Date.now(); } catch (e) { last = e; }
    await new Promise((r) => setTimeout(r, step));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ''}`);
}

/*
 * A request on a fresh connection, its path sent exactly as given (fetch
 * normalizes ".." and reuses pooled connections the server may have shed).
 */
export function rawRequest(method, path, headers = {}, body) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: REST_PORT, method, path, headers, agent: false }, (res) => {
      let data = '';
      res.on('data', (c) => { data += c; });
      res.on('end', () => {
        let json = null;
        try { json = JSON.parse(data); } catch { /* not JSON */ }
        resolve({ status: res.statusCode, headers: new Headers(res.headers), text: data, json });
      });
    });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

/*
 * Send bytes on a raw socket and return the status line's code; the server
 * may answer early and close while we still write (413), which is fine.
 */
export function rawExchange(bytes) {
  return new Promise((resolve) => {
    const s = net.connect(REST_PORT, '127.0.0.1');
    let data = '';
    s.on('data', (c) => { data += c; });
    s.on('error', () => {});
    s.on('close', () => {
      const m = /^HTTP\/1\.1 (\d{3})/.exec(data);
      resolve({ status: m ? Number(m[1]) : 0, text: data });
    });
    s.write(bytes, () => s.end());
  });
}
