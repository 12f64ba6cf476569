// node mint.mjs DIR SUB: print a Keycloak-shaped token signed by rsa1
process.env.PS_TMP = process.argv[2];
process.env.PS_JWT_ISSUER = process.env.PS_JWT_ISSUER || 'bench';
const { token } = await import('../../test/node/lib/env.mjs');
process.stdout.write(await token(process.argv[3], 'rsa1'));
