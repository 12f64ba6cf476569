#!/bin/bash
# Audit at scale, peers side by side: two throwaway clusters with the same
# settings run at the same time, one with audit_event empty, the other with
# BENCH_EVENTS generated events, and are measured in alternation:
#
#   1. audited reveals (each inserts an audit event and moves its company's
#      chain head), in rounds of BENCH_SECONDS, ABBA order (empty, full,
#      full, empty, empty, full, ...), BENCH_ROUNDS rounds per side after an
#      unmeasured warm-up on each: the ratio of the medians full/empty is
#      the cost of a full table (also printed: the median of the ratios
#      full/empty within each round, whose two sides ran next to each other);
#   2. after each reveal round, incremental verification
#      (verify_audit_chain(true)) on the same cluster of the events that
#      round wrote, so it alternates the same way;
#   3. one retention run (audit_retain) on the full cluster, dropping half
#      of the old months.
#
#   nice -n 10 bench/audit/run.sh
#
# Why interleaved: a before/after on one cluster (empty first, then filled)
# cannot tell the table's size from drift over time (load from other jobs
# on the machine, caches warming), and earlier runs measured exactly that
# drift (ratios above 1).  With both clusters up and the rounds alternating,
# drift falls on both sides alike; only one cluster is measured at a time
# (the other is idle), and the medians discard an odd round.
#
# How the events are produced: the generated ones are written set-based
# (INSERT ... SELECT generate_series into standalone tables, indexed, then
# attached as partitions of the months before the current one), with the
# columns a reveal event has and hashes that are random bytes, not a valid
# chain: computing 100 million keyed hashes one by one is what the worker
# would do over months.  Their chains get a head and a verified point, as a
# running system has, so incremental verification skips them as it would
# skip verified events.  What is measured is therefore what a full table
# costs the paths that run while it is full: the worker's insert into the
# current partition, its head probes among many chains, the incremental
# walk of new events, and retention's read and drop of whole months.  A
# full verification of the generated events is not measured (their hashes
# are not a chain); its rate is the incremental one's per event.
#
# The clusters listen on Unix sockets only, in the run's temporary
# directory (no TCP, so their ports collide with nothing else), and are
# stopped and removed at exit, on failure or interrupt too.
#
# Environment:
#   BENCH_EVENTS     events generated into old partitions (1000000)
#   BENCH_MONTHS     months they are spread over, before the current (24)
#   BENCH_CHAINS     companies their chains belong to (100000)
#   BENCH_COMPANIES  companies the reveals go to, a secret each (1000)
#   BENCH_SECONDS    seconds per reveal round (20)
#   BENCH_ROUNDS     reveal rounds per side (4)
#   BENCH_CLIENTS    pgbench clients (4)
#   BENCH_RETAIN_MONTHS  oldest generated months audit_retain drops (half)
#   BENCH_PORT       port of the empty cluster; the full one's is the next
#                    (55459)
#   PG_BINDIR        binaries (staged .build install if it holds provsecret)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
events=${BENCH_EVENTS:-1000000}
months=${BENCH_MONTHS:-24}
chains=${BENCH_CHAINS:-100000}
companies=${BENCH_COMPANIES:-1000}
seconds=${BENCH_SECONDS:-20}
rounds=${BENCH_ROUNDS:-4}
clients=${BENCH_CLIENTS:-4}
base_port=${BENCH_PORT:-55459}
sides=(empty full)
declare -A port=([empty]=$base_port [full]=$((base_port + 1)))

staged="$repo/.build/root/usr/lib/postgresql/15"
if [ -z "${PG_BINDIR:-}" ]; then
	if [ -e "$staged/lib/provsecret.so" ]; then PG_BINDIR="$staged/bin"; else PG_BINDIR=$(pg_config --bindir); fi
fi

as_pg() {
	if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# --- cleanup: both clusters stopped, the temporary directory removed ------------
tmp=$(mktemp -d /tmp/provsecret-bench-audit.XXXXXX)
child=
cleanup() {
	local side
	set +e
	for side in "${sides[@]}"; do
		[ -f "$tmp/$side/postmaster.pid" ] &&
			as_pg "$PG_BINDIR/pg_ctl" -D "$tmp/$side" -m fast stop >/dev/null 2>&1
	done
	if [ -n "$child" ]; then
		kill "$child" 2>/dev/null
		wait "$child" 2>/dev/null
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
chmod 755 "$tmp"
[ "$(id -u)" = 0 ] && chown postgres: "$tmp"

# Runs a long command in the background and waits for it, so that an
# interrupt is acted on at once (cleanup stops the clusters, which ends it)
# rather than when the command ends.
run() {
	"$@" &
	child=$!
	wait "$child"
	child=
}
# psql_on SIDE [psql arguments]
psql_on() {
	local side=$1
	shift
	as_pg "$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h "$tmp" -p "${port[$side]}" -d postgres "$@"
}
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

# --- the two clusters, with the same settings -------------------------------------
# cluster_start SIDE KEY
cluster_start() {
	local data="$tmp/$1"
	as_pg "$PG_BINDIR/initdb" -D "$data" -A trust -N >/dev/null
	{
		echo "port = ${port[$1]}"
		echo "listen_addresses = ''"
		echo "unix_socket_directories = '$tmp'"
		echo "max_connections = 64"
		echo "shared_buffers = 512MB"
		echo "maintenance_work_mem = 512MB"
		echo "max_wal_size = 8GB"
		echo "autovacuum = off"
		# the generated months are loaded in the transaction that creates them
		echo "wal_level = minimal"
		echo "max_wal_senders = 0"
		echo "shared_preload_libraries = 'provsecret'"
		echo "provsecret.rest_listen_addresses = ''"
	} >>"$data/postgresql.conf"
	CLOUDGRID_PROVIDER_SECRET_ENCRYPTION_KEY=$2 \
		as_pg "$PG_BINDIR/pg_ctl" -D "$data" -l "$tmp/$1.log" -w start >/dev/null
}
# The extension and $companies companies with a secret each.
cluster_setup() {
	psql_on "$1" >/dev/null <<SQL
CREATE EXTENSION provsecret;
SELECT count(provsecret.register_project('bp' || g, 'bc' || g)) FROM generate_series(1, $companies) g;
SELECT count(provsecret.seal('managed:project/bp' || g || '/K', 'value-' || g)) FROM generate_series(1, $companies) g;
SQL
}

# --- the generated events (on the full cluster only) -------------------------------
fill_sql() {
	cat <<SQL
SET client_min_messages = notice;
DO \$gen\$
DECLARE
    m int;
    first timestamptz;
    per bigint := ceil($events::numeric / $months);
    part text;
    base bigint := (SELECT last_value FROM provsecret.audit_event_id_seq);
BEGIN
    FOR m IN 1 .. $months LOOP
        first := date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' - m * interval '1 month';
        part := 'audit_event_' || to_char(first AT TIME ZONE 'UTC', 'YYYY_MM');
        EXECUTE format('CREATE TABLE provsecret.%I (LIKE provsecret.audit_event INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', part);
        -- \$1 base id, \$2 months back, \$3 rows per month, \$4 first instant
        EXECUTE format(\$q\$
            INSERT INTO provsecret.%I (id, chain_seq, at, action, reference, company, project, principal,
                                       channel, outcome, count, prev_hash, hash, key_epoch)
            SELECT \$1 + ($months - \$2) * \$3 + g, (($months - \$2) * \$3 + g) / $chains + 1,
                   \$4 + g * (interval '27 days' / \$3),
                   'secret.revealed', 'managed:project/gp' || (g %% $chains) || '/K',
                   'gc' || (g %% $chains), 'gp' || (g %% $chains), 'db:bench', 'sql', 'ok', 1,
                   decode(md5(g::text) || md5(g::text), 'hex'), decode(md5(g::text) || md5(\$2::text), 'hex'), 1
              FROM generate_series(1, \$3) g\$q\$, part)
        USING base, m, per, first;
        -- the keys and indexes a partition the worker creates has, built in bulk
        EXECUTE format('ALTER TABLE provsecret.%I ADD PRIMARY KEY (id, at)', part);
        EXECUTE format('CREATE INDEX ON provsecret.%I (company COLLATE "C", chain_seq)', part);
        EXECUTE format('CREATE INDEX ON provsecret.%I (reference COLLATE "C", at)', part);
        EXECUTE format('ALTER TABLE provsecret.audit_event ATTACH PARTITION provsecret.%I FOR VALUES FROM (%L) TO (%L)',
                       part, first, first + interval '1 month');
        COMMIT;
        RAISE NOTICE 'month % of %: % rows', m, $months, per;
    END LOOP;
    -- A head and a verified point per generated chain, as a running system has.
    INSERT INTO provsecret.audit_chain_head (chain, chain_seq, event_id, hash)
    SELECT 'gc' || c, $events / $chains, c, decode(md5(c::text) || md5(c::text), 'hex')
      FROM generate_series(0, $chains - 1) c;
    INSERT INTO provsecret.audit_chain_verified (chain, chain_seq, hash, key_epoch, mac)
    SELECT 'gc' || c, $events / $chains, decode(md5(c::text) || md5(c::text), 'hex'), 1, '\\x00'::bytea
      FROM generate_series(0, $chains - 1) c;
    PERFORM pg_catalog.setval('provsecret.audit_event_id_seq', base + $events + $months + 1);
END
\$gen\$;
SQL
}
# fill SIDE: generates the events; sets gen_s.
fill() {
	local t0 t1
	fill_sql >"$tmp/fill.sql"
	chmod 644 "$tmp/fill.sql"
	t0=$(now)
	run psql_on "$1" -f "$tmp/fill.sql"
	t1=$(now)
	gen_s=$(elapsed "$t0" "$t1")
}

# --- the measures ---------------------------------------------------------------------
# reveals SIDE: audited reveals for $seconds s; sets tps.
reveals() {
	run psql_on "$1" -c 'VACUUM ANALYZE' -c 'CHECKPOINT'
	run as_pg "$PG_BINDIR/pgbench" -n -M prepared -c "$clients" -j "$clients" -T "$seconds" \
		-D companies="$companies" -h "$tmp" -p "${port[$1]}" -f "$tmp/resolve.pgbench" postgres \
		>"$tmp/pgbench.out" 2>&1
	tps=$(awk '/^tps = / { print int($3) }' "$tmp/pgbench.out")
	[ -n "$tps" ] || { cat "$tmp/pgbench.out" >&2; exit 1; }
}
# incremental SIDE: verifies the events written since the last verification;
# sets inc_s (seconds) and inc_n (events walked).
incremental() {
	local t0 t1
	t0=$(now)
	run psql_on "$1" -tAc 'SELECT coalesce(sum(checked), 0) FROM provsecret.verify_audit_chain(true)' >"$tmp/verify.out"
	t1=$(now)
	inc_s=$(elapsed "$t0" "$t1")
	inc_n=$(cat "$tmp/verify.out")
}
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b ? a / b : 0 }'; }
rate() { awk -v s="$1" -v n="$2" 'BEGIN { printf "%d", (s > 0) ? n / s : 0 }'; }

# --- the run ----------------------------------------------------------------------------
key=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
echo "# two clusters (ports ${port[empty]} and ${port[full]}), $companies companies with a secret each in both ..." >&2
for side in "${sides[@]}"; do
	cluster_start "$side" "$key"
	cluster_setup "$side"
done
cp "$here/resolve.pgbench" "$tmp/resolve.pgbench"
chmod 644 "$tmp/resolve.pgbench"

echo "# generating $events events over $months months and $chains chains in the full cluster ..." >&2
fill full
size=$(psql_on full -tAc "SELECT pg_size_pretty(sum(pg_total_relation_size(i.inhrelid))) FROM pg_inherits i WHERE i.inhparent = 'provsecret.audit_event'::regclass")
present=$(psql_on full -tAc 'SELECT count(*) FROM provsecret.audit_event')

echo "# warm-up (unmeasured) on each ..." >&2
for side in "${sides[@]}"; do
	psql_on "$side" -tAc 'SELECT count(*) FROM provsecret.verify_audit_chain(true)' >/dev/null
	reveals "$side"
	# verified points everywhere before the measured rounds
	incremental "$side"
done

# ABBA: empty full, full empty, empty full, ...
declare -A all_tps all_rate all_n all_s round_tps
rows=""
pair_ratios=""
for ((r = 1; r <= rounds; r++)); do
	if ((r % 2)); then order=(empty full); else order=(full empty); fi
	for side in "${order[@]}"; do
		echo "# round $r of $rounds: $side ..." >&2
		reveals "$side"
		incremental "$side"
		all_tps[$side]+=" $tps"
		round_tps[$side]=$tps
		all_n[$side]+=" $inc_n"
		all_s[$side]+=" $inc_s"
		all_rate[$side]+=" $(rate "$inc_s" "$inc_n")"
		rows+=$(printf '  %5s  %-5s %12s %12s %10s %10s' "$r" "$side" "$tps" "$inc_n" "$inc_s" "$(rate "$inc_s" "$inc_n")")$'\n'
	done
	# the two sides of a round ran next to each other in time
	pair_ratios+=" $(ratio "${round_tps[full]}" "${round_tps[empty]}")"
done

drop_months=${BENCH_RETAIN_MONTHS:-$((months / 2))}
echo "# retention on the full cluster: the oldest $drop_months months ..." >&2
keep=$((months - drop_months))
t0=$(now)
run psql_on full -tAc "SELECT provsecret.audit_retain(make_interval(months => $keep) + (now() - date_trunc('month', now())))" >"$tmp/retain.out"
t1=$(now)
dropped=$(cat "$tmp/retain.out")
ret_s=$(elapsed "$t0" "$t1")

# shellcheck disable=SC2086 # the per-round values are space-separated lists
{
	tps_e=$(median ${all_tps[empty]}) tps_f=$(median ${all_tps[full]})
	rate_e=$(median ${all_rate[empty]}) rate_f=$(median ${all_rate[full]})
	n_e=$(median ${all_n[empty]}) n_f=$(median ${all_n[full]})
	s_e=$(median ${all_s[empty]}) s_f=$(median ${all_s[full]})
	pair_median=$(median $pair_ratios)
}
echo
echo "provsecret audit at scale: $clients clients, $rounds rounds of ${seconds}s of reveals per side (ABBA, two clusters), $(nproc) CPUs"
echo "events present: $present in the full cluster (generated in ${gen_s}s; partitions $size), 0 in the empty one; $chains generated chains, $companies revealing companies"
printf '%-44s %12s %12s %8s\n' "median of $rounds rounds" "empty" "full" "ratio"
printf '%-44s %12s %12s %8s\n' "audited reveals/s (insert + head)" "$tps_e" "$tps_f" "$(ratio "$tps_f" "$tps_e")"
printf '%-44s %12s %12s %8.3f\n' "  full/empty within each round, median" "" "" "$pair_median"
printf '%-44s %12s %12s %8s\n' "incremental verify: events walked" "$n_e" "$n_f" ""
printf '%-44s %12s %12s %8s\n' "incremental verify: seconds" "$s_e" "$s_f" ""
printf '%-44s %12s %12s %8s\n' "incremental verify: events/s" "$rate_e" "$rate_f" "$(ratio "$rate_f" "$rate_e")"
echo "each round, in the order run:"
printf '  %5s  %-5s %12s %12s %10s %10s\n' "round" "side" "reveals/s" "verified" "seconds" "events/s"
printf '%s' "$rows"
echo "audited reveals/s, full/empty within each round:$pair_ratios"
echo "retention (full cluster): dropped $dropped events ($drop_months months) in ${ret_s}s"
echo "target: audited reveals, median full / median empty >= 0.9"
