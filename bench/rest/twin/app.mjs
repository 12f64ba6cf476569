// The reveal endpoint of DESIGN §8 written the way a team would without
// provsecret: express, a pg Pool, libsodium-wrappers, jose.  Same contract
// as provsecret's GET /v1/workspaces/{ws}/secrets/{key}: bearer token
// verified against the JWKS, read permission, decrypt, one audit row in the
// same transaction, COMMIT (synchronous_commit = on), then the answer.
//
// Environment: TWIN_PORT, TWIN_PGHOST, TWIN_PGPORT, TWIN_KEY, TWIN_JWKS_FILE,
// TWIN_ISSUER, TWIN_AUDIENCE, TWIN_POOL_SIZE (default 10, pg's default, per
// process).  Started by server.mjs.
import express from 'express';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { pool, key, ad, sodium } from './db.mjs';

const k = key();
const db = pool(Number(process.env.TWIN_POOL_SIZE || 10));
const jwks = createLocalJWKSet(JSON.parse(readFileSync(process.env.TWIN_JWKS_FILE, 'utf8')));
const verifyOptions = {
  issuer: process.env.TWIN_ISSUER,
  audience: process.env.TWIN_AUDIENCE,
  algorithms: ['RS256', 'ES256', 'EdDSA'],
  clockTolerance: 30,
};
const NAME = /^[A-Za-z0-9_.-]{1,128}$/;
const NONCE = sodium.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;

async function principal(req) {
  const m = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/.exec(req.get('authorization') || '');
  if (!m) return null;
  try {
    const { payload } = await jwtVerify(m[1], jwks, verifyOptions);
    if (payload.typ !== undefined && payload.typ !== 'Bearer') return null;
    return typeof payload.sub === 'string' ? `user:${payload.sub}` : null;
  } catch {
    return null;
  }
}

function fail(res, status, code, message) {
  if (status === 401) res.set('WWW-Authenticate', 'Bearer');
  res.status(status).json({ error: { code, message } });
}

const app = express();
app.disable('x-powered-by');
app.disable('etag');

app.get('/healthz', (req, res) => res.json({ status: 'ok' }));

app.get('/v1/workspaces/:ws/secrets/:key', async (req, res) => {
  const given = req.get('x-request-id');
  const requestId = given && /^[A-Za-z0-9._-]{1,64}$/.test(given) ? given : randomUUID();
  res.set('X-Request-Id', requestId);
  const { ws, key: name } = req.params;
  if (!NAME.test(ws) || !NAME.test(name)) return fail(res, 400, 'invalid_request', 'invalid name');
  const who = await principal(req);
  if (!who) return fail(res, 401, 'unauthorized', 'missing or invalid bearer token');

  const client = await db.connect();
  try {
    await client.query('BEGIN');
    const { rows } = await client.query(
      `SELECT g.allowed, s.description, s.ciphertext, s.value_version
         FROM (SELECT EXISTS (SELECT 1 FROM twin.access_grant
                               WHERE principal = $1 AND project = $2
                                 AND 'read' = ANY (permissions)) AS allowed) g
         LEFT JOIN twin.secret s ON s.project = $2 AND s.name = $3`,
      [who, ws, name]);
    const row = rows[0];
    if (!row.allowed) {
      await client.query('ROLLBACK');
      return fail(res, 403, 'forbidden', 'permission denied');
    }
    if (row.ciphertext === null) {
      await client.query('ROLLBACK');
      return fail(res, 404, 'not_found', 'secret not found');
    }
    const ct = row.ciphertext;
    const plain = sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
      null, ct.subarray(NONCE), ad(ws, name, row.value_version), ct.subarray(0, NONCE), k);
    const value = Buffer.from(plain).toString('utf8');
    sodium.memzero(plain);
    await client.query(
      `INSERT INTO twin.audit_event (action, reference, project, principal, channel,
                                     client_addr, request_id, value_version, outcome)
       VALUES ('secret.revealed', $1, $2, $3, 'rest', $4, $5, $6, 'ok')`,
      [`managed:project/${ws}/${name}`, ws, who, req.socket.remoteAddress, requestId, row.value_version]);
    await client.query('COMMIT');
    res.json({ key: name, value, description: row.description });
  } catch (e) {
    await client.query('ROLLBACK').catch(() => {});
    console.error(`twin: ${e.code || e.name}`); // never the message: it could quote data
    fail(res, 500, 'internal', 'internal error');
  } finally {
    client.release();
  }
});

app.use((req, res) => fail(res, 404, 'not_found', 'no such route'));

const server = app.listen(Number(process.env.TWIN_PORT), '127.0.0.1');
server.keepAliveTimeout = 10000; // provsecret's rest_idle_timeout
process.on('SIGTERM', () => { server.close(); db.end(); process.exit(0); });
