#!/bin/bash
# wrk against the REST worker on loopback: healthz (no database), list,
# reveal (decrypt + audit event) and PUT (seal + audit), with the server's
# defaults (fsync on, synchronous_commit on).  One run, figures printed.
#
#   make && make install DESTDIR=$PWD/.build/root && bench/rest/wrk.sh
#   WRK_SECONDS=10 WRK_CONNECTIONS=64 REST_WORKERS=2 bench/rest/wrk.sh
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SECS=${WRK_SECONDS:-5}
CONNS=${WRK_CONNECTIONS:-32}
source "$ROOT/test/node/cluster.sh"
[ -d "$ROOT/test/node/node_modules/jose" ] || (cd "$ROOT/test/node" && npm ci --no-audit --no-fund >/dev/null)

trap cluster_stop EXIT
cluster_init
export PS_JWT_ISSUER=bench PS_JWT_AUDIENCE=provsecret
node "$ROOT/test/node/lib/keys.mjs" "$PS_TMP"
cat >>"$PS_PGDATA/postgresql.conf" <<CONF
provsecret.jwt_issuer = 'bench'
provsecret.jwt_audience = 'provsecret'
provsecret.jwt_jwks_file = '$PS_TMP/jwks.json'
provsecret.rest_workers = ${REST_WORKERS:-1}
CONF
cluster_run
cluster_psql -c "CREATE EXTENSION provsecret" \
	-c "SELECT provsecret.grant('user:bench', 'project/bench-ws', ARRAY['read','write','delete'])"
for i in $(seq 1 20); do
	cluster_psql -c "SELECT provsecret.seal('managed:project/bench-ws/KEY_$i', 'sk-bench-value-$i', 'key $i')" >/dev/null
done
TOKEN=$(node "$HERE/mint.mjs" "$PS_TMP" bench)
BASE=http://127.0.0.1:$PS_REST_PORT
for _ in $(seq 1 50); do curl -sf "$BASE/healthz" >/dev/null && break; sleep 0.1; done

run() {
	local name=$1
	shift
	local out
	out=$(wrk -t2 -c"$CONNS" -d"${SECS}s" --latency -H "Authorization: Bearer $TOKEN" "$@")
	printf '%-8s %10s req/s   p50 %8s   p99 %8s   non-2xx %s\n' "$name" \
		"$(awk '/Requests\/sec/ {print $2}' <<<"$out")" \
		"$(awk '$1 == "50%" {print $2}' <<<"$out")" \
		"$(awk '$1 == "99%" {print $2}' <<<"$out")" \
		"$(awk '/Non-2xx/ {print $NF}' <<<"$out" | grep . || echo 0)"
}
rss() {
	local total=0 pid
	for pid in $(cluster_psql -At -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'provsecret rest'"); do
		total=$((total + $(awk '/^RssAnon/ {print $2}' "/proc/$pid/status")))
	done
	echo "$total"
}
echo "wrk -t2 -c$CONNS -d${SECS}s, rest_workers=${REST_WORKERS:-1}"
curl -s -H "Authorization: Bearer $TOKEN" "$BASE/v1/workspaces/bench-ws/secrets/KEY_7" >/dev/null
rss_before=$(rss)
run healthz "$BASE/healthz"
run list "$BASE/v1/workspaces/bench-ws/secrets"
run reveal "$BASE/v1/workspaces/bench-ws/secrets/KEY_7"
run put -s "$HERE/put.lua" "$BASE"
curl -s "$BASE/metrics" | awk '/^provsecret_rest_batch/ {v[$1]=$2} END {
	printf "batches %d, requests in them %d: %.1f requests per commit\n",
		v["provsecret_rest_batches_total"], v["provsecret_rest_batched_requests_total"],
		v["provsecret_rest_batched_requests_total"] / v["provsecret_rest_batches_total"] }'
echo "worker private memory (RssAnon): ${rss_before} kB before, $(rss) kB after the runs"
echo "reveal audit events: $(cluster_psql -At -c "SELECT count(*) FROM provsecret.audit_log WHERE action = 'secret.revealed'")"
