#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# The Vault KV v2 dialect next to the native REST routes it mirrors, in one
# run on one throwaway cluster of the staged build (loopback, fsync and
# synchronous_commit on, every reveal audited durably before it is
# answered), ratios printed next to their targets:
#
#   Vault read   GET  /v1/secret/data/project/bench-ws/KEY_7 (X-Vault-Token)
#     vs native  GET  /v1/workspaces/bench-ws/secrets/KEY_7  (Bearer)   >= 0.9
#   Vault LIST   LIST /v1/secret/metadata/project/bench-ws/
#     vs native  GET  /v1/workspaces/bench-ws/secrets                   >= 0.9
#     (both through list.lua, which builds every request: wrk sends LIST
#     only from a script, see list.lua)
#   Vault list   GET  /v1/secret/metadata/project/bench-ws?list=true
#     vs native  GET  /v1/workspaces/bench-ws/secrets (plain wrk)        >= 0.9
#
#   bench/vault/run.sh                     (as root: PostgreSQL runs as postgres)
#   WRK_ROUNDS=3 WRK_SECONDS=5 bench/vault/run.sh
#
# Settings (environment, bounded): WRK_SECONDS (3), WRK_WARMUP (1),
# WRK_THREADS (2), WRK_CONNECTIONS (32), WRK_ROUNDS (6: the two peers of a
# ratio run back to back in every round, in alternating order; req/s is
# all the requests of all rounds over all their seconds, p99 the median),
# REST_WORKERS (1).  A missed target is reported, never
# an exit status (timings depend on the machine).  Everything started here
# is stopped on exit.  The harness is bench/rest's (scripts/lib, mint.mjs).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
for lib in common stage cluster; do
	# shellcheck source=/dev/null
	. "$here/../../scripts/lib/$lib.sh"
done

bounded() # VAR DEFAULT MIN MAX
{
	local v="${!1:-$2}"
	if ! [[ "$v" =~ ^[0-9]+$ ]] || [ "$v" -lt "$3" ] || [ "$v" -gt "$4" ]; then
		ps_die "$1 must be an integer in [$3, $4]"
	fi
	printf -v "$1" '%s' "$v"
}
bounded WRK_SECONDS 3 1 60
bounded WRK_WARMUP 1 0 10
bounded WRK_THREADS 2 1 16
bounded WRK_CONNECTIONS 32 1 1000
bounded WRK_ROUNDS 6 1 20
bounded REST_WORKERS 1 1 8
[ "$WRK_CONNECTIONS" -ge "$WRK_THREADS" ] || ps_die "WRK_CONNECTIONS < WRK_THREADS"

ps_require_root
for cmd in wrk node npm curl; do
	command -v "$cmd" >/dev/null || ps_die "$cmd not found"
done

ps_log "building and staging provsecret (.build/root)"
ps_build
ps_stage
ps_stage_make_readable
[ -d "$PS_ROOT/test/node/node_modules/jose" ] ||
	(cd "$PS_ROOT/test/node" && npm ci --no-audit --no-fund </dev/null >/dev/null 2>&1) ||
	ps_die "npm ci failed in test/node"

pg_port="$(ps_free_port 55500 55509)"
rest_port="$(ps_free_port 18800 18809)"
tmp=""
ps_postgres_tmpdir tmp bench-vault
export PS_TMP="$tmp" PS_JWT_ISSUER=bench PS_JWT_AUDIENCE=provsecret
node "$PS_ROOT/test/node/lib/keys.mjs" "$tmp"
chmod 644 "$tmp/jwks.json"

export CLOUDGRID_PROVIDER_SECRET_ENCRYPTION_KEY="$PS_TEST_ROOT_KEY"
ps_cluster_init "$tmp" "$pg_port" "$PS_STAGE_PGBIN" trust
ps_cluster_conf \
	"shared_preload_libraries = 'provsecret'" \
	"fsync = on" \
	"synchronous_commit = on" \
	"provsecret.rest_port = $rest_port" \
	"provsecret.rest_workers = $REST_WORKERS" \
	"provsecret.jwt_issuer = 'bench'" \
	"provsecret.jwt_audience = 'provsecret'" \
	"provsecret.jwt_jwks_file = '$tmp/jwks.json'"
ps_cluster_start
ps_psql -q -c "CREATE EXTENSION provsecret" \
	-c "SELECT provsecret.grant('user:bench', 'project/bench-ws', ARRAY['describe','read'])" >/dev/null
for i in $(seq 1 20); do
	printf "SELECT provsecret.seal('managed:project/bench-ws/KEY_%d', 'sk-bench-value-%d', 'key %d');\n" "$i" "$i" "$i"
done | ps_psql -q >/dev/null

# --- every peer answers what it should before anything is timed ---------------
rest="http://127.0.0.1:$rest_port"
mint() { node "$PS_ROOT/bench/rest/mint.mjs" "$tmp" bench; }
for _ in $(seq 1 100); do curl -sf -o /dev/null "$rest/healthz" && break; sleep 0.1; done
token="$(mint)"
expect() # NAME STATUS EXPECTED-BODY-SUBSTRING CURL-ARGS...
{
	local name="$1" status="$2" want="$3" got
	shift 3
	got="$(curl -s -w '\n%{http_code}' "$@")"
	if [ "${got##*$'\n'}" != "$status" ] || [[ "$got" != *"$want"* ]]; then
		ps_die "check failed: $name answered ${got##*$'\n'}"
	fi
}
expect "native reveal" 200 '"sk-bench-value-7"' -H "Authorization: Bearer $token" "$rest/v1/workspaces/bench-ws/secrets/KEY_7"
expect "vault read" 200 '"key":"sk-bench-value-7"' -H "X-Vault-Token: $token" "$rest/v1/secret/data/project/bench-ws/KEY_7"
expect "native list" 200 '"KEY_20"' -H "Authorization: Bearer $token" "$rest/v1/workspaces/bench-ws/secrets"
expect "vault LIST" 200 '"KEY_20"' -X LIST -H "X-Vault-Token: $token" "$rest/v1/secret/metadata/project/bench-ws/"
expect "vault ?list=true" 200 '"KEY_20"' -H "X-Vault-Token: $token" "$rest/v1/secret/metadata/project/bench-ws?list=true"
[ "$(curl -s -X LIST -H "X-Vault-Token: $token" "$rest/v1/secret/metadata/project/bench-ws/" | sed 's/"request_id":"[^"]*"//')" = \
	"$(curl -s -H "X-Vault-Token: $token" "$rest/v1/secret/metadata/project/bench-ws?list=true" | sed 's/"request_id":"[^"]*"//')" ] ||
	ps_die "check failed: LIST and GET ?list=true answer differently"
expect "vault read without token" 403 '"errors"' "$rest/v1/secret/data/project/bench-ws/KEY_7"

# --- measurements ----------------------------------------------------------------
to_ms() # wrk's "850.00us", "3.21ms", "1.02s" in milliseconds
{
	awk -v v="$1" 'BEGIN {
		n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
		f = (u == "us") ? 0.001 : (u == "ms") ? 1 : (u == "s") ? 1000 : -1
		if (f < 0) print "nan"; else printf "%.3f\n", n * f }'
}
declare -A RPS P99 REQS BAD
run() # KEY ROUND URL HEADER [wrk options...] [-- script arguments...]
{
	local name="$1" round="$2" key="$1.$2" url="$3" header="$4" out
	shift 4
	local args=(-t"$WRK_THREADS" -c"$WRK_CONNECTIONS" -H "$header") tail=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do args+=("$1"); shift; done
	tail=("$@") # "-- script arguments" go after the URL
	[ "$WRK_WARMUP" -gt 0 ] && wrk "${args[@]}" -d"${WRK_WARMUP}s" "$url" "${tail[@]}" >/dev/null
	out="$(wrk "${args[@]}" -d"${WRK_SECONDS}s" --latency "$url" "${tail[@]}")"
	RPS[$key]="$(awk '/^Requests\/sec/ {print $2}' <<<"$out")"
	P99[$key]="$(to_ms "$(awk '$1 == "99%" {print $2}' <<<"$out")")"
	REQS[$key]="$(awk '/requests in/ {print $1}' <<<"$out")"
	BAD[$key]="$(awk '/Non-2xx/ {print $NF}' <<<"$out")"
	ps_log "  round $round $name: ${RPS[$key]} req/s"
}
reveals() { ps_psql -At -c "SELECT count(*) FROM provsecret.audit_log WHERE action = 'secret.revealed'"; }
audit_before="$(reveals)"
echo "wrk -t$WRK_THREADS -c$WRK_CONNECTIONS, ${WRK_SECONDS} s per peer after ${WRK_WARMUP} s of warm-up," \
	"$WRK_ROUNDS alternating round(s); rest_workers=$REST_WORKERS; $(nproc) CPUs shared by wrk and the server;" \
	"load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
# pair NATIVE-ARGS... ++ VAULT-ARGS...: the two peers of a ratio one after
# the other, the native one first in odd rounds and second in even ones
# (what runs just before a peer, a checkpoint or autovacuum of the audit
# rows it left, must not always fall on the same side)
pair()
{
	local native=() vault=()
	while [ "$1" != ++ ]; do native+=("$1"); shift; done
	shift
	vault=("$@")
	if [ $((round % 2)) = 1 ]; then
		run "${native[@]}"
		run "${vault[@]}"
	else
		run "${vault[@]}"
		run "${native[@]}"
	fi
}
for round in $(seq 1 "$WRK_ROUNDS"); do
	tok="$(mint)"
	pair native_reveal "$round" "$rest/v1/workspaces/bench-ws/secrets/KEY_7" "Authorization: Bearer $tok" \
		++ vault_read "$round" "$rest/v1/secret/data/project/bench-ws/KEY_7" "X-Vault-Token: $tok"
	pair native_list "$round" "$rest/v1/workspaces/bench-ws/secrets" "Authorization: Bearer $tok" \
		++ vault_list_get "$round" "$rest/v1/secret/metadata/project/bench-ws?list=true" "X-Vault-Token: $tok"
	pair native_list_lua "$round" "$rest/v1/workspaces/bench-ws/secrets" "Authorization: Bearer $tok" \
		-s "$here/list.lua" -- GET \
		++ vault_list "$round" "$rest/v1/secret/metadata/project/bench-ws/" "X-Vault-Token: $tok" \
		-s "$here/list.lua" -- LIST
done
audit_after="$(reveals)"

median() # ARRAY KEY
{
	local -n arr="$1"
	local r
	for r in $(seq 1 "$WRK_ROUNDS"); do printf '%s\n' "${arr[$2.$r]:-0}"; done |
		sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}
total() # ARRAY KEY
{
	local -n arr="$1"
	local r
	for r in $(seq 1 "$WRK_ROUNDS"); do printf '%s\n' "${arr[$2.$r]:-0}"; done |
		awk '{ t += $1 } END { print t + 0 }'
}
peers=(native_reveal vault_read native_list vault_list_get native_list_lua vault_list)
# req/s over every round: on a shared machine a burst of load elsewhere
# hits some rounds; a sum over many short alternating rounds spreads it over
# both peers of a ratio, where a median of few rounds does not
for key in "${peers[@]}"; do
	RPS[$key]="$(awk -v n="$(total REQS "$key")" -v s=$((WRK_ROUNDS * WRK_SECONDS)) 'BEGIN { printf "%.2f", n / s }')"
	P99[$key]="$(median P99 "$key")"
	REQS[$key]="$(total REQS "$key")"
	BAD[$key]="$(total BAD "$key")"
done

echo
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg) (anything else running on the machine skews every figure)"
printf '%-44s %10s %9s %10s %8s\n' peer 'req/s' 'p99 ms' requests non-2xx
row() { printf '%-44s %10.0f %9.2f %10s %8s\n' "$2" "${RPS[$1]}" "${P99[$1]}" "${REQS[$1]}" "${BAD[$1]:-0}"; }
row native_reveal "native GET .../secrets/KEY_7 (audited)"
row vault_read "Vault GET .../data/.../KEY_7 (audited)"
row native_list "native GET .../secrets (20 keys)"
row vault_list_get "Vault GET .../metadata/...?list=true"
row native_list_lua "native GET .../secrets, list.lua"
row vault_list "Vault LIST .../metadata/.../, list.lua"

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
verdict() { awk -v r="$1" -v t="$2" 'BEGIN { print ((r >= t) ? "met" : "MISSED") }'; }
read_ratio="$(ratio "${RPS[vault_read]}" "${RPS[native_reveal]}")"
list_ratio="$(ratio "${RPS[vault_list]}" "${RPS[native_list_lua]}")"
list_get_ratio="$(ratio "${RPS[vault_list_get]}" "${RPS[native_list]}")"
echo
printf '%-36s %-8s %-8s %s\n' ratio value target ""
printf '%-36s %-8s %-8s %s\n' "Vault read / native reveal" "$read_ratio" ">= 0.9" "$(verdict "$read_ratio" 0.9)"
printf '%-36s %-8s %-8s %s\n' "Vault LIST / native list" "$list_ratio" ">= 0.9" "$(verdict "$list_ratio" 0.9)"
printf '%-36s %-8s %-8s %s\n' "Vault ?list=true / native list" "$list_get_ratio" ">= 0.9" "$(verdict "$list_get_ratio" 0.9)"
answered=$(($(total REQS native_reveal) + $(total REQS vault_read)))
echo
echo "secret.revealed events written during the runs: $((audit_after - audit_before)) for $answered reveals" \
	"timed by wrk (plus the warm-ups, and the answers in flight when wrk stops)"
for key in "${peers[@]}"; do
	[ "${BAD[$key]:-0}" = 0 ] ||
		echo "WARNING: $key had non-2xx answers; its figures do not measure the success path"
done
