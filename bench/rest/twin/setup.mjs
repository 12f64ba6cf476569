// node setup.mjs SUB N: the twin's schema (shaped like provsecret's
// ai_provider_secret and audit_event, as plain tables), N secrets KEY_1..KEY_N
// in workspace bench-ws sealed with XChaCha20-Poly1305, and a read grant for
// user:SUB.
import { pool, key, ad, sodium } from './db.mjs';

const [sub, n] = [process.argv[2], Number(process.argv[3])];
const k = key();
const db = pool(1);
await db.query(`
  DROP SCHEMA IF EXISTS twin CASCADE;
  CREATE SCHEMA twin;
  CREATE TABLE twin.secret (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project       text NOT NULL,
    name          text NOT NULL,
    description   text,
    ciphertext    bytea NOT NULL,           -- nonce || XChaCha20-Poly1305 ciphertext
    value_version integer NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    created_by    text NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    updated_by    text NOT NULL,
    UNIQUE (project, name)
  );
  CREATE TABLE twin.access_grant (
    principal     text NOT NULL,
    project       text NOT NULL,
    permissions   text[] NOT NULL,
    PRIMARY KEY (principal, project)
  );
  CREATE TABLE twin.audit_event (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at            timestamptz NOT NULL DEFAULT clock_timestamp(),
    action        text NOT NULL,
    reference     text,
    project       text,
    principal     text NOT NULL,
    channel       text NOT NULL,
    client_addr   inet,
    request_id    text,
    value_version integer,
    outcome       text NOT NULL
  );
  CREATE INDEX audit_event_reference_idx ON twin.audit_event (reference, at);
`);
await db.query('INSERT INTO twin.access_grant VALUES ($1, $2, $3)', [`user:${sub}`, 'bench-ws', ['read']]);
for (let i = 1; i <= n; i++) {
  const name = `KEY_${i}`;
  const nonce = sodium.randombytes_buf(sodium.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
  const ct = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(
    `sk-bench-value-${i}`, ad('bench-ws', name, 1), null, nonce, k);
  await db.query(
    `INSERT INTO twin.secret (project, name, description, ciphertext, value_version, created_by, updated_by)
     VALUES ($1, $2, $3, $4, 1, 'setup', 'setup')`,
    ['bench-ws', name, `key ${i}`, Buffer.concat([nonce, ct])]);
}
sodium.memzero(k);
await db.end();
