#!/usr/bin/env bash
# Build the token fuzzer with clang-14 (libFuzzer + ASan + UBSan) and run it.
#   test/fuzz/run.sh [seconds, default 60]
# Seeds: the fixture tokens, JWKS and claims (test/unit/fixtures).  Crashes
# land in .build/fuzz/ and make the script exit non-zero.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
secs="${1:-60}"
out="$root/.build/fuzz"
mkdir -p "$out/corpus" "$out/artifacts"

command -v clang-14 >/dev/null || apt-get install -y -qq clang-14 libclang-rt-14-dev
clang-14 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-I"$root/src" -o "$out/fuzz_jwt" "$root/test/fuzz/fuzz_jwt.c" \
	"$root/src/token/jwt.c" "$root/src/token/jwks.c" "$root/src/core/base64url.c" \
	-lcrypto -ljansson -lm

# Seeds: mode byte + input (0 JWKS, 1 token, 2 claims).
node --input-type=module - "$root/test/unit/fixtures/jwt_fixtures.json" "$out/corpus" <<'JS'
import { readFileSync, writeFileSync } from 'node:fs';
const [file, dir] = process.argv.slice(2);
const f = JSON.parse(readFileSync(file, 'utf8'));
const put = (name, mode, s) => writeFileSync(`${dir}/${name}`, Buffer.concat([Buffer.from([mode]), Buffer.from(s)]));
put('jwks', 0, JSON.stringify(f.jwks));
f.cases.forEach((c, i) => {
  put(`token-${i}`, 1, c.token);
  const p = c.token.split('.')[1];
  if (p) { try { put(`claims-${i}`, 2, Buffer.from(p, 'base64url')); } catch {} }
});
JS

cd "$out"
"$out/fuzz_jwt" -max_total_time="$secs" -max_len=20000 -timeout=10 \
	-artifact_prefix="$out/artifacts/" -print_final_stats=1 "$out/corpus" \
	2>&1 | tail -n 25
