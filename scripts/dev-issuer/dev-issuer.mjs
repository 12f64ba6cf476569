#!/usr/bin/env node
// A development OpenID provider for the settings pages: oidc-provider on
// loopback with a login form, one public client (PKCE S256) and JWT access
// tokens (RFC 9068) for the audience provsecret verifies.  For the quick
// start and the browser tests only: users and keys live in memory and are
// gone when it stops.
//
//   node scripts/dev-issuer/dev-issuer.mjs --port 18900 \
//     --redirect http://127.0.0.1:8787/ui/callback --user dev:secret [--user ...]
//     [--client provsecret-ui] [--audience provsecret]
//     [--extra-key scripts/dev-token.mjs's PEM key, published in /jwks too]
//
// Prints one JSON line when it listens: {"issuer","jwksUrl","clientId",
// "audience"}; runs until it is killed.
import crypto from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { parseArgs } from 'node:util';
import Provider from 'oidc-provider';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '18900' },
    redirect: { type: 'string', multiple: true, default: [] },
    user: { type: 'string', multiple: true, default: [] },
    client: { type: 'string', default: 'provsecret-ui' },
    audience: { type: 'string', default: 'provsecret' },
    'extra-key': { type: 'string' },
  },
});

const port = Number(values.port);
const issuer = `http://127.0.0.1:${port}`;
const resource = 'urn:provsecret:api';
const users = new Map(values.user.map((u) => {
  const i = u.indexOf(':');
  return [u.slice(0, i), u.slice(i + 1)];
}));

const signingKey = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 })
  .privateKey.export({ format: 'jwk' });
signingKey.kid = crypto.randomBytes(8).toString('hex');
signingKey.alg = 'RS256';
signingKey.use = 'sig';

const keys = [signingKey];
if (values['extra-key']) {
  // dev-token.mjs's Ed25519 key: its tokens verify against this issuer's JWKS
  const extra = crypto.createPrivateKey(readFileSync(values['extra-key'])).export({ format: 'jwk' });
  keys.push({ ...extra, kid: 'dev-1', alg: 'EdDSA', use: 'sig' });
}

const provider = new Provider(issuer, {
  clients: [{
    client_id: values.client,
    token_endpoint_auth_method: 'none',
    redirect_uris: values.redirect,
    grant_types: ['authorization_code'],
    response_types: ['code'],
  }],
  jwks: { keys },
  cookies: { keys: [crypto.randomBytes(32).toString('hex')] },
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: false },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => resource,
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope: 'api',
        audience: values.audience,
        accessTokenFormat: 'jwt',
        accessTokenTTL: 3600,
        jwt: { sign: { alg: 'RS256' } },
      }),
    },
  },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  findAccount: (ctx, id) => (users.has(id) ? {
    accountId: id,
    claims: () => ({ sub: id, name: id, preferred_username: id }),
  } : undefined),
  claims: { openid: ['sub'], profile: ['name', 'preferred_username'] },
  ttl: { Session: 3600, Interaction: 600, Grant: 3600, IdToken: 3600, AuthorizationCode: 60 },
});

const escape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function loginPage(res, uid, error) {
  res.writeHead(error ? 401 : 200, {
    'Content-Type': 'text/html; charset=utf-8',
    'Cache-Control': 'no-store',
    'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'",
  });
  res.end(`<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Development identity provider</title>
<style>body{font:16px system-ui,sans-serif;background:#f4f5f7;display:grid;place-items:center;min-height:100vh;margin:0}
form{background:#fff;padding:2rem;border-radius:8px;box-shadow:0 1px 3px #0002;display:grid;gap:.75rem;width:min(20rem,90vw)}
label{display:grid;gap:.25rem;font-weight:600}input{font:inherit;padding:.5rem;border:1px solid #bbb;border-radius:4px}
button{font:inherit;padding:.6rem;border:0;border-radius:4px;background:#334;color:#fff}.error{color:#a00}</style></head>
<body><form method="post" action="/interaction/${escape(uid)}/login">
<h1>Development identity provider</h1>
${error ? `<p class="error" role="alert">${escape(error)}</p>` : ''}
<label>Username <input name="login" autocomplete="username" required autofocus></label>
<label>Password <input name="password" type="password" autocomplete="current-password" required></label>
<button type="submit">Continue</button></form></body></html>`);
}

async function finish(req, res, details, accountId) {
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId, clientId: details.params.client_id });
  grant.addOIDCScope('openid profile');
  grant.addResourceScope(resource, 'api');
  const grantId = await grant.save();
  const result = { consent: { grantId } };
  if (details.prompt.name === 'login') result.login = { accountId };
  await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: true });
}

async function readForm(req) {
  let body = '';
  for await (const chunk of req) {
    body += chunk;
    if (body.length > 8192) throw new Error('form too large');
  }
  return new URLSearchParams(body);
}

async function interaction(req, res, url) {
  const details = await provider.interactionDetails(req, res);
  if (req.method === 'GET') {
    if (details.prompt.name === 'consent') {
      await finish(req, res, details, details.session.accountId);
      return;
    }
    loginPage(res, details.uid);
    return;
  }
  if (req.method === 'POST' && url.pathname.endsWith('/login')) {
    const form = await readForm(req);
    const login = form.get('login') ?? '';
    const password = form.get('password') ?? '';
    const expected = users.get(login);
    const ok = expected !== undefined && expected.length === password.length &&
      crypto.timingSafeEqual(Buffer.from(expected), Buffer.from(password));
    if (!ok) {
      loginPage(res, details.uid, 'Unknown user name or wrong password.');
      return;
    }
    await finish(req, res, details, login);
    return;
  }
  res.writeHead(405).end();
}

const callback = provider.callback();
const server = http.createServer((req, res) => {
  const url = new URL(req.url, issuer);
  if (url.pathname.startsWith('/interaction/')) {
    interaction(req, res, url).catch((err) => {
      res.writeHead(400, { 'Content-Type': 'text/plain' });
      res.end(`sign-in failed: ${err.message}`);
    });
    return;
  }
  callback(req, res);
});
server.listen(port, '127.0.0.1', () => {
  console.log(JSON.stringify({
    issuer, jwksUrl: `${issuer}/jwks`, clientId: values.client, audience: values.audience,
  }));
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => server.close(() => process.exit(0)));
