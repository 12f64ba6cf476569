#!/usr/bin/env bash
# test/browser/run.sh: start a cluster with the REST worker and the settings
# pages, and the development OpenID provider, run the browser tests, stop
# everything (also on failure).  Called by scripts/lib/suite-browser.sh with
# PS_PGBIN, PS_PGPORT, PS_REST_PORT, PS_ISSUER_PORT and PS_BROWSER_OUT.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PS_ROOT=${PS_ROOT:-$(cd "$here/../.." && pwd)}
# shellcheck source=../node/cluster.sh
. "$PS_ROOT/test/node/cluster.sh"

issuer="http://127.0.0.1:$PS_ISSUER_PORT"
export PS_BROWSER_BASE="http://127.0.0.1:$PS_REST_PORT"
export PS_BROWSER_OUT=${PS_BROWSER_OUT:-$here/output}
mkdir -p "$PS_BROWSER_OUT"
issuer_pid=

cleanup() {
	[ -n "$issuer_pid" ] && kill "$issuer_pid" 2>/dev/null || true
	[ -n "${PS_TMP:-}" ] && cp "$PS_TMP/server.log" "$PS_BROWSER_OUT/server.log" 2>/dev/null || true
	cluster_stop
}
trap cleanup EXIT

# Test users of the development issuer: throwaway passwords, fresh each run.
export PS_BROWSER_ALICE_PASSWORD="alice-$RANDOM$RANDOM"
export PS_BROWSER_MALLORY_PASSWORD="mallory-$RANDOM$RANDOM"
node "$PS_ROOT/scripts/dev-issuer/dev-issuer.mjs" --port "$PS_ISSUER_PORT" \
	--redirect "$PS_BROWSER_BASE/ui/callback" \
	--user "alice:$PS_BROWSER_ALICE_PASSWORD" \
	--user "mallory:$PS_BROWSER_MALLORY_PASSWORD" >"$PS_BROWSER_OUT/issuer.log" 2>&1 &
issuer_pid=$!

PS_EXTRA_CONF="provsecret.jwt_issuer = '$issuer'
provsecret.jwt_audience = 'provsecret'
provsecret.jwt_jwks_url = '$issuer/jwks'
provsecret.ui_client_id = 'provsecret-ui'
provsecret.outbound_allowed_hosts = '127.0.0.1'"
# a port nothing listens on: the backend of workspace wsdown is unreachable
down_port=$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
cluster_init
cluster_run
cluster_psql -v down="http://127.0.0.1:$down_port" <<'SQL'
CREATE EXTENSION provsecret;
SELECT provsecret.register_company('acme');
SELECT provsecret.register_project('ws1', 'acme');
SELECT provsecret.register_company('globex');
SELECT provsecret.grant('user:alice', 'company/acme',
                        ARRAY['describe', 'read', 'write', 'delete', 'manage']);
SELECT provsecret.grant('user:mallory', 'company/globex', ARRAY['describe']);
SELECT provsecret.register_project('wsdown', 'acme');
SELECT provsecret.seal('managed:project/wsdown/vault-token', 'test-vault-token');
SELECT provsecret.create_resolver('down', 'project/wsdown', 'vault-kv2', :'down',
       '{"timeout_ms":1000,"breaker_failures":0}', 'managed:project/wsdown/vault-token');
SELECT provsecret.bind_workspace('wsdown', 'down');
SQL

for _ in $(seq 1 100); do
	curl -fsS "$PS_BROWSER_BASE/healthz" >/dev/null 2>&1 &&
		curl -fsS "$issuer/.well-known/openid-configuration" >/dev/null 2>&1 && break
	sleep 0.1
done

export PS_BROWSER_PSQL="$PS_PGBIN/psql -X -At -h $PS_TMP -p $PS_PGPORT -U postgres -d postgres"
if [ -n "${PS_BROWSER_HOLD:-}" ]; then echo "held: $PS_BROWSER_BASE"; sleep "$PS_BROWSER_HOLD"; exit 0; fi
node --test --test-reporter=tap "$here"/*.test.mjs
