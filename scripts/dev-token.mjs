#!/usr/bin/env node
// Development bearer tokens for a local provsecret: never for production,
// where tokens come from Keycloak (see README, "Tokens").
//
//   node scripts/dev-token.mjs DIR [subject] [lifetime-seconds]
//
// Keeps an Ed25519 key pair in DIR (created once, mode 0600), writes
// DIR/jwks.json (the public key, for provsecret.jwt_jwks_file) and prints a
// Keycloak-shaped access token signed with it.  Node's own crypto only.
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const [dir, subject = 'dev-user', lifetime = '3600'] = process.argv.slice(2);
if (!dir) {
  console.error('usage: dev-token.mjs DIR [subject] [lifetime-seconds]');
  process.exit(2);
}
// The quick start points provsecret at its development OpenID provider
// (scripts/dev-issuer/), which also publishes this key: tokens then carry its
// issuer.
export const ISSUER = process.env.PROVSECRET_DEV_ISSUER || 'http://localhost/realms/dev';
export const AUDIENCE = 'provsecret';

const keyFile = join(dir, 'dev-signing-key.pem');
if (!existsSync(keyFile)) {
  const { privateKey } = generateKeyPairSync('ed25519');
  writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
}
const privateKey = createPrivateKey(readFileSync(keyFile));
const kid = 'dev-1';
const jwk = { ...createPublicKey(privateKey).export({ format: 'jwk' }), kid, alg: 'EdDSA', use: 'sig' };
writeFileSync(join(dir, 'jwks.json'), JSON.stringify({ keys: [jwk] }, null, 2) + '\n');

const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
const now = Math.floor(Date.now() / 1000);
const header = { alg: 'EdDSA', typ: 'JWT', kid };
const claims = {
  iss: ISSUER, aud: AUDIENCE, azp: 'dev-client', sub: subject, typ: 'Bearer',
  iat: now, nbf: now, exp: now + Number(lifetime),
  realm_access: { roles: ['dev'] },
};
const input = `${b64(header)}.${b64(claims)}`;
const signature = sign(null, Buffer.from(input), privateKey).toString('base64url');
process.stdout.write(`${input}.${signature}\n`);
