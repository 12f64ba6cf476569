// Settings shared by the twin's setup and server, all from the environment
// run.sh sets: TWIN_PGHOST (socket directory), TWIN_PGPORT, TWIN_KEY (64 hex
// characters, the twin's own key; a team would read it from its secret store).
import pg from 'pg';
import { createRequire } from 'node:module';

// libsodium-wrappers 0.7.16's ESM build imports a file it does not ship:
// load its CommonJS build.
const sodium = createRequire(import.meta.url)('libsodium-wrappers');

await sodium.ready;
export { sodium };

export function pool(max = 10) {
  return new pg.Pool({
    host: process.env.TWIN_PGHOST,
    port: Number(process.env.TWIN_PGPORT),
    user: 'postgres',
    database: 'postgres',
    max,
    // what issue 5 asks of the twin: every COMMIT waits for its WAL flush
    options: '-c synchronous_commit=on',
  });
}

export function key() {
  const hex = process.env.TWIN_KEY || '';
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new Error('TWIN_KEY: 64 hex characters expected');
  delete process.env.TWIN_KEY;
  return sodium.from_hex(hex);
}

// The ciphertext is bound to where it lives, as provsecret binds it to the
// reference and version, so a row copied elsewhere does not decrypt.
export function ad(project, name, version) {
  return `project/${project}/${name}#${version}`;
}
