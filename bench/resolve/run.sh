#!/bin/bash
# Side-by-side read benchmark on one throwaway cluster: plain SELECT of a
# bytea by primary key, pgcrypto pgp_sym_decrypt, provsecret.resolve().
# Each peer runs with pgbench -M prepared, the same clients and duration,
# and is printed with its ratio to plain SELECT; then libsodium's own cost.
#
#   bench/resolve/run.sh
#
# Environment:
#   BENCH_SECONDS   seconds per peer and client count (10)
#   BENCH_WARMUP    unmeasured seconds at the start of each run (3)
#   BENCH_CLIENTS   client counts ("2 16")
#   BENCH_PEERS     peers to run (all that are available), from:
#                   plain pgcrypto resolve plain_audit resolve_summary resolve_all
#   BENCH_PORT      port of the throwaway cluster (55449)
#   PG_BINDIR       binaries (staged .build install if it holds provsecret,
#                   else `pg_config --bindir`)
#   BENCH_FSYNC     fsync/synchronous_commit of the cluster (on)
#   BENCH_ROUNDS    rounds of every peer, interleaved; medians reported (1, at most 20)
#   BENCH_INSTRUCTIONS  1 (default when valgrind is installed): also count the
#                   instructions a transaction of plain and of resolve under
#                   audit_level=summary executes (callgrind, single-user
#                   backend), a figure this machine's noise does not move
#
# Every peer starts after a VACUUM and a CHECKPOINT (autovacuum is off),
# so one peer's writes (the audited ones write a lot) are neither vacuumed
# nor flushed during the next peer's measurement.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
seconds=${BENCH_SECONDS:-10}
warmup=${BENCH_WARMUP:-3}
clients=${BENCH_CLIENTS:-2 16}
port=${BENCH_PORT:-55449}
fsync=${BENCH_FSYNC:-on}
rounds=${BENCH_ROUNDS:-1}
case $rounds in [1-9] | 1[0-9] | 20) ;; *) echo "BENCH_ROUNDS must be 1 to 20" >&2; exit 2 ;; esac
rows=10000

staged="$repo/.build/root/usr/lib/postgresql/15"
if [ -z "${PG_BINDIR:-}" ]; then
	if [ -e "$staged/lib/provsecret.so" ]; then
		PG_BINDIR="$staged/bin"
	else
		PG_BINDIR=$(pg_config --bindir)
	fi
fi
have_provsecret=0
[ -e "$("$PG_BINDIR/pg_config" --pkglibdir)/provsecret.so" ] && have_provsecret=1

tmp=$(mktemp -d /tmp/provsecret-bench.XXXXXX)
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
	as_pg "$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h "$tmp" -p "$port" \
		-d postgres "$@"
}

# --- cluster ---------------------------------------------------------------
as_pg "$PG_BINDIR/initdb" -D "$data" -A trust -N >/dev/null
{
	echo "port = $port"
	echo "listen_addresses = ''"
	echo "unix_socket_directories = '$tmp'"
	echo "max_connections = 64"
	echo "shared_buffers = 256MB"
	echo "fsync = $fsync"
	echo "synchronous_commit = $fsync"
	# VACUUM runs before every peer instead, so it never runs during one
	echo "autovacuum = off"
	if [ $have_provsecret = 1 ]; then
		echo "shared_preload_libraries = 'provsecret'"
		echo "provsecret.rest_listen_addresses = ''"
	fi
} >>"$data/postgresql.conf"
# The key lives only in the postmaster's environment.
key=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
CLOUDGRID_PROVIDER_SECRET_ENCRYPTION_KEY=$key \
	as_pg "$PG_BINDIR/pg_ctl" -D "$data" -l "$tmp/server.log" -w start >/dev/null

# --- data --------------------------------------------------------------------
echo "# setting up $rows rows per peer ..." >&2
psql_bench >/dev/null <<SQL
CREATE EXTENSION pgcrypto;
CREATE TABLE bench_plain (id int PRIMARY KEY, v bytea NOT NULL);
INSERT INTO bench_plain SELECT g, gen_random_bytes(100)
  FROM generate_series(1, $rows) g;
-- pgcrypto with its defaults (iterated-salted S2K), as a user would call it.
CREATE TABLE bench_pgp (id int PRIMARY KEY, c bytea NOT NULL);
INSERT INTO bench_pgp
  SELECT g, pgp_sym_encrypt(encode(gen_random_bytes(75), 'base64'), 'bench-passphrase')
  FROM generate_series(1, $rows) g;
-- What an audited plain SELECT writes (the issue-4 baseline).
CREATE TABLE bench_audit (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT now(),
  row_id int NOT NULL, principal text NOT NULL);
SQL
if [ $have_provsecret = 1 ]; then
	psql_bench >/dev/null <<SQL
CREATE EXTENSION provsecret;
SELECT provsecret.register_project('bench');
SELECT count(provsecret.seal('managed:project/bench/s' || g,
                             encode(gen_random_bytes(75), 'base64')))
  FROM generate_series(1, $rows) g;
SQL
fi
psql_bench -c 'VACUUM ANALYZE' -c 'CHECKPOINT'

# --- peers -------------------------------------------------------------------
scripts="$tmp/scripts"
mkdir -p "$scripts"
cp "$here"/*.pgbench "$scripts/"
chmod 644 "$scripts"/*

available="plain pgcrypto plain_audit"
if [ $have_provsecret = 1 ]; then
	available="$available resolve"
	if [ "$(psql_bench -tAc "SELECT count(*) FROM pg_settings WHERE name = 'provsecret.audit_level'")" = 1 ]; then
		available="$available resolve_summary resolve_all"
	fi
fi
peers=${BENCH_PEERS:-plain pgcrypto resolve plain_audit resolve_summary resolve_all}

script_of() {
	case $1 in
		resolve_summary | resolve_all) echo resolve ;;
		*) echo "$1" ;;
	esac
}
# Audit-level peers switch the (reloadable) GUC before they run.
prepare_peer() {
	case $1 in
		resolve_summary) level=summary ;;
		resolve_all) level=all ;;
		*) return 0 ;;
	esac
	psql_bench -c "ALTER SYSTEM SET provsecret.audit_level = '$level'" \
		-c 'SELECT pg_reload_conf()' >/dev/null
	sleep 1
}

# results lines "round peer clients tps latency" to one line per (peer,
# clients), in the order first seen: "peer clients tps latency ratio", the
# medians over the rounds of tps, latency and tps / plain's tps in the
# same round (runs minutes apart on a shared machine drift together, so
# a round's own ratio is steadier than a ratio of medians)
medians() {
	awk '
	function med(s,   a, m, i, j, t) {
		m = split(s, a, " ")
		for (i = 2; i <= m; i++) {
			t = a[i]; j = i - 1
			while (j > 0 && a[j] + 0 > t + 0) { a[j + 1] = a[j]; j-- }
			a[j + 1] = t
		}
		return a[int((m + 1) / 2)]
	}
	{ row[NR] = $0 }
	$2 == "plain" && $4 ~ /^[0-9.]+$/ { plain[$1 " " $3] = $4 }
	END {
		for (r = 1; r <= NR; r++) {
			split(row[r], f, " ")
			k = f[2] " " f[3]
			if (!(k in seen)) { seen[k] = 1; order[++n] = k }
			if (f[4] !~ /^[0-9.]+$/) { bad[k] = f[4]; continue }
			tps[k] = tps[k] " " f[4]; lat[k] = lat[k] " " f[5]
			p = plain[f[1] " " f[3]]
			if (p > 0) ratio[k] = ratio[k] " " f[4] / p
		}
		for (i = 1; i <= n; i++) {
			k = order[i]
			if (tps[k] == "") { print k, bad[k], bad[k], "-"; continue }
			print k, med(tps[k]), med(lat[k]), (ratio[k] == "" ? "-" : med(ratio[k]))
		}
	}' "$1"
}

ncpu=$(nproc)
results="$tmp/results"
: >"$results"
for round in $(seq 1 "$rounds"); do
for c in $clients; do
	threads=$((c < ncpu ? c : ncpu))
	for peer in $peers; do
		case " $available " in
			*" $peer "*) ;;
			*) echo "$peer $c n/a n/a" >>"$results"; continue ;;
		esac
		prepare_peer "$peer"
		psql_bench -c VACUUM -c CHECKPOINT >/dev/null
		# One run per peer: its first $warmup seconds warm the connections'
		# caches (plans, buffers, data keys, where resolve found each
		# reference), as in a connection pool, and are left out; tps and
		# latency are the means of the per-second reports after them.
		out=$(as_pg "$PG_BINDIR/pgbench" -n -M prepared -c "$c" -j "$threads" \
			-T "$((warmup + seconds))" -P 1 -h "$tmp" -p "$port" \
			-f "$scripts/$(script_of "$peer").pgbench" postgres 2>&1) || {
			echo "$out" >&2
			echo "$round $peer $c failed failed" >>"$results"
			continue
		}
		tps='' lat=''
		read -r tps lat < <(echo "$out" | awk -v from="$warmup" '
			/^progress: / && $2 + 0 > from { t += $4; l += $7; n++ }
			END { if (n) printf "%.1f %.3f\n", t / n, l / n }') || true
		if [ -z "${tps:-}" ]; then
			echo "$out" >&2
			echo "$round $peer $c failed failed" >>"$results"
			continue
		fi
		echo "$round $peer $c $tps $lat" >>"$results"
		echo "# round $round: $peer, $c clients: $tps tps" >&2
	done
done
done
medians "$results" >"$results.median"
results="$results.median"

# --- report ------------------------------------------------------------------
echo
[ "$rounds" -gt 1 ] && echo "medians of $rounds interleaved rounds"
echo "provsecret resolve benchmark: pgbench -M prepared, ${seconds}s per peer," \
	"$rows rows/secrets, fsync=$fsync, $ncpu CPUs, $("$PG_BINDIR/postgres" --version)"
awk '
	$1 == "plain" { plain_lat[$2] = $4 }
	{ line[NR] = $0 }
	END {
		printf "%-16s %7s %12s %14s %10s %10s\n", "peer", "clients", "tps",
			"avg lat (ms)", "tps/plain", "lat/plain"
		for (i = 1; i <= NR; i++) {
			split(line[i], f, " ")
			if (f[3] !~ /^[0-9.]+$/) {
				printf "%-16s %7s %12s %14s %10s %10s\n", f[1], f[2], f[3], f[4], "-", "-"
				continue
			}
			pl = plain_lat[f[2]]
			printf "%-16s %7d %12.0f %14.3f %10s %10s\n", f[1], f[2], f[3], f[4],
				(f[5] != "-" ? sprintf("%.3f", f[5]) : "-"),
				(pl > 0 ? sprintf("%.2fx", f[4] / pl) : "-")
		}
	}' "$results"

# libsodium alone, for the overhead of resolve over raw crypto.
echo
if cc -O2 -o "$tmp/sodium_decrypt" "$here/sodium_decrypt.c" -lsodium 2>"$tmp/cc.err"; then
	"$tmp/sodium_decrypt" 1000000
else
	echo "sodium_decrypt: build failed: $(cat "$tmp/cc.err")"
fi
# Extra time per call of each peer over plain SELECT at the smallest client
# count, from the median throughputs (clients / tps is the time per call):
# roughly the server-side cost per call, to set against libsodium's.
first=${clients%% *}
awk -v c="$first" '
	$2 == c && $1 == "plain" { base = c / $3 }
	$2 == c && $3 ~ /^[0-9.]+$/ { per[$1] = c / $3; order[++n] = $1 }
	END {
		if (base == "") exit
		for (i = 1; i <= n; i++) if (order[i] != "plain")
			printf "%-16s %8.1f us per call more than plain SELECT (%d clients)\n",
				order[i], (per[order[i]] - base) * 1e6, c
	}' "$results"

# --- instructions per transaction ------------------------------------------
# Throughput on a shared machine moves by more than the gap between plain
# and resolve; an instruction count does not.  Each peer runs as prepared
# EXECUTEs, one transaction each, in a single-user backend under callgrind:
# twice, with 2,000 and 6,000 of them after the same warm-up, so start-up,
# warm-up and PREPARE cancel out of the difference.  1,000 distinct rows or
# secrets, each read several times, as behind a connection pool.  Only
# audit_level=summary can run here: 'all' waits for the audit worker, which
# a single-user backend does not start (and the time its commits wait on
# the disk is not an instruction count).
instructions=${BENCH_INSTRUCTIONS:-}
if [ -z "$instructions" ]; then
	command -v valgrind >/dev/null && instructions=1 || instructions=0
fi
if [ "$instructions" = 1 ] && [ $have_provsecret = 1 ]; then
	psql_bench -c "ALTER SYSTEM SET provsecret.audit_level = 'summary'" >/dev/null
	as_pg "$PG_BINDIR/pg_ctl" -D "$data" -m fast -w stop >/dev/null
	count_instructions() { # peer executes -> instructions of the whole backend
		local prepare input="$tmp/cg.$1.$2.sql" out="$tmp/cg.$1.$2.err" i
		case $1 in
			plain) prepare='PREPARE q(int) AS SELECT v FROM bench_plain WHERE id = $1;' ;;
			resolve_summary) prepare="PREPARE q(int) AS SELECT provsecret.resolve('managed:project/bench/s' || \$1);" ;;
		esac
		{
			echo "$prepare"
			for i in $(seq 1 $((2000 + $2))); do echo "EXECUTE q($((i * 7919 % 1000 + 1)));"; done
		} >"$input"
		chmod 644 "$input"
		CLOUDGRID_PROVIDER_SECRET_ENCRYPTION_KEY=$key as_pg valgrind --tool=callgrind \
			--callgrind-out-file=/dev/null "$PG_BINDIR/postgres" --single -D "$data" \
			postgres <"$input" >/dev/null 2>"$out"
		awk '/Collected :/ { print $NF }' "$out"
	}
	echo
	echo "instructions per transaction (callgrind, single-user backend, prepared EXECUTE):"
	base=''
	for peer in plain resolve_summary; do
		short=$(count_instructions "$peer" 2000)
		long=$(count_instructions "$peer" 6000)
		if [ -z "$short" ] || [ -z "$long" ]; then
			echo "$peer: callgrind failed: $(tail -3 "$tmp/cg.$peer.2000.err")"
			continue
		fi
		per=$(((long - short) / 4000))
		[ "$peer" = plain ] && base=$per
		printf "%-16s %8d  plain/peer %s\n" "$peer" "$per" \
			"$([ -n "$base" ] && awk -v b="$base" -v p="$per" 'BEGIN { printf "%.3f", b / p }')"
	done
fi
unset key
