#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# bench/scale: the same figures on one throwaway cluster at about 1,000
# secrets and again after it has grown to BENCH_SECRETS (10 million by
# default), printed side by side with their targets.  README.md beside this
# file explains the workload and holds the measured figures.
#
#   bench/scale/run.sh                          (as root; about 15 min at 10M here)
#   BENCH_SECRETS=100000 bench/scale/run.sh     (a quick run)
#   nice -n 10 bench/scale/run.sh               (on a shared machine)
#
# Settings (environment, bounded): BENCH_SECRETS (10000000) secrets of the
# large phase, 100 per tenant; BENCH_SECONDS (10) per measurement;
# BENCH_ROUNDS (3) runs of each targeted throughput, medians reported;
# BENCH_SHARED_BUFFERS (1GB); BENCH_HOLD (unset) seconds to keep the
# cluster at the end.  Targets are printed next to the figures; a
# missed target is reported, never an exit status (timings depend on the
# machine).  Everything started here is stopped on exit.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
for lib in common stage cluster; do
	# shellcheck source=/dev/null
	. "$here/../../scripts/lib/$lib.sh"
done

bounded()
{
	local v="${!1:-$2}"
	if ! [[ "$v" =~ ^[0-9]+$ ]] || [ "$v" -lt "$3" ] || [ "$v" -gt "$4" ]; then
		ps_die "$1 must be an integer in [$3, $4]"
	fi
	printf -v "$1" '%s' "$v"
}
bounded BENCH_SECRETS 10000000 10000 20000000
bounded BENCH_SECONDS 10 2 120
bounded BENCH_ROUNDS 3 1 9
shared_buffers="${BENCH_SHARED_BUFFERS:-1GB}"
[[ "$shared_buffers" =~ ^[0-9]+[kMG]B$ ]] || ps_die "BENCH_SHARED_BUFFERS must look like 1GB"

ps_require_root
for cmd in wrk node npm curl gcc; do
	command -v "$cmd" >/dev/null || ps_die "$cmd not found (scripts/install-deps)"
done

ps_log "building and staging provsecret (.build/root)"
ps_build
ps_stage
ps_stage_make_readable
[ -d "$PS_ROOT/test/node/node_modules" ] ||
	(cd "$PS_ROOT/test/node" && npm ci --no-audit --no-fund </dev/null >/dev/null 2>&1) ||
	ps_die "npm ci failed in test/node"

pg_port="$(ps_free_port 55480 55489)"
rest_port="$(ps_free_port 18780 18789)"
tmp=""
ps_postgres_tmpdir tmp bench-scale
chmod 755 "$tmp"
export PS_TMP="$tmp" PS_JWT_ISSUER=bench PS_JWT_AUDIENCE=provsecret
node "$PS_ROOT/test/node/lib/keys.mjs" "$tmp"
chmod 644 "$tmp/jwks.json"

# The generator: provsecret's seal.c linked into a COPY writer.
gcc -O2 -Wall -Wextra -Werror -Wno-unused-parameter -I"$PS_ROOT/src" \
	-I"$("$PS_PG_CONFIG" --includedir-server)" -o "$tmp/gen" \
	"$here/gen.c" "$PS_ROOT/src/crypto/seal.c" -lsodium ||
	ps_die "the generator did not build"

# --- the cluster ----------------------------------------------------------------
export CLOUDGRID_PROVIDER_SECRET_ENCRYPTION_KEY="$PS_TEST_ROOT_KEY"
ps_cluster_init "$tmp" "$pg_port" "$PS_STAGE_PGBIN" trust
ps_cluster_conf \
	"shared_preload_libraries = 'provsecret'" \
	"fsync = on" \
	"synchronous_commit = on" \
	"shared_buffers = $shared_buffers" \
	"max_connections = 64" \
	"maintenance_work_mem = 512MB" \
	"max_wal_size = 8GB" \
	"checkpoint_timeout = 30min" \
	"autovacuum = off" \
	"provsecret.rest_port = $rest_port" \
	"provsecret.rest_workers = 1" \
	"provsecret.jwt_issuer = 'bench'" \
	"provsecret.jwt_audience = 'provsecret'" \
	"provsecret.jwt_jwks_file = '$tmp/jwks.json'"
ps_cluster_start
psql_q() { ps_psql -q -At "$@"; }
psql_q -c "CREATE EXTENSION provsecret" \
	-c "CREATE ROLE bench_app LOGIN" -c "CREATE ROLE bench_many LOGIN" >/dev/null
# 0.5.0 gives a company-less project a company of its own
hidden="$(psql_q -c "SELECT attnotnull::int FROM pg_attribute
	WHERE attrelid = 'provsecret.project'::regclass AND attname = 'company'")"

next_key=1
# load PREFIX FIRST COUNT PER_TENANT: generated tenants, COPY'd as superuser
load()
{
	local out="$tmp/gen-$1-$2" log
	mkdir -p "$out"
	chmod 755 "$out"
	"$tmp/gen" "$1" "$2" "$3" "$4" "$next_key" "$hidden" "$out" 2>"$out/next" |
		psql_q -c "COPY provsecret.ai_provider_secret (scope, company, project, name,
			description, ciphertext, data_key_id, value_version, created_by, updated_by)
			FROM STDIN" >/dev/null
	next_key="$(cat "$out/next")"
	psql_q >/dev/null <<SQL
COPY provsecret.company (company, created_by) FROM '$out/company.copy';
COPY provsecret.project (project, company, created_by) FROM '$out/project.copy';
COPY provsecret.data_key (id, tenant, company, project, wrapped_key, root_key_fingerprint)
  FROM '$out/data_key.copy';
COPY provsecret.access_grant ($([ "$hidden" = 1 ] && echo "company, ")principal, scope, target, permission, granted_by)
  FROM '$out/access_grant.copy';
SELECT pg_catalog.setval('provsecret.data_key_id_seq', $next_key);
SQL
	rm -rf "$out"
}

# The working set: 8 projects (the same mix of company and company-less
# ones), 100 keys each; at the large size spread over the whole range.
tenants_small=8
per_small=125
tenants_large=$((BENCH_SECRETS / 100 / 4 * 4))
ws_project() # PHASE J
{
	if [ "$1" = small ]; then echo "p$2"; else
		echo "p$((4 * (tenants_large * (2 * $2 + 1) / 64 / 4) + $2 % 4))"
	fi
}
grant_phase() # PHASE: read for bench_app and user:bench, write for bench_app
{
	local j p
	for j in 0 1 2 3 4 5 6 7; do
		p="$(ws_project "$1" "$j")"
		echo "SELECT provsecret.grant('db:bench_app', 'project/$p', ARRAY['read','write']);"
		echo "SELECT provsecret.grant('user:bench', 'project/$p', ARRAY['read']);"
	done | psql_q >/dev/null
}

rest="http://127.0.0.1:$rest_port"
for _ in $(seq 1 100); do curl -sf -o /dev/null "$rest/healthz" && break; sleep 0.1; done
# a token lives minutes: mint one per phase (measure)
mint() { token="$(node "$here/../rest/mint.mjs" "$tmp" bench)"; }

# pgbench ROLE CLIENTS SCRIPT [options]: prints tps
bench()
{
	local role="$1" clients="$2" script="$3"
	shift 3
	ps_as_postgres "$PS_STAGE_PGBIN/pgbench" -n -M prepared -h "$tmp" -p "$pg_port" \
		-U "$role" -c "$clients" -j "$(( clients < 2 ? 1 : 2 ))" -T "$BENCH_SECONDS" \
		-f "$script" "$@" postgres >"$tmp/pgbench.out" 2>"$tmp/pgbench.err" ||
		{ cat "$tmp/pgbench.err" >&2; ps_die "pgbench failed"; }
	awk '/^tps/ { printf "%.0f\n", $3 }' "$tmp/pgbench.out"
}
# p99 in ms of a pgbench run with -l (per-transaction log, microseconds in field 3)
bench_p99() # ROLE SCRIPT [options]
{
	local role="$1" script="$2"
	shift 2
	rm -f "$tmp"/lat.*
	(cd "$tmp" && ps_as_postgres "$PS_STAGE_PGBIN/pgbench" -n -M prepared -h "$tmp" -p "$pg_port" \
		-U "$role" -c 1 -T "$BENCH_SECONDS" -l --log-prefix="$tmp/lat" -f "$script" "$@" postgres \
		>/dev/null 2>"$tmp/pgbench.err") || { cat "$tmp/pgbench.err" >&2; ps_die "pgbench failed"; }
	cat "$tmp"/lat.* | awk '{ print $3 }' | sort -n |
		awk '{ v[NR] = $1 } END { i = int(NR * 0.99); if (i < 1) i = 1; printf "%.2f\n", v[i] / 1000 }'
}

cat >"$tmp/resolve.pgbench" <<'EOF'
\set j random(0, 7)
\set n random(0, 99)
\if :phase = 0
\set k :j
\else
\set k 4 * (:tenants * (2 * :j + 1) / 64 / 4) + :j % 4
\endif
SELECT provsecret.resolve('managed:' || 'project/p' || :k || '/KEY_' || :n);
EOF
cat >"$tmp/uniform.pgbench" <<'EOF'
\set k random(0, :tenants - 1)
\set n random(0, :per - 1)
SELECT provsecret.resolve('managed:' || 'project/p' || :k || '/KEY_' || :n);
EOF
cat >"$tmp/seal.pgbench" <<'EOF'
\set j random(0, 7)
\set r random(1, 1000000000)
\if :phase = 0
\set k :j
\else
\set k 4 * (:tenants * (2 * :j + 1) / 64 / 4) + :j % 4
\endif
SELECT provsecret.seal('managed:' || 'project/p' || :k || '/SEALED_' || :r, 'sk-bench-sealed-' || :r);
EOF
cat >"$tmp/grant.pgbench" <<'EOF'
\set k random(0, 999)
SELECT provsecret.has_permission(NULL, 'g' || :k, 'read');
EOF
cat >"$tmp/list.pgbench" <<'EOF'
SELECT count(*), max(name) FROM (SELECT name, reference, description, value_version, updated_at
  FROM provsecret.secrets WHERE scope = 'project' AND project = :ws ORDER BY name COLLATE "C") s;
EOF
chmod 644 "$tmp"/*.pgbench

# The principal with 1,000 grants (on 1,000 projects); bench_app has 8.
psql_q >/dev/null <<'SQL'
SELECT count(provsecret.grant('db:bench_many', 'project/g' || k, ARRAY['read']))
  FROM generate_series(0, 999) k;
SQL

declare -A R
# rounds COMMAND...: the median of BENCH_ROUNDS outputs of COMMAND
rounds()
{
	local r
	for r in $(seq 1 "$BENCH_ROUNDS"); do "$@"; done |
		sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}
# REST reveal req/s over the working set (reveal.lua)
reveal_rps()
{
	wrk -t2 -c16 -d"${BENCH_SECONDS}s" -H "Authorization: Bearer $token" \
		-s "$tmp/reveal.lua" "$rest" >"$tmp/wrk.out"
	grep -q 'Non-2xx' "$tmp/wrk.out" && { cat "$tmp/wrk.out" >&2; ps_die "REST reveal answered non-2xx"; }
	awk '/^Requests\/sec/ { printf "%.0f\n", $2 }' "$tmp/wrk.out"
}

# measure PHASE (small|large) TENANTS PER
measure()
{
	local phase="$1" tenants="$2" per="$3" p n
	local vars=(-D phase="$([ "$phase" = small ] && echo 0 || echo 1)" -D tenants="$tenants" -D per="$per")
	psql_q -c "VACUUM ANALYZE" -c "CHECKPOINT" >/dev/null
	R[secrets.$phase]="$(psql_q -c "SELECT count(*) FROM provsecret.ai_provider_secret")"
	R[tenants.$phase]="$(psql_q -c "SELECT count(*) FROM provsecret.project")"
	ps_log "$phase: ${R[secrets.$phase]} secrets, ${R[tenants.$phase]} projects; measuring"
	# one unmeasured pass warms the caches the measured ones then use
	bench bench_app 2 "$tmp/resolve.pgbench" "${vars[@]}" -T 2 >/dev/null
	# the targeted figures: medians of BENCH_ROUNDS runs (a burst of load
	# from elsewhere on a shared machine hits one run, not all)
	R[resolve2.$phase]="$(rounds bench bench_app 2 "$tmp/resolve.pgbench" "${vars[@]}")"
	R[resolve16.$phase]="$(rounds bench bench_app 16 "$tmp/resolve.pgbench" "${vars[@]}")"
	R[uniform2.$phase]="$(bench postgres 2 "$tmp/uniform.pgbench" "${vars[@]}")"
	R[grant1000.$phase]="$(bench bench_many 2 "$tmp/grant.pgbench")"
	R[grant1000c.$phase]="$(bench bench_many 2 "$tmp/grant.pgbench" -C)"
	R[grant8c.$phase]="$(bench bench_app 2 "$tmp/grant.pgbench" -C)"

	# REST reveal: the same working set, through the REST worker
	mint
	{
		echo 'local paths = {'
		for j in 0 1 2 3 4 5 6 7; do
			p="$(ws_project "$phase" "$j")"
			for n in $(seq 0 99); do echo "\"/v1/workspaces/$p/secrets/KEY_$n\","; done
		done
		echo '}'
		echo 'request = function() return wrk.format("GET", paths[math.random(#paths)]) end'
	} >"$tmp/reveal.lua"
	curl -sf -o /dev/null -H "Authorization: Bearer $token" \
		"$rest/v1/workspaces/$(ws_project "$phase" 0)/secrets/KEY_1" || ps_die "REST reveal failed"
	wrk -t2 -c16 -d2s -H "Authorization: Bearer $token" -s "$tmp/reveal.lua" "$rest" >/dev/null
	R[rest.$phase]="$(rounds reveal_rps)"

	# the REST worker after the reveals (before a listing's answer is kept)
	local pid
	pid="$(psql_q -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'provsecret rest' LIMIT 1")"
	R[restmem.$phase]="$(awk '/^RssAnon/ { print $2 }' "/proc/$pid/status")"

	# listing: the 10,000-key workspace at the large size, p0 (125 keys) at the small
	local ws=p0
	[ "$phase" = large ] && ws=big0
	R[listws.$phase]="$ws ($(psql_q -c "SELECT count(*) FROM provsecret.ai_provider_secret WHERE project = '$ws'") keys)"
	R[listsql.$phase]="$(bench_p99 bench_app "$tmp/list.pgbench" -D ws="$ws")"
	wrk -t1 -c1 -d"${BENCH_SECONDS}s" --latency -H "Authorization: Bearer $token" \
		"$rest/v1/workspaces/$ws/secrets" >"$tmp/wrk.out"
	grep -q 'Non-2xx' "$tmp/wrk.out" && { cat "$tmp/wrk.out" >&2; ps_die "REST listing answered non-2xx"; }
	R[listrest.$phase]="$(awk '$1 == "99%" { v = $2; n = v + 0; u = v; sub(/^[0-9.]+/, "", u);
		printf "%.2f\n", n * (u == "us" ? 0.001 : u == "ms" ? 1 : 1000) }' "$tmp/wrk.out")"

	# seal() last: it adds secrets to the working set's projects
	R[seal.$phase]="$(bench bench_app 2 "$tmp/seal.pgbench" "${vars[@]}")"

	# sizes
	R[size.$phase]="$(psql_q -c "SELECT pg_total_relation_size('provsecret.ai_provider_secret')
		/ count(*) FROM provsecret.ai_provider_secret")"
	R[dbsize.$phase]="$(psql_q -c "SELECT pg_database_size(current_database()) / 1048576")"
	# memory: provsecret's shared memory, the REST worker, and a backend
	# that has resolved one secret in each of up to 20,000 projects
	R[shmem.$phase]="$(psql_q -c "SELECT coalesce(sum(allocated_size), 0) FROM pg_shmem_allocations
		WHERE name ILIKE '%provsecret%'")"
	R[shmemall.$phase]="$(psql_q -c "SELECT (sum(allocated_size) / 1024)::bigint FROM pg_shmem_allocations")"
	local spread=$((tenants < 20000 ? tenants : 20000))
	R[spread.$phase]="$spread"
	R[backendmem.$phase]="$(psql_q -c "SELECT count(provsecret.resolve('managed:project/p' || (k * ($tenants / $spread)) || '/KEY_0'))
		FROM generate_series(0, $spread - 1) k" -c "SELECT (sum(total_bytes) / 1024)::bigint FROM pg_backend_memory_contexts" | tail -1)"
}

# --- small: about 1,000 secrets ---------------------------------------------------
load_start=$SECONDS
ps_log "small: generating $tenants_small projects of $per_small secrets"
load p 0 "$tenants_small" "$per_small"
grant_phase small
measure small "$tenants_small" "$per_small"

# --- large: the same cluster grown to BENCH_SECRETS ---------------------------------
ps_log "large: generating $((tenants_large - tenants_small)) projects of 100 secrets and a 10,000-key workspace"
load_start=$SECONDS
chunk=20000
for ((first = tenants_small; first < tenants_large; first += chunk)); do
	count=$((tenants_large - first < chunk ? tenants_large - first : chunk))
	load p "$first" "$count" 100
	ps_log "  $((first + count)) projects ($((SECONDS - load_start)) s)"
done
load big 0 1 10000
psql_q -c "SELECT provsecret.grant('db:bench_app', 'project/big0', ARRAY['describe'])" \
	-c "SELECT provsecret.grant('user:bench', 'project/big0', ARRAY['describe'])" >/dev/null
grant_phase large
load_seconds=$((SECONDS - load_start))
measure large "$tenants_large" 100

# --- report ------------------------------------------------------------------------
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
verdict() { awk -v c="$1" 'BEGIN { print ((c + 0) ? "met" : "MISSED") }'; }
echo
echo "bench/scale: $(nproc) CPUs ($(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)),"\
	"$(awk '/MemTotal/ { printf "%.0f GB", $2 / 1048576 }' /proc/meminfo) RAM; shared_buffers $shared_buffers;" \
	"fsync and synchronous_commit on; ${BENCH_SECONDS} s per figure (medians of $BENCH_ROUNDS for resolve and reveal); load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "large phase loaded in ${load_seconds} s (generator + COPY)"
printf '%-44s %16s %16s %8s %-12s %s\n' figure small large ratio target ""
row() # LABEL KEY TARGET-RATIO(or -)
{
	local r="-" v=""
	if [ "$3" != - ]; then
		r="$(ratio "${R[$2.large]}" "${R[$2.small]}")"
		v="$(verdict "$(awk -v r="$r" -v t="$3" 'BEGIN { print (r >= t) }')")"
	fi
	printf '%-44s %16s %16s %8s %-12s %s\n' "$1" "${R[$2.small]}" "${R[$2.large]}" "$r" \
		"$([ "$3" != - ] && echo ">= $3x" || echo -)" "$v"
}
row "secrets" secrets -
row "projects" tenants -
row "SQL resolve tps, 2 clients (working set)" resolve2 0.9
row "SQL resolve tps, 16 clients (working set)" resolve16 0.9
row "REST reveal req/s, 16 connections" rest 0.9
row "SQL resolve tps, 2 clients, uniform" uniform2 -
row "seal() tps, 2 clients" seal -
row "grant check tps, 1,000 grants, warm" grant1000 -
row "grant check tps, 1,000 grants, new conn." grant1000c -
row "grant check tps, 8 grants, new conn." grant8c -
row "listed workspace" listws -
row "listing p99 ms, SQL" listsql -
row "listing p99 ms, REST" listrest -
row "bytes per secret (table + indexes + TOAST)" size -
row "database MB" dbsize -
row "provsecret shared memory, bytes" shmem 1
row "all shared memory, kB" shmemall -
row "REST worker RssAnon kB" restmem -
row "backend: projects resolved across" spread -
row "backend memory after that, kB" backendmem -
list_p99="${R[listrest.large]}"
sql_p99="${R[listsql.large]}"
printf '%-44s %16s %16s %8s %-12s %s\n' "listing 10,000 keys p99 (SQL / REST)" - "$sql_p99 / $list_p99" - "< 50 ms" \
	"$(verdict "$(awk -v a="$sql_p99" -v b="$list_p99" 'BEGIN { print (a < 50 && b < 50) }')")"
printf '%-44s %16s %16s %8s %-12s %s\n' "REST worker memory growth kB" - \
	"$((R[restmem.large] - R[restmem.small]))" - "< 5120" \
	"$(verdict "$(( R[restmem.large] - R[restmem.small] < 5120 ))")"
printf '%-44s %16s %16s %8s %-12s %s\n' "backend memory growth kB" - \
	"$((R[backendmem.large] - R[backendmem.small]))" - "< 5120" \
	"$(verdict "$(( R[backendmem.large] - R[backendmem.small] < 5120 ))")"

# BENCH_HOLD=N: keep the cluster N more seconds to look at it (psql -h DIR -p PORT)
if [ -n "${BENCH_HOLD:-}" ]; then
	bounded BENCH_HOLD 0 0 3600
	ps_log "holding the cluster for $BENCH_HOLD s: psql -h $tmp -p $pg_port -U postgres"
	sleep "$BENCH_HOLD"
fi
