// The settings pages as a person uses them: Chromium (Debian's, headless)
// driven by playwright-core against the cluster and the development OpenID
// provider test/browser/run.sh started.  Screenshots of each page go to
// $PS_BROWSER_OUT.  Secret values here are made up per run; they are
// compared, never printed.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import http from 'node:http';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { chromium } from 'playwright-core';

const base = process.env.PS_BROWSER_BASE;
const out = process.env.PS_BROWSER_OUT;
const users = {
  alice: process.env.PS_BROWSER_ALICE_PASSWORD,
  mallory: process.env.PS_BROWSER_MALLORY_PASSWORD,
};
const firstKey = `sk-first-${crypto.randomBytes(12).toString('hex')}`;
const rotatedKey = `sk-rotated-${crypto.randomBytes(12).toString('hex')}`;
const workspaceValue = `ws-value-${crypto.randomBytes(12).toString('hex')}`;

let browser;
let alice;        // context signed in as alice
let page;         // alice's page
const seen = [];  // every response body alice's page received

function sql(query) {
  const [bin, ...args] = process.env.PS_BROWSER_PSQL.split(' ');
  const cmd = process.getuid() === 0 ? ['runuser', ['-u', 'postgres', '--', bin, ...args, '-c', query]]
    : [bin, [...args, '-c', query]];
  return execFileSync(cmd[0], cmd[1], { encoding: 'utf8' }).trim();
}

async function shot(p, name) {
  await p.screenshot({ path: path.join(out, `${name}.png`), fullPage: true });
}

async function signIn(p, user, next = '/ui/') {
  await p.goto(`${base}${next}`);
  await p.getByRole('button', { name: 'Sign in' }).click();
  await p.getByLabel('Username').fill(user);
  await p.getByLabel('Password').fill(users[user]);
  await p.getByRole('button', { name: 'Continue' }).click();
  await p.waitForURL(`${base}${next}`);
}

before(async () => {
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox'] });
  alice = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  page = await alice.newPage();
  page.on('response', async (r) => {
    try { seen.push({ url: r.url(), body: await r.text(), headers: await r.allHeaders() }); } catch { /* redirects have no body */ }
  });
});

after(async () => { await browser?.close(); });

test('the landing page asks to sign in, and the sign-in goes through the issuer', async () => {
  const response = await page.goto(`${base}/ui/`);
  assert.equal(response.status(), 200);
  await assert.doesNotReject(page.getByRole('button', { name: 'Sign in' }).waitFor());
  await shot(page, '01-sign-in');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByLabel('Username').waitFor();
  await shot(page, '02-issuer-login');
  await page.getByLabel('Username').fill('alice');
  await page.getByLabel('Password').fill(users.alice);
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.waitForURL(`${base}/ui/`);
  await page.getByRole('heading', { name: 'Your tenants' }).waitFor();
  await page.getByRole('table', { name: 'Organizations' }).getByText('acme').waitFor();
  await shot(page, '03-tenants');
  const rows = await page.getByRole('table', { name: 'Organizations' }).locator('tbody tr').allInnerTexts();
  assert.ok(rows.some((r) => r.includes('acme')), 'acme is listed');
  assert.ok(!rows.some((r) => r.includes('globex')), 'a tenant alice may not describe is not listed');
});

test('a sign-in is bound to its browser, used once, and checked at the issuer', async () => {
  const start = await fetch(`${base}/ui/login?next=/ui/workspaces/ws1/secrets`, { redirect: 'manual' });
  assert.equal(start.status, 303);
  const to = new URL(start.headers.get('location'));
  assert.equal(to.searchParams.get('code_challenge_method'), 'S256');
  assert.ok(to.searchParams.get('nonce') && to.searchParams.get('code_challenge'));
  const state = to.searchParams.get('state');
  const binding = /ps_ui_login=([0-9a-f]+)/.exec(start.headers.get('set-cookie'))[1];
  const callback = (cookie) => fetch(`${base}/ui/callback?code=not-a-code&state=${state}`,
    { redirect: 'manual', headers: cookie ? { cookie: `ps_ui_login=${cookie}` } : {} });
  // another browser cannot complete it: without the binding cookie, or
  // with another one (which spends it)
  let r = await callback(null);
  assert.equal(r.status, 400);
  assert.match(await r.text(), /no longer valid/);
  r = await callback('0'.repeat(64));
  assert.equal(r.status, 400);
  r = await callback(binding);
  assert.equal(r.status, 400, 'a state is used once');

  // the binding cookie, but a code the issuer never gave
  const again = await fetch(`${base}/ui/login`, { redirect: 'manual' });
  const state2 = new URL(again.headers.get('location')).searchParams.get('state');
  const binding2 = /ps_ui_login=([0-9a-f]+)/.exec(again.headers.get('set-cookie'))[1];
  r = await fetch(`${base}/ui/callback?code=not-a-code&state=${state2}`,
    { redirect: 'manual', headers: { cookie: `ps_ui_login=${binding2}` } });
  assert.equal(r.status, 401);
  assert.match(await r.text(), /Sign-in failed/);
  assert.equal(r.headers.get('set-cookie'), null, 'no session');
});

test('the session cookie is HttpOnly, SameSite=Strict, Path=/ui', async () => {
  const cookies = await alice.cookies(`${base}/ui/`);
  const session = cookies.find((c) => c.name === 'ps_ui_session');
  assert.ok(session, 'a session cookie is set');
  assert.equal(session.httpOnly, true);
  assert.equal(session.sameSite, 'Strict');
  assert.equal(session.path, '/ui');
  assert.equal(await page.evaluate(() => document.cookie), '', 'no cookie is readable by script');
});

test('the pages carry the security headers', async () => {
  const response = await page.goto(`${base}/ui/organizations/acme/ai-provider`);
  const h = await response.allHeaders();
  assert.match(h['content-security-policy'], /default-src 'self'/);
  assert.match(h['content-security-policy'], /frame-ancestors 'none'/);
  assert.doesNotMatch(h['content-security-policy'], /unsafe-inline/);
  assert.equal(h['cache-control'], 'no-store');
  assert.equal(h['referrer-policy'], 'no-referrer');
  assert.equal(h['x-content-type-options'], 'nosniff');
});

test('a company provider key is set, then rotated: the reference stays, the version goes up', async () => {
  await page.goto(`${base}/ui/organizations/acme/ai-provider`);
  await page.getByLabel('Provider').fill('openai');
  await page.getByLabel('API key').fill(firstKey);
  await page.getByLabel('Description').fill('Production key');
  await page.getByRole('button', { name: 'Save' }).click();
  await page.getByRole('status').getByText('Saved openai').waitFor();
  assert.match(await page.getByRole('status').innerText(), /managed:company\/acme\/openai/, 'the reference is shown');
  assert.equal(await page.getByLabel('API key').inputValue(), '', 'the key field is cleared after saving');
  const table = page.getByRole('table', { name: 'Saved credentials' });
  const row = table.locator('tbody tr', { hasText: 'openai' });
  await row.getByText('v1').waitFor();
  const reference = 'managed:company/acme/openai';
  assert.match(await row.innerText(), /managed:company\/acme\/openai/);
  await shot(page, '04-company-provider-set');

  await page.getByLabel('Provider').fill('openai');
  await page.getByLabel('API key').fill(rotatedKey);
  await page.getByRole('button', { name: 'Save' }).click();
  await page.getByRole('status').getByText('Rotated openai').waitFor();
  await row.getByText('v2').waitFor();
  assert.ok((await row.innerText()).includes(reference), 'the reference is kept');
  assert.match(await row.innerText(), /user:alice|alice/);
  assert.equal(await page.getByLabel('API key').inputValue(), '');
  assert.equal(sql("SELECT value_version FROM provsecret.secrets WHERE reference = 'managed:company/acme/openai'"), '2');
  await shot(page, '05-company-provider-rotated');
});

test('a saved key is nowhere in the page, its source, the network, cookies or storage', async () => {
  await page.reload();
  await page.getByRole('table', { name: 'Saved credentials' }).getByText('v2').waitFor();
  const dom = await page.evaluate(() => document.documentElement.outerHTML +
    [...document.querySelectorAll('input, textarea')].map((i) => i.value).join('\n'));
  const storage = await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }));
  const cookies = JSON.stringify(await alice.cookies());
  const source = await (await page.request.get(page.url())).text();
  for (const key of [firstKey, rotatedKey]) {
    assert.ok(!dom.includes(key), 'not in the DOM');
    assert.ok(!source.includes(key), 'not in the page source');
    assert.ok(!storage.includes(key), 'not in web storage');
    assert.ok(!cookies.includes(key), 'not in a cookie');
    for (const r of seen) assert.ok(!r.body.includes(key), `not in the response of ${r.url}`);
    for (const r of seen) assert.ok(!r.url.includes(key), 'not in a URL');
  }
  assert.equal(storage, '{}{}', 'web storage is empty');
});

test('a workspace secret is set, revealed on request, and the reveal is audited', async () => {
  await page.goto(`${base}/ui/workspaces/ws1/secrets`);
  await page.getByLabel('Key', { exact: true }).fill('OPENAI_API_KEY');
  await page.getByLabel('Value').fill(workspaceValue);
  await page.getByLabel('Description').fill('Used by the agent');
  await page.getByRole('button', { name: 'Save' }).click();
  const row = page.getByRole('table', { name: 'Secrets' }).locator('tbody tr', { hasText: 'OPENAI_API_KEY' });
  await row.waitFor();
  assert.ok(!(await page.content()).includes(workspaceValue), 'not shown before Reveal');
  await shot(page, '06-workspace-secrets');
  await row.getByRole('button', { name: 'Reveal OPENAI_API_KEY' }).click();
  await row.locator('code.revealed').waitFor();
  assert.equal(await row.locator('code.revealed').innerText(), workspaceValue);
  await shot(page, '07-workspace-revealed');
  assert.equal(sql("SELECT count(*) FROM provsecret.audit_log WHERE action = 'secret.revealed' " +
    "AND reference = 'managed:project/ws1/OPENAI_API_KEY' AND principal = 'user:alice'"), '1');
  await page.getByRole('tab', { name: 'Audit events' }).click();
  const audit = page.getByRole('table', { name: 'Audit events' });
  await audit.locator('tbody tr', { hasText: 'secret.revealed' }).first().waitFor();
  await shot(page, '08-workspace-audit');
});

test('a value over 10,000 characters gets a message a person can act on', async () => {
  await page.goto(`${base}/ui/workspaces/ws1/secrets`);
  await page.getByLabel('Key', { exact: true }).fill('TOO_LONG');
  await page.getByLabel('Value').fill('x'.repeat(10001));
  await page.getByRole('button', { name: 'Save' }).click();
  await page.getByRole('status').getByText('longer than 10,000 characters').waitFor();
  assert.equal(sql("SELECT count(*) FROM provsecret.secrets WHERE name = 'TOO_LONG'"), '0');
  await shot(page, '09-value-too-long');
});

test('a bound workspace whose backend is unreachable gets a message a person can act on', async () => {
  await page.goto(`${base}/ui/workspaces/wsdown/secrets`);
  await page.getByLabel('Key', { exact: true }).fill('OPENAI_API_KEY');
  await page.getByLabel('Value').fill(workspaceValue);
  await page.getByRole('button', { name: 'Save' }).click();
  await page.getByRole('status').getByText('could not be reached').waitFor();
  assert.equal(await page.getByLabel('Value').inputValue(), '', 'the value field is cleared');
  await shot(page, '10-backend-unreachable');
});

test('delete asks to confirm', async () => {
  await page.goto(`${base}/ui/workspaces/ws1/secrets`);
  const row = page.getByRole('table', { name: 'Secrets' }).locator('tbody tr', { hasText: 'OPENAI_API_KEY' });
  await row.getByRole('button', { name: 'Delete OPENAI_API_KEY' }).click();
  const dialog = page.getByRole('dialog');
  await dialog.waitFor();
  await shot(page, '10b-delete-confirm');
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  await row.waitFor();
  await row.getByRole('button', { name: 'Delete OPENAI_API_KEY' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Delete' }).click();
  await page.getByRole('status').getByText('Deleted OPENAI_API_KEY').waitFor();
  assert.equal(sql("SELECT count(*) FROM provsecret.secrets WHERE reference = 'managed:project/ws1/OPENAI_API_KEY'"), '0');
});

test('the project page and a narrow screen', async () => {
  const narrow = await alice.newPage();
  await narrow.setViewportSize({ width: 390, height: 844 });
  await narrow.goto(`${base}/ui/projects/ws1/settings/ai-providers`);
  await narrow.getByRole('heading', { name: /AI provider profiles/ }).waitFor();
  await narrow.getByLabel('Provider').fill('anthropic');
  await narrow.getByLabel('API key').fill(`sk-ant-${crypto.randomBytes(8).toString('hex')}`);
  await narrow.getByRole('button', { name: 'Save' }).click();
  await narrow.getByRole('status').getByText('Saved anthropic').waitFor();
  const width = await narrow.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 390, `no horizontal scrolling on a narrow screen (${width}px)`);
  await shot(narrow, '11-project-narrow');
  await narrow.close();
});

test('a change without the CSRF token, or posted from another site, is refused', async () => {
  const status = await page.evaluate(async () => (await fetch('/ui/api/workspaces/ws1/secrets/EVIL', {
    method: 'PUT', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ value: 'x' }),
  })).status);
  assert.equal(status, 403, 'same origin without the CSRF token');

  // another site: a page on another port posts a form to the pages
  const attacker = http.createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html' });
    res.end(`<form id="f" method="post" action="${base}/ui/api/workspaces/ws1/secrets/EVIL/reveal">
      <input name="value" value="x"></form><script>document.getElementById('f').submit()</script>`);
  });
  await new Promise((r) => attacker.listen(0, '127.0.0.1', r));
  const evil = `http://localhost:${attacker.address().port}/`;
  const attacked = await alice.newPage();
  const [response] = await Promise.all([
    attacked.waitForResponse((r) => r.url().startsWith(`${base}/ui/api/`)),
    attacked.goto(evil),
  ]);
  assert.equal(response.status(), 403);
  assert.match(await response.text(), /cross-site request refused/);
  await attacked.close();
  attacker.close();
  assert.equal(sql("SELECT count(*) FROM provsecret.secrets WHERE name = 'EVIL'"), '0');
});

test('a user without describe gets the 403 page for another tenant', async () => {
  const context = await browser.newContext();
  const p = await context.newPage();
  await signIn(p, 'mallory');
  const response = await p.goto(`${base}/ui/organizations/acme/ai-provider`);
  assert.equal(response.status(), 403);
  await p.getByRole('heading', { name: 'You do not have access to this page' }).waitFor();
  assert.ok(!(await p.content()).includes('managed:company/acme'), 'nothing of the tenant is shown');
  await shot(p, '12-forbidden');
  const api = await p.evaluate(async () => (await fetch('/ui/api/companies/acme/secrets')).status);
  assert.equal(api, 403);
  assert.ok(Number(sql("SELECT count(*) FROM provsecret.audit_log WHERE action = 'access.denied' AND principal = 'user:mallory'")) >= 1,
    'the refusal is audited');
  await context.close();
});

test('the pages work with the keyboard alone', async () => {
  await page.goto(`${base}/ui/organizations/acme/ai-provider`);
  await page.getByLabel('Provider').focus();
  await page.keyboard.type('mistral');
  await page.keyboard.press('Tab');
  await page.keyboard.type(`mk-${crypto.randomBytes(6).toString('hex')}`);
  await page.keyboard.press('Enter');
  await page.getByRole('status').getByText('Saved mistral').waitFor();
  // the tabs: arrow keys move between them
  await page.getByRole('tab', { name: 'Credentials' }).focus();
  await page.keyboard.press('ArrowRight');
  assert.equal(await page.getByRole('tab', { name: 'Audit events' }).getAttribute('aria-selected'), 'true');
  await page.getByRole('table', { name: 'Audit events' }).waitFor();
  await shot(page, '12b-company-audit');
});

test('sign-out ends the session', async () => {
  const cookie = (await alice.cookies(`${base}/ui/`)).find((c) => c.name === 'ps_ui_session').value;
  await page.goto(`${base}/ui/`);
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('button', { name: 'Sign in' }).waitFor();
  await shot(page, '13-signed-out');
  const response = await page.goto(`${base}/ui/workspaces/ws1/secrets`);
  assert.equal(response.status(), 401);
  await page.getByRole('button', { name: 'Sign in' }).waitFor();
  // the old cookie is worthless now
  const again = await fetch(`${base}/ui/api/tenants`, { headers: { Cookie: `ps_ui_session=${cookie}` } });
  assert.equal(again.status, 401);
});

test('a session whose token is refused (expired) asks to sign in again', async () => {
  const context = await browser.newContext();
  const p = await context.newPage();
  await signIn(p, 'alice', '/ui/workspaces/ws1/secrets');
  // the issuer's tokens stop being accepted, as an expired one would
  sql("ALTER SYSTEM SET provsecret.jwt_audience = 'another-audience'");
  sql('SELECT pg_reload_conf()');
  try {
    let status = 0;
    for (let i = 0; i < 100 && status !== 401; i++) {
      status = await p.evaluate(async () => (await fetch('/ui/api/tenants')).status);
      if (status !== 401) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(status, 401);
    const response = await p.goto(`${base}/ui/workspaces/ws1/secrets`);
    assert.equal(response.status(), 401);
    await p.getByRole('heading', { name: 'Session expired' }).waitFor();
    await p.getByRole('button', { name: 'Sign in' }).waitFor();
    await shot(p, '13a-session-expired');
  } finally {
    sql('ALTER SYSTEM RESET provsecret.jwt_audience');
    sql('SELECT pg_reload_conf()');
  }
  await context.close();
});

test('provsecret.ui = off turns the pages off', async () => {
  sql('ALTER SYSTEM SET provsecret.ui = off');
  sql('SELECT pg_reload_conf()');
  try {
    let status = 0;
    for (let i = 0; i < 100 && status !== 404; i++) {
      status = (await fetch(`${base}/ui/`)).status;
      if (status !== 404) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(status, 404);
    assert.equal((await fetch(`${base}/ui/assets/app.js`)).status, 404);
    assert.equal((await fetch(`${base}/healthz`)).status, 200, 'REST goes on');
  } finally {
    sql('ALTER SYSTEM RESET provsecret.ui');
    sql('SELECT pg_reload_conf()');
  }
});
