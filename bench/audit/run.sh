#!/bin/bash
# Audit at scale, side by side on one throwaway cluster:
#
#   1. audited reveals (each inserts an audit event and moves its company's
#      chain head) with audit_event empty, then with BENCH_EVENTS events
#      present in older monthly partitions and as many chain heads as
#      BENCH_CHAINS companies: the ratio is the cost of a full table;
#   2. incremental verification (verify_audit_chain(true)) of the events
#      those reveals wrote, empty table vs full table;
#   3. one retention run (audit_retain) dropping half of the old months.
#
#   nice -n 10 bench/audit/run.sh
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
# Environment:
#   BENCH_EVENTS     events generated into old partitions (1000000)
#   BENCH_MONTHS     months they are spread over, before the current (24)
#   BENCH_CHAINS     companies their chains belong to (100000)
#   BENCH_COMPANIES  companies the reveals go to, a secret each (1000)
#   BENCH_SECONDS    seconds per reveal run (20)
#   BENCH_CLIENTS    pgbench clients (4)
#   BENCH_RETAIN_MONTHS  oldest generated months audit_retain drops (half)
#   BENCH_PORT       port of the throwaway cluster (55459)
#   PG_BINDIR        binaries (staged .build install if it holds provsecret)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
events=${BENCH_EVENTS:-1000000}
months=${BENCH_MONTHS:-24}
chains=${BENCH_CHAINS:-100000}
companies=${BENCH_COMPANIES:-1000}
seconds=${BENCH_SECONDS:-20}
clients=${BENCH_CLIENTS:-4}
port=${BENCH_PORT:-55459}

staged="$repo/.build/root/usr/lib/postgresql/15"
if [ -z "${PG_BINDIR:-}" ]; then
	if [ -e "$staged/lib/provsecret.so" ]; then PG_BINDIR="$staged/bin"; else PG_BINDIR=$(pg_config --bindir); fi
fi

tmp=$(mktemp -d /tmp/provsecret-bench-audit.XXXXXX)
chmod 755 "$tmp"
data="$tmp/data"
as_pg() {
	if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
cleanup() {
	[ -f "$data/postmaster.pid" ] &&
		as_pg "$PG_BINDIR/pg_ctl" -D "$data" -m fast stop >/dev/null 2>&1
	rm -rf "$tmp"
}
trap cleanup EXIT
[ "$(id -u)" = 0 ] && chown postgres: "$tmp"

psql_bench() {
	as_pg "$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h "$tmp" -p "$port" -d postgres "$@"
}
now() { date +%s.%N; }
elapsed() { echo "$2 - $1" | bc; }

as_pg "$PG_BINDIR/initdb" -D "$data" -A trust -N >/dev/null
{
	echo "port = $port"
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
key=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
CLOUDGRID_PROVIDER_SECRET_ENCRYPTION_KEY=$key \
	as_pg "$PG_BINDIR/pg_ctl" -D "$data" -l "$tmp/server.log" -w start >/dev/null

echo "# $companies companies with a secret each ..." >&2
psql_bench >/dev/null <<SQL
CREATE EXTENSION provsecret;
SELECT count(provsecret.register_project('bp' || g, 'bc' || g)) FROM generate_series(1, $companies) g;
SELECT count(provsecret.seal('managed:project/bp' || g || '/K', 'value-' || g)) FROM generate_series(1, $companies) g;
SQL
cp "$here/resolve.pgbench" "$tmp/resolve.pgbench"
chmod 644 "$tmp/resolve.pgbench"

# Audited reveals for $seconds s; prints transactions per second.
reveals() {
	psql_bench -c 'VACUUM ANALYZE' -c 'CHECKPOINT'
	as_pg "$PG_BINDIR/pgbench" -n -M prepared -c "$clients" -j "$clients" -T "$seconds" \
		-D companies="$companies" -h "$tmp" -p "$port" -f "$tmp/resolve.pgbench" postgres 2>&1 |
		awk '/^tps = / { print int($3) }'
}
# Incremental verification after the reveals; prints "seconds events".
incremental() {
	local t0 t1 n
	t0=$(now)
	n=$(psql_bench -tAc 'SELECT coalesce(sum(checked), 0) FROM provsecret.verify_audit_chain(true)')
	t1=$(now)
	echo "$(elapsed "$t0" "$t1") $n"
}

# Verified points everywhere before each measured run.
psql_bench -tAc 'SELECT count(*) FROM provsecret.verify_audit_chain(true)' >/dev/null

echo "# warm-up (unmeasured), then reveals with audit_event empty ..." >&2
reveals >/dev/null
psql_bench -tAc 'SELECT count(*) FROM provsecret.verify_audit_chain(true)' >/dev/null
tps_empty=$(reveals)
read -r inc_empty_s inc_empty_n < <(incremental)

echo "# generating $events events over $months months and $chains chains ..." >&2
t0=$(now)
psql_bench <<SQL
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
t1=$(now)
gen_s=$(elapsed "$t0" "$t1")
size=$(psql_bench -tAc "SELECT pg_size_pretty(sum(pg_total_relation_size(i.inhrelid))) FROM pg_inherits i WHERE i.inhparent = 'provsecret.audit_event'::regclass")
present=$(psql_bench -tAc 'SELECT count(*) FROM provsecret.audit_event')

echo "# reveals with $present events present ..." >&2
tps_full=$(reveals)
read -r inc_full_s inc_full_n < <(incremental)

drop_months=${BENCH_RETAIN_MONTHS:-$(( months / 2 ))}
echo "# retention: the oldest $drop_months months ..." >&2
keep=$(( months - drop_months ))
t0=$(now)
dropped=$(psql_bench -tAc "SELECT provsecret.audit_retain(make_interval(months => $keep) + (now() - date_trunc('month', now())))")
t1=$(now)
ret_s=$(elapsed "$t0" "$t1")

ratio() { echo "scale=3; $1 / $2" | bc; }
rate() { if [ "$2" = 0 ]; then echo 0; else echo "scale=0; $2 / $1" | bc; fi; }
echo
echo "provsecret audit at scale: $clients clients, ${seconds}s of reveals per run, $(nproc) CPUs"
echo "events present: $present (generated in ${gen_s}s; partitions $size), $chains generated chains, $companies revealing companies"
printf '%-44s %12s %12s %8s\n' "" "empty" "full" "ratio"
printf '%-44s %12s %12s %8s\n' "audited reveals/s (insert + head)" "$tps_empty" "$tps_full" "$(ratio "$tps_full" "$tps_empty")"
printf '%-44s %12s %12s %8s\n' "incremental verify: events walked" "$inc_empty_n" "$inc_full_n" ""
printf '%-44s %12s %12s %8s\n' "incremental verify: seconds" "$inc_empty_s" "$inc_full_s" ""
printf '%-44s %12s %12s %8s\n' "incremental verify: events/s" "$(rate "$inc_empty_s" "$inc_empty_n")" "$(rate "$inc_full_s" "$inc_full_n")" \
	"$(ratio "$(rate "$inc_full_s" "$inc_full_n")" "$(rate "$inc_empty_s" "$inc_empty_n")")"
echo "retention: dropped $dropped events ($((months - keep)) months) in ${ret_s}s"
echo "target: audited reveals full/empty >= 0.9"
