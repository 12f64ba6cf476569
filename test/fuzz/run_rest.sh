#!/usr/bin/env bash
# Build the REST parser fuzzer with clang-14 (libFuzzer + ASan + UBSan) and
# run it.   test/fuzz/run_rest.sh [seconds, default 60]
# Crashes land in .build/fuzz-rest/ and make the script exit non-zero.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
secs="${1:-60}"
out="$root/.build/fuzz-rest"
mkdir -p "$out/corpus" "$out/artifacts"

command -v clang-14 >/dev/null || apt-get install -y -qq clang-14 libclang-rt-14-dev
clang-14 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-I"$root/src" -o "$out/fuzz_rest_parse" "$root/test/fuzz/fuzz_rest_parse.c" \
	"$root/src/rest/rest_parse.c" -ljansson

seed() { printf '%b' "$2" >"$out/corpus/$1"; }
seed path1 '\x00/v1/workspaces/ws1/secrets/LITELLM_API_KEY'
seed path2 '\x00/v1/companies/acme/provider-secrets/open%41i'
seed path3 '\x00/v1/projects/p/provider-secrets'
seed body1 '\x01{"value":"sk-1","description":"d"}'
seed body2 '\x01{"credentialValue":"c","reference":"managed:project/a/b"}'
seed id1 '\x02abc-DEF_1.2'

cd "$out"
"$out/fuzz_rest_parse" -max_total_time="$secs" -max_len=4096 -timeout=10 \
	-artifact_prefix="$out/artifacts/" -print_final_stats=1 "$out/corpus" \
	2>&1 | tail -n 8
