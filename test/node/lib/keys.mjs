// Make the test signing keys: node lib/keys.mjs DIR
//   DIR/keys.json      private JWKs (the tests sign with them)
//   DIR/jwks.json      public JWKS the server starts with (rsa1, ec1, ed1)
//   DIR/jwks-rotated.json  the same plus rsa2 (served after SIGHUP)
import { generateKeyPair, exportJWK } from 'jose';
import { writeFileSync } from 'node:fs';

const dir = process.argv[2];
const specs = { rsa1: 'RS256', ec1: 'ES256', ed1: 'EdDSA', rsa2: 'RS256', attacker: 'RS256' };
const keys = {};
for (const [kid, alg] of Object.entries(specs)) {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  keys[kid] = {
    alg,
    private: { ...(await exportJWK(privateKey)), kid, alg },
    public: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' },
  };
}
const jwks = (kids) => JSON.stringify({ keys: kids.map((k) => keys[k].public) });
writeFileSync(`${dir}/keys.json`, JSON.stringify(keys));
writeFileSync(`${dir}/jwks.json`, jwks(['rsa1', 'ec1', 'ed1']));
writeFileSync(`${dir}/jwks-rotated.json`, jwks(['rsa1', 'ec1', 'ed1', 'rsa2']));
