// Every status code of DESIGN §8 and the shape of errors.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { api, grant, rawRequest, sql, token } from '../lib/env.mjs';

let tok;
before(async () => {
  grant('codes', 'codes-ws', ['read', 'write', 'delete']);
  sql("SELECT provsecret.register_company('codes-co')");
  sql("SELECT provsecret.grant('user:codes', 'company/codes-co', ARRAY['read','write','delete'])");
  tok = await token('codes');
});

function isError(r, status, code) {
  assert.equal(r.status, status, r.text);
  assert.equal(r.json.error.code, code);
  assert.equal(typeof r.json.error.message, 'string');
  assert.match(r.headers.get('x-request-id'), /^[A-Za-z0-9._-]{1,64}$/);
}

test('200, 201, 204 and the company provider routes', async () => {
  const path = '/v1/companies/codes-co/provider-secrets/anthropic';
  let r = await api('PUT', path, { tok, body: { credentialValue: 'sk-ant-1', description: 'Claude' } });
  assert.equal(r.status, 201);
  assert.deepEqual(r.json, { provider: 'anthropic', reference: 'managed:company/codes-co/anthropic', description: 'Claude', valueVersion: 1 });
  r = await api('PUT', path, { tok, body: { credentialValue: 'sk-ant-2' } });
  assert.equal(r.status, 200);
  assert.equal(r.json.valueVersion, 2);
  assert.equal(r.json.description, 'Claude', 'description kept on rotation');
  r = await api('GET', '/v1/companies/codes-co/provider-secrets', { tok });
  assert.deepEqual(r.json, { providerSecrets: [{ provider: 'anthropic', reference: 'managed:company/codes-co/anthropic', description: 'Claude', valueVersion: 2 }] });
  assert.ok(!r.text.includes('sk-ant'));
  r = await api('GET', path, { tok });
  assert.equal(r.status, 200);
  assert.ok(!r.text.includes('sk-ant'));
  r = await api('DELETE', path, { tok });
  assert.equal(r.status, 204);
  r = await api('GET', path, { tok });
  isError(r, 404, 'not_found');
});

test('400: bad key, bad JSON, wrong types, bad reference', async () => {
  const ws = '/v1/workspaces/codes-ws/secrets';
  isError(await api('GET', `${ws}/bad%2Fkey`, { tok }), 400, 'bad_request');
  const auth = { authorization: `Bearer ${tok}` };
  isError(await rawRequest('GET', `${ws}/..`, auth), 400, 'bad_request');
  isError(await rawRequest('GET', `${ws}/%2e%2e`, auth), 400, 'bad_request');
  isError(await rawRequest('GET', `${ws}/.hidden`, auth), 400, 'bad_request');
  isError(await api('GET', `${ws}/a%00b`, { tok }), 400, 'bad_request');
  isError(await api('GET', `${ws}/%zz`, { tok }), 400, 'bad_request');
  isError(await api('GET', `${ws}/${'k'.repeat(129)}`, { tok }), 400, 'bad_request');
  isError(await api('GET', '/v1/workspaces/-ws/secrets', { tok }), 400, 'bad_request');
  isError(await api('PUT', `${ws}/K`, { tok, raw: '{"value":' }), 400, 'bad_request');
  isError(await api('PUT', `${ws}/K`, { tok, raw: '[1]' }), 400, 'bad_request');
  isError(await api('PUT', `${ws}/K`, { tok, body: { value: 42 } }), 400, 'bad_request');
  isError(await api('PUT', `${ws}/K`, { tok, body: { value: 'x', description: 7 } }), 400, 'bad_request');
  isError(await api('PUT', `${ws}/K`, { tok, body: { description: 'no value' } }), 400, 'bad_request');
  isError(await api('POST', '/v1/resolve', { tok, body: { reference: 'nope' } }), 400, 'bad_request');
  // unknown fields are ignored
  const r = await api('PUT', `${ws}/K`, { tok, body: { value: 'x', extra: { a: 1 } } });
  assert.equal(r.status, 201);
});

test('401 with WWW-Authenticate: Bearer', async () => {
  const r = await api('GET', '/v1/workspaces/codes-ws/secrets');
  isError(r, 401, 'unauthorized');
  assert.equal(r.headers.get('www-authenticate'), 'Bearer');
  const basic = await api('GET', '/v1/workspaces/codes-ws/secrets', { headers: { authorization: 'Basic Zm9vOmJhcg==' } });
  isError(basic, 401, 'unauthorized');
});

test('403, 404, 405 with Allow, 404 for unknown routes, 413', async () => {
  isError(await api('GET', '/v1/workspaces/other-ws/secrets/K', { tok }), 403, 'forbidden');
  isError(await api('GET', '/v1/workspaces/codes-ws/secrets/NOPE', { tok }), 404, 'not_found');
  const r = await api('PATCH', '/v1/workspaces/codes-ws/secrets/K', { tok });
  isError(r, 405, 'method_not_allowed');
  assert.equal(r.headers.get('allow'), 'GET, PUT, DELETE');
  isError(await api('POST', '/healthz'), 405, 'method_not_allowed');
  isError(await api('GET', '/v1/nothing-here', { tok }), 404, 'not_found');
  isError(await api('GET', '/v1/workspaces/codes-ws/secrets/K/extra', { tok }), 404, 'not_found');
  isError(await api('PUT', '/v1/workspaces/codes-ws/secrets/K', { tok, raw: 'x'.repeat(70 * 1024) }), 413, 'payload_too_large');
});

test('X-Request-Id: echoed when well-formed, generated otherwise', async () => {
  let r = await api('GET', '/healthz', { headers: { 'x-request-id': 'abc.DEF_12-3' } });
  assert.equal(r.headers.get('x-request-id'), 'abc.DEF_12-3');
  for (const bad of ['has space', 'x'.repeat(65), 'semi;colon']) {
    r = await api('GET', '/healthz', { headers: { 'x-request-id': bad } });
    const id = r.headers.get('x-request-id');
    assert.notEqual(id, bad);
    assert.match(id, /^[0-9a-f]{32}$/);
  }
  const a = (await api('GET', '/healthz')).headers.get('x-request-id');
  const b = (await api('GET', '/healthz')).headers.get('x-request-id');
  assert.notEqual(a, b);
});

test('/metrics: Prometheus text with routes, statuses, latency, reveals, denials', async () => {
  await api('GET', '/v1/workspaces/codes-ws/secrets/K', { tok });
  const r = await api('GET', '/metrics');
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
  assert.match(r.text, /provsecret_rest_requests_total\{route="\/v1\/workspaces\/\{ws\}\/secrets\/\{key\}",status="200"\} [1-9]/);
  assert.match(r.text, /provsecret_rest_requests_total\{route="\/v1\/workspaces\/\{ws\}\/secrets\/\{key\}",status="403"\} [1-9]/);
  assert.match(r.text, /provsecret_rest_request_duration_seconds_bucket\{le="\+Inf"\} [1-9]/);
  assert.match(r.text, /provsecret_rest_reveals_total [1-9]/);
  assert.match(r.text, /provsecret_rest_denials_total [1-9]/);
  // the audit worker's queue, and the events it has committed (this test's reveal among them)
  assert.match(r.text, /^provsecret_audit_queue_depth \d+$/m);
  assert.match(r.text, /^provsecret_audit_in_flight \d+$/m);
  assert.match(r.text, /^provsecret_audit_events_written_total [1-9]\d*$/m);
});
