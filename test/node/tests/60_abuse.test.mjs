// Abuse: the worker keeps serving through idle floods, slow clients, huge
// and malformed bodies, and concurrent writes to one key.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { REST_PORT, api, grant, rawExchange, rawRequest, sql, token } from '../lib/env.mjs';

let tok;
const ws = '/v1/workspaces/abuse-ws/secrets';
before(async () => {
  grant('abuser', 'abuse-ws', ['read', 'write', 'delete']);
  tok = await token('abuser');
});

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function openIdle(n) {
  const socks = [];
  for (let i = 0; i < n; i++) {
    const s = net.connect(REST_PORT, '127.0.0.1');
    s.on('error', () => {});
    socks.push(s);
  }
  return socks;
}

test('1,000 idle connections: a real client is still served within 3 s', async () => {
  const socks = openIdle(1000);
  await sleep(300);
  const t0 = Date.now();
  const r = await rawRequest('GET', ws, { authorization: `Bearer ${tok}` });
  const took = Date.now() - t0;
  assert.equal(r.status, 200);
  assert.ok(took < 3000, `served after ${took} ms`);
  socks.forEach((s) => s.destroy());
});

test('slow-header client is dropped within the idle timeout; others are served meanwhile', async () => {
  const s = net.connect(REST_PORT, '127.0.0.1');
  s.on('error', () => {});
  const t0 = Date.now();
  const closed = new Promise((resolve) => s.on('close', () => resolve(Date.now() - t0)));
  s.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n');
  // trickle a header line every 500 ms: never idle, never complete
  const iv = setInterval(() => s.write('X-Slow: a\r\n'), 500);
  await sleep(1000);
  const r = await rawRequest('GET', '/healthz');
  assert.equal(r.status, 200);
  const after = await Promise.race([closed, sleep(15000).then(() => -1)]);
  clearInterval(iv);
  s.destroy();
  assert.ok(after > 0 && after < 13000, `slow client closed after ${after} ms`);
});

test('10 MB body: 413 (with Content-Length and chunked), then serving', async () => {
  const big = Buffer.alloc(10 * 1024 * 1024, 'x');
  const head = `PUT ${ws}/BIG HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nAuthorization: Bearer ${tok}\r\n`;
  let r = await rawExchange(Buffer.concat([
    Buffer.from(`${head}Content-Length: ${big.length}\r\n\r\n`), big]));
  assert.equal(r.status, 413);
  assert.match(r.text, /payload_too_large/);
  const chunk = big.subarray(0, 1024 * 1024);
  const chunks = [];
  for (let i = 0; i < 10; i++) chunks.push(Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n'));
  r = await rawExchange(Buffer.concat([
    Buffer.from(`${head}Transfer-Encoding: chunked\r\n\r\n`), ...chunks, Buffer.from('0\r\n\r\n')]));
  assert.equal(r.status, 413);
  assert.match(r.text, /payload_too_large/);
  const ok = await rawRequest('GET', ws, { authorization: `Bearer ${tok}` });
  assert.equal(ok.status, 200);
});

test('oversized headers: refused by the header cap (431), then serving', async () => {
  const r = await rawRequest('GET', '/healthz', { 'x-big': 'a'.repeat(40000) });
  assert.equal(r.status, 431);
  assert.equal((await rawRequest('GET', '/healthz')).status, 200);
});

test('invalid UTF-8 in the body: 400', async () => {
  for (const bytes of [[0xff, 0xfe], [0xc3, 0x28], [0xed, 0xa0, 0x80], [0xc0, 0xaf]]) {
    const body = Buffer.concat([Buffer.from('{"value":"'), Buffer.from(bytes), Buffer.from('"}')]);
    const r = await api('PUT', `${ws}/UTF`, { tok, raw: body });
    assert.equal(r.status, 400, bytes.join(','));
  }
  const nul = await api('PUT', `${ws}/UTF`, { tok, raw: '{"value":"a\\u0000b"}' });
  assert.equal(nul.status, 400);
});

test('value of 10,001 characters: 400; exactly 10,000: 201 (characters, not bytes)', async () => {
  let r = await api('PUT', `${ws}/LONG`, { tok, body: { value: 'é'.repeat(10001) } });
  assert.equal(r.status, 400);
  assert.match(r.json.error.message, /10,000/);
  r = await api('PUT', `${ws}/LONG`, { tok, body: { value: 'é'.repeat(10000) } });
  assert.equal(r.status, 201, r.text);
  r = await api('GET', `${ws}/LONG`, { tok });
  assert.equal(r.status, 200, r.text.slice(0, 200));
  assert.ok(r.json.value === 'é'.repeat(10000), `revealed ${r.json.value?.length} characters`);
});

test('concurrent PUTs of one key: one consistent final version, one audit event each', async () => {
  const n = 24;
  const results = await Promise.all(Array.from({ length: n }, (_, i) => api('PUT', `${ws}/RACE`, {
    tok, body: { value: `value-${i}` }, headers: { 'x-request-id': `race-${i}` },
  })));
  const statuses = results.map((r) => r.status).sort();
  assert.equal(statuses.filter((s) => s === 201).length, 1, statuses.join(','));
  assert.equal(statuses.filter((s) => s === 200).length, n - 1, statuses.join(','));
  assert.equal(sql("SELECT value_version FROM provsecret.secrets WHERE reference = 'managed:project/abuse-ws/RACE'"), String(n));
  const events = sql("SELECT request_id || ':' || value_version FROM provsecret.audit_log WHERE reference = 'managed:project/abuse-ws/RACE' AND action IN ('secret.sealed', 'secret.rotated') ORDER BY value_version")
    .split('\n');
  assert.equal(events.length, n);
  assert.deepEqual(new Set(events.map((e) => e.split(':')[0])), new Set(Array.from({ length: n }, (_, i) => `race-${i}`)));
  assert.deepEqual(events.map((e) => Number(e.split(':')[1])), Array.from({ length: n }, (_, i) => i + 1));
  const last = events[n - 1].split(':')[0].replace('race-', '');
  const r = await api('GET', `${ws}/RACE`, { tok });
  assert.equal(r.json.value, `value-${last}`, 'final value is the one of the last version');
});
