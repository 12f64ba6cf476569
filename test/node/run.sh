#!/bin/bash
# Real-client tests of the REST listener (node --test), against a throwaway
# cluster running the staged build.
#
#   make && make install DESTDIR=$PWD/.build/root   # once, from the repo root
#   test/node/run.sh [test files...]
#   test/node/run.sh node --test --test-reporter=tap   # how scripts/test calls it
#
# PS_PGBIN (or scripts/test's PS_STAGE_PGBIN) overrides the bin directory of
# the build under test; PS_TEST_ROOT_KEY the test root key.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
[ -n "${PS_STAGE_PGBIN:-}" ] && export PS_PGBIN=${PS_PGBIN:-$PS_STAGE_PGBIN}
[ -n "${PS_TEST_ROOT_KEY:-}" ] && export CLOUDGRID_PROVIDER_SECRET_ENCRYPTION_KEY=$PS_TEST_ROOT_KEY
source "$HERE/cluster.sh"

if [ ! -d "$HERE/node_modules/jose" ]; then
	(cd "$HERE" && npm ci --no-audit --no-fund >/dev/null)
fi

trap cluster_stop EXIT
cluster_init
export PS_JWT_ISSUER="http://127.0.0.1:$((PS_REST_PORT + 9))/realms/test"
export PS_JWT_AUDIENCE=provsecret
node "$HERE/lib/keys.mjs" "$PS_TMP"
cat >>"$PS_PGDATA/postgresql.conf" <<CONF
provsecret.jwt_issuer = '$PS_JWT_ISSUER'
provsecret.jwt_audience = '$PS_JWT_AUDIENCE'
provsecret.jwt_jwks_file = '$PS_TMP/jwks.json'
provsecret.outbound_allowed_hosts = '127.0.0.1'
CONF
# a variable of the server's environment, for env: references (93_env_grants)
export PS_TEST_ENV_REST="env-rest-canary-$RANDOM$RANDOM"
cluster_run
export PS_TMP PS_PGBIN PS_PGPORT PS_REST_PORT

runner=(node --test --test-reporter=spec)
if [ "${1:-}" = node ]; then
	runner=("$@")
	set --
fi
if [ $# -gt 0 ]; then
	files=()
	for f in "$@"; do files+=("$(realpath "$f")"); done
else
	# in this order, one at a time: the first one installs the extension
	files=("$HERE"/tests/*.test.mjs)
fi
cd "$HERE"
status=0
"${runner[@]}" --test-concurrency=1 "${files[@]}" || status=$?
if [ $status -ne 0 ]; then
	echo "--- server log (last 40 lines)"; tail -40 "$PS_TMP/server.log"
fi
exit $status
