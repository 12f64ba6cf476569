# shellcheck shell=bash
# scripts/lib/suite-tap.sh: Perl TAP tests, test/t/*.pl, one prove per file.
#
# PostgreSQL::Test::Cluster refuses root, so the tests run as postgres from a
# postgres-owned copy of test/ (its tmp_check lands there).  PATH starts
# with the staged bin, so the clusters load the staged provsecret.  Ports are
# reserved in a lock directory shared by every run on this machine.
# Perl modules shared by tests may live in test/perl or test/t/lib.
# Clusters a killed or crashed test leaves behind are stopped after it.
# Environment for the tests:
#   PROVSECRET_SOURCE_DIR  the source tree (read-only)
#   PROVSECRET_TEST_ROOT_KEY  a fake 64-hex root key
#   PROVSECRET_STAGE       the staged root (.build/root or a copy)
# Needs common.sh, stage.sh, report.sh.

PS_PORTLOCK_DIR="${TMPDIR:-/tmp}/provsecret-test-portlock"

ps_suite_tap()
{
	local files=() f
	for f in "$PS_ROOT"/test/t/*.pl; do
		[ -e "$f" ] && ps_selected "$f" && files+=("$f")
	done
	[ ${#files[@]} -gt 0 ] || return 0

	local tmp out="$PS_BUILD/test-output/tap"
	ps_postgres_tmpdir tmp tap
	ps_on_exit "ps_stop_clusters_under '$tmp'"
	cp -r "$PS_ROOT/test" "$tmp/test"
	chown -R postgres:postgres "$tmp"
	mkdir -p "$PS_PORTLOCK_DIR"
	chown postgres:postgres "$PS_PORTLOCK_DIR"
	rm -rf "$out"
	mkdir -p "$out"

	local name rc detail status
	for f in "${files[@]}"; do
		name="$(basename "$f" .pl)"
		rc=0
		(cd "$tmp/test" && runuser -u postgres -- env \
			PATH="$PS_STAGE_PGBIN:$PATH" \
			PERL5LIB="$tmp/test/perl:$tmp/test/t/lib:$PS_STAGE$PS_SYS_PGLIB/lib/pgxs/src/test/perl${PERL5LIB:+:$PERL5LIB}" \
			PG_REGRESS="$PS_STAGE$PS_SYS_PGLIB/lib/pgxs/src/test/regress/pg_regress" \
			PG_TEST_PORT_DIR="$PS_PORTLOCK_DIR" \
			TESTDIR="$tmp/test" \
			PROVSECRET_SOURCE_DIR="$PS_ROOT" \
			PROVSECRET_TEST_ROOT_KEY="$PS_TEST_ROOT_KEY" \
			PROVSECRET_STAGE="$PS_STAGE" \
			timeout 900 prove -v "t/$name.pl" \
			</dev/null >"$out/$name.log" 2>&1) || rc=$?
		ps_stop_clusters_under "$tmp/test"
		ps_tap_counts "$out/$name.log"
		detail="$PS_TAP_OK ok, $PS_TAP_NOTOK not ok"
		status=ok
		if [ "$rc" -ne 0 ] || [ "$PS_TAP_NOTOK" -ne 0 ]; then
			status=fail
			[ "$rc" -eq 124 ] && detail="$detail, timed out"
		fi
		# a test that cannot run here says why (plan skip_all: prove prints
		# "t/NAME.pl .. skipped: reason")
		if [ "$status" = ok ] && grep -q '^t/[^ ]* \.\. skipped: ' "$out/$name.log"; then
			detail="skipped: $(sed -n 's/^t\/[^ ]* \.\. skipped: *//p' "$out/$name.log" | head -n 1)"
		fi
		ps_result "tap/$name" "$status" "$detail"
		if [ "$status" = fail ]; then
			ps_show "$out/$name.log" 120
			# Server logs of the failed test (tests use canary values only).
			for log in "$tmp/test/tmp_check/log/${name}"_*.log; do
				[ -f "$log" ] || continue
				echo "--- tail of $(basename "$log") ---"
				tail -n 30 "$log" | sed 's/^/    /'
			done
		fi
	done
	cp -r "$tmp/test/tmp_check/log" "$out/server-logs" 2>/dev/null || true
}
