#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# One run of the REST benchmark of issue 5, peers side by side, ratios
# printed: nginx `return 200` (the ceiling of an HTTP server on this
# machine), provsecret's REST worker (healthz, list, reveal with its audit
# event, PUT) and a twin of the reveal endpoint written without provsecret
# (twin/: express + pg + libsodium-wrappers + jose), all against one
# throwaway cluster of the staged build, loopback only, fsync and
# synchronous_commit on.  Everything started here is stopped on exit.
#
#   bench/rest/run.sh                      (as root: PostgreSQL runs as postgres)
#   WRK_SECONDS=10 WRK_CONNECTIONS=64 WRK_THREADS=2 REST_WORKERS=2 bench/rest/run.sh
#   WRK_ROUNDS=3 bench/rest/run.sh         (medians of three interleaved rounds)
#
# Settings (environment, bounded): WRK_SECONDS (5) measured per peer and
# round, WRK_WARMUP (1, 0 = none) unmeasured seconds before each,
# WRK_THREADS (2), WRK_CONNECTIONS (32), WRK_ROUNDS (1, at most 5),
# REST_WORKERS (1), NGINX_WORKERS and TWIN_PROCS (default REST_WORKERS: the
# same number of server processes), TWIN_POOL_SIZE (10, pg's default).  Targets are printed next to the figures; a missed target
# is reported, never an exit status (timings depend on the machine).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
for lib in common stage cluster; do
	# shellcheck source=/dev/null
	. "$here/../../scripts/lib/$lib.sh"
done

# bounded VAR DEFAULT MIN MAX: an integer setting from the environment
bounded()
{
	local v="${!1:-$2}"
	if ! [[ "$v" =~ ^[0-9]+$ ]] || [ "$v" -lt "$3" ] || [ "$v" -gt "$4" ]; then
		ps_die "$1 must be an integer in [$3, $4]"
	fi
	printf -v "$1" '%s' "$v"
}
bounded WRK_SECONDS 5 1 60
bounded WRK_WARMUP 1 0 10
bounded WRK_THREADS 2 1 16
bounded WRK_CONNECTIONS 32 1 1000
bounded REST_WORKERS 1 1 8
bounded NGINX_WORKERS "$REST_WORKERS" 1 8
bounded TWIN_PROCS "$REST_WORKERS" 1 8
bounded TWIN_POOL_SIZE 10 1 100
bounded WRK_ROUNDS 1 1 5
[ "$WRK_CONNECTIONS" -ge "$WRK_THREADS" ] || ps_die "WRK_CONNECTIONS < WRK_THREADS"

ps_require_root
for cmd in wrk nginx node npm curl; do
	command -v "$cmd" >/dev/null || ps_die "$cmd not found"
done

ps_log "building and staging provsecret (.build/root)"
ps_build
ps_stage
ps_stage_make_readable
for dir in "$PS_ROOT/test/node" "$here/twin"; do
	[ -d "$dir/node_modules" ] ||
		(cd "$dir" && npm ci --no-audit --no-fund </dev/null >/dev/null 2>&1) ||
		ps_die "npm ci failed in $dir"
done

# Ports: PostgreSQL 55490-55499, HTTP 18790-18799, three distinct ones.
pg_port="$(ps_free_port 55490 55499)"
rest_port="$(ps_free_port 18790 18799)"
twin_port="$(ps_free_port $((rest_port + 1)) 18799)"
nginx_port="$(ps_free_port $((twin_port + 1)) 18799)"

tmp=""
ps_postgres_tmpdir tmp bench-rest
export PS_TMP="$tmp" PS_JWT_ISSUER=bench PS_JWT_AUDIENCE=provsecret
node "$PS_ROOT/test/node/lib/keys.mjs" "$tmp"
chmod 644 "$tmp/jwks.json"

# --- PostgreSQL with provsecret's REST worker --------------------------------
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
	-c "SELECT provsecret.grant('user:bench', 'project/bench-ws', ARRAY['read','write','delete'])" \
	-c "SELECT provsecret.grant('user:bench', 'project/bench-put', ARRAY['read','write','delete'])" >/dev/null
for i in $(seq 1 20); do
	printf "SELECT provsecret.seal('managed:project/bench-ws/KEY_%d', 'sk-bench-value-%d', 'key %d');\n" "$i" "$i" "$i"
done | ps_psql -q >/dev/null

# --- the twin, on the same cluster (its own schema, its own key) -------------
twin_env=(TWIN_PGHOST="$tmp" TWIN_PGPORT="$pg_port"
	TWIN_KEY="$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')")
env "${twin_env[@]}" node "$here/twin/setup.mjs" bench 20
env "${twin_env[@]}" TWIN_PORT="$twin_port" TWIN_JWKS_FILE="$tmp/jwks.json" \
	TWIN_ISSUER=bench TWIN_AUDIENCE=provsecret TWIN_POOL_SIZE="$TWIN_POOL_SIZE" TWIN_PROCS="$TWIN_PROCS" \
	node "$here/twin/server.mjs" >"$tmp/twin.log" 2>&1 &
twin_pid=$!
ps_on_exit "kill $twin_pid 2>/dev/null; wait $twin_pid 2>/dev/null"
unset twin_env

# --- nginx, unprivileged, everything in its own directory --------------------
ngx="$(mktemp -d "${TMPDIR:-/tmp}/provsecret-nginx.XXXXXX")"
ps_on_exit "rm -rf '$ngx'"
chown nobody:nogroup "$ngx"
cat >"$ngx/nginx.conf" <<CONF
worker_processes $NGINX_WORKERS;
pid $ngx/nginx.pid;
error_log $ngx/error.log warn;
events { worker_connections 1024; }
http {
	access_log off;
	keepalive_requests 1000000;
	client_body_temp_path $ngx/body;
	proxy_temp_path $ngx/proxy;
	fastcgi_temp_path $ngx/fastcgi;
	uwsgi_temp_path $ngx/uwsgi;
	scgi_temp_path $ngx/scgi;
	server {
		listen 127.0.0.1:$nginx_port;
		default_type text/plain;
		location / { return 200 "ok\n"; }
	}
}
CONF
nginx_stop()
{
	[ -s "$ngx/nginx.pid" ] && kill -QUIT "$(cat "$ngx/nginx.pid")" 2>/dev/null
	for _ in $(seq 1 50); do [ -e "$ngx/nginx.pid" ] || return 0; sleep 0.1; done
}
ps_on_exit nginx_stop
(cd / && runuser -u nobody -- nginx -p "$ngx" -c "$ngx/nginx.conf" -e "$ngx/error.log") ||
	ps_die "nginx did not start: $(cat "$ngx/error.log" 2>/dev/null)"

# --- every peer answers correctly before anything is timed -------------------
rest="http://127.0.0.1:$rest_port"
twin="http://127.0.0.1:$twin_port"
nginx="http://127.0.0.1:$nginx_port"
mint() { node "$here/mint.mjs" "$tmp" bench; }
wait_up()
{
	for _ in $(seq 1 100); do curl -sf -o /dev/null "$1" && return 0; sleep 0.1; done
	ps_die "$1 does not answer"
}
wait_up "$rest/healthz"
wait_up "$twin/healthz"
wait_up "$nginx/"
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
auth=(-H "Authorization: Bearer $token")
expect "nginx" 200 ok "$nginx/"
expect "provsecret list" 200 '"KEY_7"' "${auth[@]}" "$rest/v1/workspaces/bench-ws/secrets"
expect "provsecret reveal" 200 '"sk-bench-value-7"' "${auth[@]}" "$rest/v1/workspaces/bench-ws/secrets/KEY_7"
expect "provsecret reveal without token" 401 '' "$rest/v1/workspaces/bench-ws/secrets/KEY_7"
expect "provsecret PUT" 200 '"KEY_1"' -X PUT "${auth[@]}" -H 'Content-Type: application/json' \
	-d '{"value":"sk-bench-value-1","description":"key 1"}' "$rest/v1/workspaces/bench-ws/secrets/KEY_1"
expect "provsecret list after PUT" 200 '"key 1"' "${auth[@]}" "$rest/v1/workspaces/bench-ws/secrets"
expect "twin reveal" 200 '"sk-bench-value-7"' "${auth[@]}" "$twin/v1/workspaces/bench-ws/secrets/KEY_7"
stranger=(-H "Authorization: Bearer $(node "$here/mint.mjs" "$tmp" stranger)")
expect "provsecret reveal without a grant" 403 '' "${stranger[@]}" "$rest/v1/workspaces/bench-ws/secrets/KEY_7"
expect "twin reveal without a grant" 403 '' "${stranger[@]}" "$twin/v1/workspaces/bench-ws/secrets/KEY_7"
expect "twin reveal without token" 401 '' "$twin/v1/workspaces/bench-ws/secrets/KEY_7"
expect "twin reveal, bad signature" 401 '' -H "Authorization: Bearer ${token:0:${#token}-12}AAAAAAAAAAAA" \
	"$twin/v1/workspaces/bench-ws/secrets/KEY_7"

# --- measurements -------------------------------------------------------------
worker_mem() # kB of RssAnon and VmRSS summed over the REST workers
{
	local anon=0 rss=0 pid
	for pid in $(ps_psql -At -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'provsecret rest'"); do
		anon=$((anon + $(awk '/^RssAnon/ {print $2}' "/proc/$pid/status")))
		rss=$((rss + $(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")))
	done
	echo "$anon $rss"
}

# ms VALUE-WITH-UNIT: wrk's "850.00us", "3.21ms", "1.02s" in milliseconds
to_ms()
{
	awk -v v="$1" 'BEGIN {
		n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
		f = (u == "us") ? 0.001 : (u == "ms") ? 1 : (u == "s") ? 1000 : (u == "m") ? 60000 : -1
		if (f < 0) print "nan"; else printf "%.3f\n", n * f }'
}

# Raw figures per round: KEY.ROUND -> value; the report takes the median of
# the rounds (peers are interleaved, so a burst of load from elsewhere on a
# shared machine hits one round of every peer, not every round of one peer).
declare -A RPS P50 P99 REQS BAD ERRS WARM
run() # KEY ROUND URL [wrk options...] [-- script arguments...]
{
	local name="$1" round="$2" key="$1.$2" url="$3" out
	shift 3
	local args=(-t"$WRK_THREADS" -c"$WRK_CONNECTIONS" -H "Authorization: Bearer $(mint)") tail=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do args+=("$1"); shift; done
	tail=("$@") # "-- script arguments" go after the URL
	if [ "$WRK_WARMUP" -gt 0 ]; then
		out="$(wrk "${args[@]}" -d"${WRK_WARMUP}s" "$url" "${tail[@]}")"
		# shellcheck disable=SC2034 # read through a nameref (total)
		WARM[$key]="$(awk '/requests in/ {print $1}' <<<"$out")"
	fi
	out="$(wrk "${args[@]}" -d"${WRK_SECONDS}s" --latency "$url" "${tail[@]}")"
	RPS[$key]="$(awk '/^Requests\/sec/ {print $2}' <<<"$out")"
	P50[$key]="$(to_ms "$(awk '$1 == "50%" {print $2}' <<<"$out")")"
	P99[$key]="$(to_ms "$(awk '$1 == "99%" {print $2}' <<<"$out")")"
	REQS[$key]="$(awk '/requests in/ {print $1}' <<<"$out")"
	BAD[$key]="$(awk '/Non-2xx/ {print $NF}' <<<"$out")"
	ERRS[$key]="$(awk '/Socket errors/ { for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+,?$/) n += $i; print n + 0 }' <<<"$out")"
	ps_log "  round $round $name: ${RPS[$key]} req/s"
}

audit_counts()
{
	ps_psql -At -F ' ' -c "SELECT (SELECT count(*) FROM provsecret.audit_log WHERE action = 'secret.revealed'),
		(SELECT count(*) FROM twin.audit_event WHERE action = 'secret.revealed')"
}
read -r ps_audit_before twin_audit_before <<<"$(audit_counts)"
mem_before="$(worker_mem)"
load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
echo "wrk -t$WRK_THREADS -c$WRK_CONNECTIONS, ${WRK_SECONDS} s per peer after ${WRK_WARMUP} s of warm-up," \
	"$WRK_ROUNDS round(s), medians; rest_workers=$REST_WORKERS, nginx workers=$NGINX_WORKERS," \
	"twin: $TWIN_PROCS node process(es) with a pool of $TWIN_POOL_SIZE each; $(nproc) CPUs shared by wrk and the servers;" \
	"load average before: $load_before"
ps_log "running (about $(((WRK_SECONDS + WRK_WARMUP + 1) * 6 * WRK_ROUNDS)) s)"
for round in $(seq 1 "$WRK_ROUNDS"); do
	run nginx "$round" "$nginx/"
	run healthz "$round" "$rest/healthz"
	run list "$round" "$rest/v1/workspaces/bench-ws/secrets"
	run reveal "$round" "$rest/v1/workspaces/bench-ws/secrets/KEY_7"
	run twin "$round" "$twin/v1/workspaces/bench-ws/secrets/KEY_7"
	run put "$round" "$rest" -s "$here/put.lua" -- bench-put
done
mem_after="$(worker_mem)"
load_after="$(cut -d' ' -f1-3 /proc/loadavg)"

# median ARRAY KEY: the median over the rounds (the lower one of an even count)
median()
{
	local -n arr="$1"
	local r
	for r in $(seq 1 "$WRK_ROUNDS"); do printf '%s\n' "${arr[$2.$r]:-0}"; done |
		sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}
total() # ARRAY KEY: the sum over the rounds
{
	local -n arr="$1"
	local r
	for r in $(seq 1 "$WRK_ROUNDS"); do printf '%s\n' "${arr[$2.$r]:-0}"; done |
		awk '{ t += $1 } END { print t + 0 }'
}
declare -A answered
for key in nginx healthz list reveal twin put; do
	RPS[$key]="$(median RPS "$key")"
	P50[$key]="$(median P50 "$key")"
	P99[$key]="$(median P99 "$key")"
	REQS[$key]="$(total REQS "$key")"
	BAD[$key]="$(total BAD "$key")"
	ERRS[$key]="$(total ERRS "$key")"
	answered[$key]=$((REQS[$key] + $(total WARM "$key")))
done

# --- report ---------------------------------------------------------------------
echo
echo "load average after: $load_after (anything else running on the machine skews every figure)"
[ "$WRK_ROUNDS" -gt 1 ] && echo "req/s, p50, p99: medians of $WRK_ROUNDS rounds; requests, non-2xx, errors: totals"
printf '%-30s %10s %9s %9s %10s %8s %7s\n' peer 'req/s' 'p50 ms' 'p99 ms' requests non-2xx errors
row()
{
	printf '%-30s %10.0f %9.2f %9.2f %10s %8s %7s\n' "$2" "${RPS[$1]}" "${P50[$1]}" "${P99[$1]}" \
		"${REQS[$1]}" "${BAD[$1]:-0}" "${ERRS[$1]:-0}"
}
row nginx "nginx return 200 (ceiling)"
row healthz "provsecret GET /healthz"
row list "provsecret GET list"
row reveal "provsecret GET reveal (audited)"
row twin "twin GET reveal (audited)"
row put "provsecret PUT"

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
verdict() { awk -v c="$1" 'BEGIN { print ((c + 0) ? "met" : "MISSED") }'; }
list_nginx="$(ratio "${RPS[list]}" "${RPS[nginx]}")"
reveal_twin="$(ratio "${RPS[reveal]}" "${RPS[twin]}")"
p99_twin="$(ratio "${P99[reveal]}" "${P99[twin]}")"
read -r anon_before rss_before <<<"$mem_before"
read -r anon_after rss_after <<<"$mem_after"
growth_mb="$(awk -v a="$anon_before" -v b="$anon_after" 'BEGIN { printf "%.1f", (b - a) / 1024 }')"
echo
printf '%-34s %-28s %-14s %s\n' ratio value target ""
printf '%-34s %-28s %-14s %s\n' "list / nginx" "$list_nginx" ">= 0.6" \
	"$(verdict "$(awk -v r="$list_nginx" 'BEGIN { print (r >= 0.6) }')")"
printf '%-34s %-28s %-14s %s\n' "reveal / twin (req/s)" "$reveal_twin" ">= 2" \
	"$(verdict "$(awk -v r="$reveal_twin" 'BEGIN { print (r >= 2) }')")"
printf '%-34s %-28s %-14s %s\n' "reveal p99 / twin p99" \
	"$p99_twin (${P99[reveal]} vs ${P99[twin]} ms)" "< 1" \
	"$(verdict "$(awk -v r="$p99_twin" 'BEGIN { print (r < 1) }')")"
printf '%-34s %-28s %-14s %s\n' "reveal / nginx" "$(ratio "${RPS[reveal]}" "${RPS[nginx]}")" "-" ""
printf '%-34s %-28s %-14s %s\n' "PUT / nginx" "$(ratio "${RPS[put]}" "${RPS[nginx]}")" "-" ""
printf '%-34s %-28s %-14s %s\n' "PUT / twin reveal" "$(ratio "${RPS[put]}" "${RPS[twin]}")" "-" ""
printf '%-34s %-28s %-14s %s\n' "REST worker RssAnon growth" \
	"$growth_mb MB ($anon_before -> $anon_after kB)" "< 5 MB" \
	"$(verdict "$(awk -v g="$growth_mb" 'BEGIN { print (g < 5) }')")"
printf '%-34s %-28s %-14s %s\n' "REST worker VmRSS (with shmem)" "$rss_before -> $rss_after kB" "-" ""

# Every reveal was audited on both sides: the audit rows match the answers.
echo
curl -s "$rest/metrics" | awk '/^provsecret_rest_batch/ {v[$1] = $2} END {
	if (v["provsecret_rest_batches_total"] > 0)
		printf "provsecret: %.1f requests per commit (%d batches)\n",
			v["provsecret_rest_batched_requests_total"] / v["provsecret_rest_batches_total"],
			v["provsecret_rest_batches_total"] }'
read -r ps_audit_after twin_audit_after <<<"$(audit_counts)"
echo "audit rows written during the runs (secret.revealed; wrk does not count the answers still in flight when it stops):"
echo "  provsecret $((ps_audit_after - ps_audit_before)) for ${answered[reveal]} reveals answered," \
	"twin $((twin_audit_after - twin_audit_before)) for ${answered[twin]}"
for key in nginx healthz list reveal twin put; do
	[ "${BAD[$key]}" = 0 ] && [ "${ERRS[$key]}" = 0 ] ||
		echo "WARNING: $key had non-2xx answers or socket errors; its figures do not measure the success path"
done
