// TLS with a self-signed certificate, checked with curl --cacert; plain HTTP
// on a non-loopback address is refused unless explicitly allowed.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync } from 'node:fs';
import { REST_PORT, TMP, rawRequest, reconfigure, waitFor } from '../lib/env.mjs';

const curl = (...args) => spawnSync('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '5', ...args], { encoding: 'utf8' });

after(() => {
  reconfigure({
    'provsecret.rest_tls_cert_file': null, 'provsecret.rest_tls_key_file': null,
    'provsecret.rest_listen_addresses': null,
  });
});

test('HTTPS with the configured certificate, verified by curl --cacert', async () => {
  const cert = `${TMP}/rest-cert.pem`;
  const key = `${TMP}/rest-key.pem`;
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256',
    '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
    '-keyout', key, '-out', cert], { stdio: 'ignore' });
  chmodSync(key, 0o644); // the test cluster's owner must read it
  reconfigure({ 'provsecret.rest_tls_cert_file': cert, 'provsecret.rest_tls_key_file': key });
  const url = `https://127.0.0.1:${REST_PORT}/healthz`;
  await waitFor('TLS listener', async () => curl('--cacert', cert, url).stdout === '200', 5000);
  // an unverified peer is refused by curl; plain HTTP no longer answers
  assert.notEqual(curl(url).stdout, '200');
  assert.notEqual(curl(`http://127.0.0.1:${REST_PORT}/healthz`).stdout, '200');
  const body = spawnSync('curl', ['-s', '--cacert', cert, url], { encoding: 'utf8' }).stdout;
  assert.deepEqual(JSON.parse(body), { status: 'ok' });
});

test('a non-loopback address without TLS is refused (the worker does not listen)', async () => {
  reconfigure({
    'provsecret.rest_tls_cert_file': null, 'provsecret.rest_tls_key_file': null,
    'provsecret.rest_listen_addresses': '0.0.0.0',
  });
  await waitFor('listener gone', async () => {
    try { await rawRequest('GET', '/healthz'); return false; } catch (e) { return e.code === 'ECONNREFUSED'; }
  }, 5000);
  reconfigure({ 'provsecret.rest_listen_addresses': '127.0.0.1' });
  await waitFor('loopback listener back', async () => (await rawRequest('GET', '/healthz')).status === 200, 5000);
});
