#!/usr/bin/env node
// Stand-ins for the external secret managers provsecret resolves from, on
// loopback, for tests: the parts of HashiCorp Vault KV v2 and Infisical's
// raw secrets API that provsecret uses (paths, auth headers, status codes
// and JSON shapes as the real servers answer), a plain http-json store, and
// fault modes.  No dependencies beyond Node.
//
//   node secret_backends.mjs --vault-token T --infisical-token T --json-token T
//        [--infisical-client-id I --infisical-client-secret S
//         --infisical-token-ttl SECONDS] [--tls-cert PEM --tls-key PEM]
//
// prints one line {"port":N,"refused":M[,"tlsPort":P]} (M: a loopback port
// nothing listens on; P: the same routes over HTTPS with the given
// certificate) and serves until stdin closes or SIGTERM.
//
// Routes:
//   /v1/<mount>/data/<path>        Vault KV v2: GET [?version=N], POST/PUT
//                                  {"data":{...}}, DELETE (soft delete of
//                                  the latest version); X-Vault-Token,
//                                  X-Vault-Namespace
//   /v1/<mount>/metadata/<path>    Vault KV v2: GET (versions), DELETE (every
//                                  version and the key, for good)
//   /api/v3/secrets/raw/<name>     Infisical: GET ?workspaceId&environment
//                                  &secretPath, POST (create), PATCH (update);
//                                  Authorization: Bearer <service token or
//                                  universal-auth access token>
//   POST /api/v1/auth/universal-auth/login  Infisical universal-auth:
//                                  {clientId, clientSecret} -> {accessToken,
//                                  expiresIn, accessTokenMaxTTL, tokenType};
//                                  access tokens lapse after expiresIn
//   /json/<path>                   http-json: GET, PUT any JSON; Bearer
//   /fault/<mode>/<route above>    the route, with a fault: slow-<ms>, hang,
//                                  500, 503, 403, reset, truncated, bad-json,
//                                  huge, html, drip, redirect
//   /switch/<route above>          the fault set by POST /_control/switch
//                                  {"mode": "<mode>" | "ok"}
//   GET /_control/stats            {"requests": {"<prefix>": n}, "logins": n,
//                                  "loginFailures": n, "unauthorized": n
//                                  (Infisical 401s), "writes": {"vault": n,
//                                  "infisical": n}, "connections": {"<user
//                                  agent>": n}, "open": {"<user agent>": n}}
//                                  (TCP connections that served a request of
//                                  that client, ever and now open)
//   POST /_control/infisical       {"tokenTtl": s} for later logins,
//                                  {"revoke": true} ends every access token
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import crypto from 'node:crypto';
import { readFileSync } from 'node:fs';

const VAULT_MOUNTS = new Set(['secret', 'kv', 'team/kv']);

function json(res, status, body, headers = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function readBody(req) {
  return new Promise((resolve) => {
    let data = '';
    req.on('data', (c) => { data += c; });
    req.on('end', () => {
      try { resolve(data ? JSON.parse(data) : {}); } catch { resolve(undefined); }
    });
  });
}

export function createBackends({
  vaultToken, infisicalToken, jsonToken, infisicalClientId, infisicalClientSecret,
  infisicalTokenTtl = 7200,
}) {
  const vault = new Map(); // "<ns>|<mount>|<path>" -> { versions: [...] }
  const infisical = new Map(); // "<ws>|<env>|<secretPath>|<name>" -> secret
  const accessTokens = new Map(); // universal-auth access token -> expiry (ms)
  let tokenTtl = infisicalTokenTtl;
  const docs = new Map(); // path -> JSON document
  const stats = {};
  const connections = {};
  const counters = { logins: 0, loginFailures: 0, unauthorized: 0, writes: { vault: 0, infisical: 0 } };
  const sockets = new Set();
  let switchMode = 'ok';

  // --- Vault KV v2 -------------------------------------------------------
  async function serveVault(req, res, url, rest) {
    const token = req.headers['x-vault-token'];
    if (!token) return json(res, 403, { errors: ['permission denied'] });
    if (token !== vaultToken) return json(res, 403, { errors: ['permission denied'] });
    const ns = (req.headers['x-vault-namespace'] || '').replace(/^\/+|\/+$/g, '');
    const meta = /^(.+?)\/metadata\/(.+)$/.exec(rest);
    if (meta && VAULT_MOUNTS.has(meta[1])) return serveVaultMetadata(req, res, `${ns}|${meta[1]}|${decodeURIComponent(meta[2])}`);
    const m = /^(.+?)\/data\/(.+)$/.exec(rest);
    if (!m || !VAULT_MOUNTS.has(m[1])) {
      return json(res, 404, { errors: [`no handler for route "${rest}". route entry not found.`] });
    }
    const key = `${ns}|${m[1]}|${decodeURIComponent(m[2])}`;
    const entry = vault.get(key);
    const now = new Date().toISOString();
    if (req.method === 'GET') {
      if (!entry) return json(res, 404, { errors: [] });
      const want = url.searchParams.get('version');
      const n = want && want !== '0' ? Number(want) : entry.versions.length;
      const v = entry.versions[n - 1];
      if (!v) return json(res, 404, { errors: [] });
      const metadata = { created_time: v.created_time, custom_metadata: null, deletion_time: v.deletion_time, destroyed: v.destroyed, version: n };
      if (v.deletion_time || v.destroyed) {
        return json(res, 404, { request_id: crypto.randomUUID(), lease_id: '', renewable: false, lease_duration: 0, data: { data: null, metadata }, wrap_info: null, warnings: null, auth: null, mount_type: 'kv' });
      }
      return json(res, 200, { request_id: crypto.randomUUID(), lease_id: '', renewable: false, lease_duration: 0, data: { data: v.data, metadata }, wrap_info: null, warnings: null, auth: null, mount_type: 'kv' });
    }
    if (req.method === 'POST' || req.method === 'PUT') {
      counters.writes.vault += 1;
      const body = await readBody(req);
      if (!body || typeof body.data !== 'object' || body.data === null) {
        return json(res, 400, { errors: ['no data provided'] });
      }
      const e = entry || { versions: [] };
      const cas = body.options && body.options.cas;
      if (cas !== undefined && cas !== e.versions.length) {
        return json(res, 400, { errors: ['check-and-set parameter did not match the current version'] });
      }
      e.versions.push({ data: body.data, created_time: now, deletion_time: '', destroyed: false });
      vault.set(key, e);
      return json(res, 200, { request_id: crypto.randomUUID(), data: { created_time: now, custom_metadata: null, deletion_time: '', destroyed: false, version: e.versions.length } });
    }
    if (req.method === 'DELETE') {
      counters.writes.vault += 1;
      if (entry) entry.versions[entry.versions.length - 1].deletion_time = now;
      res.writeHead(204);
      return res.end();
    }
    return json(res, 405, { errors: ['1 error occurred:\n\t* unsupported operation\n\n'] });
  }

  // metadata/<path>: every version of a key; DELETE removes them all
  function serveVaultMetadata(req, res, key) {
    const entry = vault.get(key);
    if (req.method === 'GET') {
      if (!entry) return json(res, 404, { errors: [] });
      const versions = {};
      entry.versions.forEach((v, i) => {
        versions[String(i + 1)] = { created_time: v.created_time, deletion_time: v.deletion_time, destroyed: v.destroyed };
      });
      const n = entry.versions.length;
      return json(res, 200, { request_id: crypto.randomUUID(), data: { cas_required: false, created_time: entry.versions[0].created_time, current_version: n, custom_metadata: null, delete_version_after: '0s', max_versions: 0, oldest_version: 0, updated_time: entry.versions[n - 1].created_time, versions } });
    }
    if (req.method === 'DELETE') {
      counters.writes.vault += 1;
      vault.delete(key);
      res.writeHead(204);
      return res.end();
    }
    return json(res, 405, { errors: ['1 error occurred:\n\t* unsupported operation\n\n'] });
  }

  // --- Infisical raw secrets -------------------------------------------
  function infisicalError(res, status, error, message) {
    return json(res, status, { reqId: `req-${crypto.randomUUID()}`, statusCode: status, message, error });
  }

  async function serveLogin(req, res) {
    if (req.method !== 'POST') return infisicalError(res, 405, 'MethodNotAllowed', 'Method not allowed');
    const body = await readBody(req);
    if (!body || typeof body.clientId !== 'string' || typeof body.clientSecret !== 'string') {
      counters.loginFailures += 1;
      return infisicalError(res, 422, 'ValidationFailure', 'clientId and clientSecret are required');
    }
    if (!infisicalClientId || body.clientId !== infisicalClientId || body.clientSecret !== infisicalClientSecret) {
      counters.loginFailures += 1;
      return infisicalError(res, 401, 'UnauthorizedError', 'Invalid credentials');
    }
    counters.logins += 1;
    const accessToken = `ua.${crypto.randomBytes(24).toString('base64url')}`;
    accessTokens.set(accessToken, Date.now() + tokenTtl * 1000);
    return json(res, 200, { accessToken, expiresIn: tokenTtl, accessTokenMaxTTL: 2592000, tokenType: 'Bearer' });
  }

  // a service token, or a live universal-auth access token
  function infisicalAuthorized(req) {
    const auth = req.headers.authorization || '';
    if (!auth.startsWith('Bearer ')) return false;
    const t = auth.slice(7);
    if (infisicalToken && t === infisicalToken) return true;
    const until = accessTokens.get(t);
    if (until === undefined) return false;
    if (Date.now() >= until) {
      accessTokens.delete(t);
      return false;
    }
    return true;
  }

  async function serveInfisical(req, res, url, name) {
    if (!infisicalAuthorized(req)) {
      counters.unauthorized += 1;
      return infisicalError(res, 401, 'UnauthorizedError', 'Failed to authenticate');
    }
    if (req.method !== 'GET') counters.writes.infisical += 1;
    const body = req.method === 'GET' ? {} : await readBody(req);
    if (body === undefined) return infisicalError(res, 400, 'BadRequest', 'Malformed JSON body');
    const q = (k) => url.searchParams.get(k) ?? body[k];
    const ws = q('workspaceId');
    const env = q('environment');
    const secretPath = q('secretPath') || '/';
    if (!ws || !env) return infisicalError(res, 422, 'ValidationFailure', 'workspaceId and environment are required');
    const key = `${ws}|${env}|${secretPath}|${decodeURIComponent(name)}`;
    const s = infisical.get(key);
    const view = (x) => ({ id: x.id, _id: x.id, workspace: ws, environment: env, version: x.version, type: 'shared', secretKey: x.secretKey, secretValue: x.secretValue, secretComment: x.secretComment, secretPath });
    if (req.method === 'GET') {
      if (!s) return infisicalError(res, 404, 'NotFound', `Secret with name '${decodeURIComponent(name)}' not found`);
      return json(res, 200, { secret: view(s) });
    }
    if (req.method === 'POST') {
      if (s) return infisicalError(res, 400, 'BadRequest', 'Secret already exist');
      const x = { id: crypto.randomUUID(), version: 1, secretKey: decodeURIComponent(name), secretValue: String(body.secretValue ?? ''), secretComment: body.secretComment || '' };
      infisical.set(key, x);
      return json(res, 200, { secret: view(x) });
    }
    if (req.method === 'PATCH') {
      if (!s) return infisicalError(res, 404, 'NotFound', `Secret with name '${decodeURIComponent(name)}' not found`);
      s.secretValue = String(body.secretValue ?? s.secretValue);
      s.version += 1;
      return json(res, 200, { secret: view(s) });
    }
    if (req.method === 'DELETE') {
      if (!s) return infisicalError(res, 404, 'NotFound', `Secret with name '${decodeURIComponent(name)}' not found`);
      infisical.delete(key);
      return json(res, 200, { secret: view(s) });
    }
    return infisicalError(res, 405, 'MethodNotAllowed', 'Method not allowed');
  }

  // --- http-json ---------------------------------------------------------
  async function serveJson(req, res, path) {
    if ((req.headers.authorization || '') !== `Bearer ${jsonToken}`) {
      return json(res, 401, { error: 'unauthorized' }, { 'www-authenticate': 'Bearer' });
    }
    if (req.method === 'PUT') {
      const body = await readBody(req);
      if (body === undefined) return json(res, 400, { error: 'bad json' });
      docs.set(path, body);
      res.writeHead(204);
      return res.end();
    }
    if (!docs.has(path)) return json(res, 404, { error: 'not found' });
    return json(res, 200, docs.get(path));
  }

  async function route(req, res, url, path) {
    let m;
    if ((m = /^\/v1\/(.+)$/.exec(path))) return serveVault(req, res, url, m[1]);
    if ((m = /^\/api\/v3\/secrets\/raw\/([^/]+)$/.exec(path))) return serveInfisical(req, res, url, m[1]);
    if (path === '/api/v1/auth/universal-auth/login') return serveLogin(req, res);
    if ((m = /^\/json\/(.+)$/.exec(path))) return serveJson(req, res, decodeURIComponent(m[1]));
    return json(res, 404, { error: 'no such route' });
  }

  // --- faults ------------------------------------------------------------
  async function fault(mode, req, res, url, path) {
    let m;
    if ((m = /^slow-(\d+)$/.exec(mode))) {
      await new Promise((r) => setTimeout(r, Number(m[1])));
      return route(req, res, url, path);
    }
    switch (mode) {
      case 'ok': return route(req, res, url, path);
      case 'hang': return undefined; // never answer; the socket stays open
      case '500': return json(res, 500, { errors: ['internal error'] });
      case '503': return json(res, 503, { errors: ['Vault is sealed'] });
      case '403': return json(res, 403, { errors: ['permission denied'] });
      case 'reset': return req.socket.destroy();
      case 'truncated': // promises more than it sends, then hangs up
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': 500 });
        res.write('{"data":{"data":{"value":"sk-trunc');
        return setTimeout(() => req.socket.destroy(), 50);
      case 'bad-json': {
        const text = '{"data":{"data":{"value":"sk-bad-json",}';
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': text.length });
        return res.end(text);
      }
      case 'huge': { // a valid JSON document over the 1 MiB cap
        const text = JSON.stringify({ data: { data: { value: 'x'.repeat(2 * 1024 * 1024) } } });
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
        return res.end(text);
      }
      case 'html': {
        const text = '<html><body>Service Unavailable</body></html>';
        res.writeHead(200, { 'content-type': 'text/html', 'content-length': text.length });
        return res.end(text);
      }
      case 'drip': { // headers at once, then one byte a second
        res.writeHead(200, { 'content-type': 'application/json' });
        const timer = setInterval(() => res.write(' '), 1000);
        res.on('close', () => clearInterval(timer));
        return undefined;
      }
      case 'redirect':
        res.writeHead(302, { location: `http://127.0.0.1:${server.address().port}${path}` });
        return res.end();
      default: return json(res, 400, { error: `unknown fault ${mode}` });
    }
  }

  async function handle(req, res) {
    const url = new URL(req.url, 'http://127.0.0.1');
    const path = url.pathname;
    let m;
    if (path === '/_control/stats') {
      const open = {};
      for (const s of sockets) if (s.psAgent) open[s.psAgent] = (open[s.psAgent] || 0) + 1;
      return json(res, 200, { requests: stats, ...counters, connections, open });
    }
    if (path === '/_control/infisical' && req.method === 'POST') {
      const body = (await readBody(req)) || {};
      if (Number.isInteger(body.tokenTtl)) tokenTtl = body.tokenTtl;
      if (body.revoke) accessTokens.clear();
      return json(res, 200, { tokenTtl, live: accessTokens.size });
    }
    // keep-alive checks: count each connection once, by its client
    const agent = String(req.headers['user-agent'] || '').split('/')[0];
    if (agent && !req.socket.psAgent) {
      req.socket.psAgent = agent;
      connections[agent] = (connections[agent] || 0) + 1;
    }
    if (path === '/_control/switch' && req.method === 'POST') {
      const body = await readBody(req);
      switchMode = body && body.mode ? String(body.mode) : 'ok';
      return json(res, 200, { mode: switchMode });
    }
    const prefix = path.split('/').slice(0, path.startsWith('/fault/') ? 3 : 2).join('/');
    stats[prefix] = (stats[prefix] || 0) + 1;
    if ((m = /^\/fault\/([^/]+)(\/.*)$/.exec(path))) return fault(m[1], req, res, url, m[2]);
    if ((m = /^\/switch(\/.*)$/.exec(path))) return fault(switchMode, req, res, url, m[1]);
    return route(req, res, url, path);
  }
  const track = (srv) => srv.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const server = http.createServer(handle);
  track(server);
  let tlsServer = null;

  return {
    server,
    listen: () => new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server.address().port))),
    // the same routes over HTTPS with this certificate and key (PEM text)
    listenTls: ({ cert, key }) => new Promise((resolve) => {
      tlsServer = https.createServer({ cert, key }, handle);
      track(tlsServer);
      tlsServer.listen(0, '127.0.0.1', () => resolve(tlsServer.address().port));
    }),
    close: () => new Promise((resolve) => {
      for (const s of sockets) s.destroy();
      if (tlsServer) tlsServer.close();
      server.close(() => resolve());
    }),
  };
}

/* A loopback port nothing listens on (bound, then released). */
export function refusedPort() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const arg = (name) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? process.argv[i + 1] : undefined;
  };
  const b = createBackends({
    vaultToken: arg('vault-token'), infisicalToken: arg('infisical-token'), jsonToken: arg('json-token'),
    infisicalClientId: arg('infisical-client-id'), infisicalClientSecret: arg('infisical-client-secret'),
    infisicalTokenTtl: arg('infisical-token-ttl') ? Number(arg('infisical-token-ttl')) : undefined,
  });
  const port = await b.listen();
  const refused = await refusedPort();
  const info = { port, refused };
  if (arg('tls-cert')) {
    info.tlsPort = await b.listenTls({ cert: readFileSync(arg('tls-cert')), key: readFileSync(arg('tls-key')) });
  }
  process.stdout.write(`${JSON.stringify(info)}\n`);
  const stop = () => b.close().then(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.stdin.on('end', stop);
  process.stdin.resume();
}
