// Token attacks: each one gets 401 with WWW-Authenticate: Bearer, and the
// secret stays unrevealed.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { SignJWT, importJWK, exportSPKI } from 'jose';
import { TMP, api, claims, grant, sign, token } from '../lib/env.mjs';

const path = '/v1/workspaces/tok-ws/secrets/API_KEY';
const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');

before(async () => {
  grant('victim', 'tok-ws', ['read', 'write']);
  const r = await api('PUT', path, { tok: await token('victim'), body: { value: 'sk-victim' } });
  assert.equal(r.status, 201);
});

test('a valid token of each algorithm is accepted (RS256, ES256, EdDSA)', async () => {
  for (const kid of ['rsa1', 'ec1', 'ed1']) {
    const r = await api('GET', path, { tok: await token('victim', kid) });
    assert.equal(r.status, 200, `${kid}: ${r.text}`);
    assert.equal(r.json.value, 'sk-victim');
  }
});

test('a role from realm_access.roles is a principal', async () => {
  const r0 = await api('GET', path, { tok: await token('someone-else') });
  assert.equal(r0.status, 403);
  const { sql } = await import('../lib/env.mjs');
  sql("SELECT provsecret.grant('role:tok-readers', 'project/tok-ws', ARRAY['read'])");
  const r = await api('GET', path, {
    tok: await token('someone-else', 'rsa1', { realm_access: { roles: ['tok-readers'] } }),
  });
  assert.equal(r.status, 200, r.text);
});

async function attacks() {
  const now = Math.floor(Date.now() / 1000);
  const keys = JSON.parse(readFileSync(`${TMP}/keys.json`, 'utf8'));
  const valid = await token('victim');
  const [h, p, s] = valid.split('.');
  const pem = await exportSPKI(await importJWK(keys.rsa1.public, 'RS256'));
  const hs256 = await new SignJWT(claims('victim'))
    .setProtectedHeader({ alg: 'HS256', kid: 'rsa1', typ: 'JWT' })
    .sign(new TextEncoder().encode(pem));
  const hs256jwk = await new SignJWT(claims('victim'))
    .setProtectedHeader({ alg: 'HS256', kid: 'rsa1', typ: 'JWT' })
    .sign(new TextEncoder().encode(JSON.stringify(keys.rsa1.public)));
  const flipped = s[0] === 'A' ? `B${s.slice(1)}` : `A${s.slice(1)}`;
  return {
    'no token': undefined,
    'empty bearer': '',
    malformed: 'not-a-jwt',
    'two parts': `${h}.${p}`,
    'garbage base64': `${h}.%%%.${s}`,
    'alg none': `${b64({ alg: 'none', typ: 'JWT', kid: 'rsa1' })}.${p}.`,
    'alg none, no kid': `${b64({ alg: 'none' })}.${p}.`,
    'HS256 with the public key (PEM)': hs256,
    'HS256 with the public key (JWK)': hs256jwk,
    'wrong signature': `${h}.${p}.${flipped}`,
    'payload swapped': `${h}.${b64({ ...claims('admin') })}.${s}`,
    expired: await sign('rsa1', claims('victim', { exp: now - 3600, iat: now - 7200 })),
    'not yet valid': await sign('rsa1', claims('victim', { nbf: now + 3600 })),
    'wrong issuer': await sign('rsa1', claims('victim', { iss: 'http://127.0.0.1:1/realms/evil' })),
    'wrong audience': await sign('rsa1', claims('victim', { aud: 'someone-else', azp: 'other-client' })),
    'unknown kid (not in the refreshed JWKS)': await sign('attacker', claims('victim')),
    'attacker key with a known kid': await sign('attacker', claims('victim'), { kid: 'rsa1' }),
    'typ Refresh': await sign('rsa1', claims('victim', { typ: 'Refresh' })),
    'alg not in the key': await sign('ec1', claims('victim'), { kid: 'rsa1' }).catch(() => 'x.y.z'),
  };
}

test('every token attack gets 401 and never the value', async () => {
  for (const [name, tok] of Object.entries(await attacks())) {
    const headers = tok === undefined ? {} : { authorization: `Bearer ${tok}` };
    const r = await api('GET', path, { headers });
    assert.equal(r.status, 401, `${name}: ${r.status} ${r.text}`);
    assert.equal(r.headers.get('www-authenticate'), 'Bearer', name);
    assert.equal(r.json.error.code, 'unauthorized', name);
    assert.ok(!r.text.includes('sk-victim'), name);
  }
});
