#!/bin/bash
# Run the Perl TAP tests (test/t/*.pl) against an installed or staged
# provsecret, as the `postgres` OS user (PostgreSQL refuses root).
#
#   test/t/run.sh [test/t/010_keys_restart.pl ...]
#
# Environment:
#   PG_BINDIR                 binaries to test (default: the staged install
#                             .build/root/.../bin if it holds provsecret,
#                             else `pg_config --bindir`)
#   PROVSECRET_TAP_PORT_BASE  first of ten ports the clusters use (55440)
#   PROVSECRET_TAP_KEEP=1     keep the temp dir (logs, data dirs)
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
staged="$repo/.build/root/usr/lib/postgresql/15"
if [ -z "${PG_BINDIR:-}" ]; then
	if [ -e "$staged/lib/provsecret.so" ]; then
		PG_BINDIR="$staged/bin"
	else
		PG_BINDIR=$(pg_config --bindir)
	fi
fi
pgxs_dir="$("$PG_BINDIR/pg_config" --pkglibdir)/pgxs"
perl_lib="$pgxs_dir/src/test/perl"
pg_regress="$pgxs_dir/src/test/regress/pg_regress"

if [ $# -gt 0 ]; then
	tests=()
	for t in "$@"; do tests+=("$(cd "$(dirname "$t")" && pwd)/$(basename "$t")"); done
else
	tests=("$repo"/test/t/*.pl)
fi

tmp=$(mktemp -d /tmp/provsecret-tap.XXXXXX)
chmod 755 "$tmp"
cleanup() {
	# Stop any cluster a crashed test left behind, then drop the files.
	for pid in "$tmp"/tmp_check/t_*_data/pgdata/postmaster.pid; do
		[ -f "$pid" ] || continue
		runuser -u postgres -- "$PG_BINDIR/pg_ctl" -D "$(dirname "$pid")" \
			-m immediate stop >/dev/null 2>&1 || true
	done
	if [ "${PROVSECRET_TAP_KEEP:-0}" = 1 ] || [ "${status:-1}" != 0 ]; then
		echo "# TAP logs kept in $tmp/tmp_check/log"
	else
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT
chown postgres: "$tmp"

as_postgres() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

status=0
cd "$tmp"
as_postgres env \
	PATH="$PG_BINDIR:$PATH" \
	PERL5LIB="$perl_lib" \
	PG_REGRESS="$pg_regress" \
	TESTDIR="$tmp" \
	PROVSECRET_TAP_PORT_BASE="${PROVSECRET_TAP_PORT_BASE:-55440}" \
	prove --verbose --timer "${tests[@]}" || status=$?
exit $status
