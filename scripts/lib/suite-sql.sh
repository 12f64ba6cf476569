# shellcheck shell=bash
# scripts/lib/suite-sql.sh: pg_regress over test/sql/*.sql (pgTAP inside).
#
# pg_regress in a temporary instance of its own (regress.sh).  The schedule is every selected file
# of test/sql, in name order.  Results are kept in .build/test-output/sql.
# Needs common.sh, stage.sh, report.sh, regress.sh.

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
	ps_regress_run "$PS_STAGE$PS_SYS_PGLIB/lib/pgxs/src/test/regress/pg_regress" \
		"$tmp" provsecret_regression "${PROVSECRET_SQL_TIMEOUT:-1200}" "$out"

	local status detail failed_here=0
	for f in "${files[@]}"; do
		name="$(basename "$f" .sql)"
		status=fail
		ps_regress_passed "$tmp/pg_regress.log" "$name" && status=ok
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

	ps_regress_explain sql "$tmp" "$out" "$failed_here" 400 "$tmp/pg_regress.log"
}
