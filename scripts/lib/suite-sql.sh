# shellcheck shell=bash
# scripts/lib/suite-sql.sh: pg_regress over test/sql/*.sql (pgTAP inside).
#
# pg_regress from the staged installation starts its own temporary instance
# (--temp-instance) as postgres, with provsecret preloaded, the test root key
# in its environment, unix socket only.  The schedule is every selected file
# of test/sql, in name order.  Results are kept in .build/test-output/sql.
# Needs common.sh, stage.sh, report.sh.

ps_suite_sql()
{
	local files=() f
	for f in "$PS_ROOT"/test/sql/*.sql; do
		[ -e "$f" ] && ps_selected "$f" && files+=("$f")
	done
	[ ${#files[@]} -gt 0 ] || return 0

	local tmp name out="$PS_BUILD/test-output/sql"
	ps_postgres_tmpdir tmp regress
	ps_on_exit "ps_stop_clusters_under '$tmp'"
	mkdir -p "$tmp/in" "$tmp/out"
	local d
	for d in sql expected data input output; do
		[ -d "$PS_ROOT/test/$d" ] && cp -r "$PS_ROOT/test/$d" "$tmp/in/"
	done
	mkdir -p "$tmp/in/expected"
	for f in "${files[@]}"; do
		printf 'test: %s\n' "$(basename "$f" .sql)"
	done >"$tmp/schedule"
	# pg_regress aborts the whole run on a missing expected file: an empty
	# one makes just that test fail (and is reported as missing below).
	mkdir -p "$tmp/missing"
	for f in "${files[@]}"; do
		name="$(basename "$f" .sql)"
		if [ ! -f "$tmp/in/expected/$name.out" ]; then
			: >"$tmp/in/expected/$name.out"
			: >"$tmp/missing/$name"
		fi
	done
	cat >"$tmp/regress.conf" <<CONF
shared_preload_libraries = 'provsecret'
provsecret.mode = 'deployed'
provsecret.database = 'provsecret_regression'
provsecret.rest_listen_addresses = ''
provsecret.outbound_allowed_hosts = '127.0.0.1,localhost'
log_min_messages = warning
CONF
	chown -R postgres:postgres "$tmp"

	local rc=0
	ps_as_postgres env \
		CLOUDGRID_PROVIDER_SECRET_ENCRYPTION_KEY="$PS_TEST_ROOT_KEY" \
		PS_TEST_ENV_CANARY="env-canary-value" \
		PS_TEST_ENV_UNLISTED="env-unlisted-canary" \
		PATH="$PS_STAGE_PGBIN:$PATH" \
		timeout "${PROVSECRET_SQL_TIMEOUT:-1200}" "$PS_STAGE$PS_SYS_PGLIB/lib/pgxs/src/test/regress/pg_regress" \
		--temp-instance="$tmp/instance" \
		--temp-config="$tmp/regress.conf" \
		--bindir="$PS_STAGE_PGBIN" \
		--inputdir="$tmp/in" --outputdir="$tmp/out" \
		--dbname=provsecret_regression \
		--encoding=UTF8 --no-locale \
		--schedule="$tmp/schedule" \
		</dev/null >"$tmp/pg_regress.log" 2>&1 || rc=$?
	# A pg_regress killed by the timeout leaves its instance running.
	ps_stop_clusters_under "$tmp"

	rm -rf "$out"
	mkdir -p "$out"
	cp -r "$tmp/out/." "$out/" 2>/dev/null || true
	cp "$tmp/pg_regress.log" "$out/"

	local status detail failed_here=0
	for f in "${files[@]}"; do
		name="$(basename "$f" .sql)"
		status=fail
		# pg_regress 15 prints "test NAME ... ok" or "... FAILED".
		if grep -Eq "^(test| )+$name +\.\.\. ok" "$tmp/pg_regress.log"; then
			status=ok
		fi
		if [ -f "$tmp/out/results/$name.out" ]; then
			ps_tap_counts "$tmp/out/results/$name.out" " *"
			detail="$PS_TAP_OK ok, $PS_TAP_NOTOK not ok"
			if [ "$PS_TAP_PLAN" -ge 0 ] &&
				[ $((PS_TAP_OK + PS_TAP_NOTOK)) -ne "$PS_TAP_PLAN" ]; then
				detail="$detail (plan $PS_TAP_PLAN)"
				status=fail
			fi
			[ "$PS_TAP_NOTOK" -eq 0 ] || status=fail
			if [ -f "$tmp/missing/$name" ]; then
				detail="$detail, no expected output"
				status=fail
			fi
		else
			detail="no output"
		fi
		[ "$status" = ok ] || failed_here=$((failed_here + 1))
		ps_result "sql/$name" "$status" "$detail"
	done

	if [ "$rc" -ne 0 ]; then
		if [ -s "$tmp/out/regression.diffs" ]; then
			echo "--- regression.diffs (also in $out) ---"
			ps_show "$tmp/out/regression.diffs" 400
		else
			echo "--- pg_regress exited with $rc ---"
			ps_show "$tmp/pg_regress.log" 60
			ps_show "$tmp/out/log/postmaster.log" 40
		fi
		# A crash or an aborted run fails the suite even if every file matched.
		if [ "$failed_here" -eq 0 ]; then
			ps_result "sql/pg_regress" fail "exit status $rc"
		fi
	fi
}
