# shellcheck shell=bash
# scripts/lib/suite-isolation.sh: concurrency specs, test/isolation/specs/*.spec.
#
# pg_isolation_regress (isolationtester) in a temporary instance of its own,
# configured as the sql suite's (regress.sh).  Expected output: test/isolation/expected/NAME.out (specs
# print digests and booleans, never a value).  Results are kept in
# .build/test-output/isolation.  Needs common.sh, stage.sh, report.sh,
# regress.sh.

ps_suite_isolation()
{
	local files=() f src="$PS_ROOT/test/isolation"
	for f in "$src"/specs/*.spec; do
		[ -e "$f" ] && ps_selected "$f" && files+=("$f")
	done
	[ ${#files[@]} -gt 0 ] || return 0

	local tmp name out="$PS_BUILD/test-output/isolation"
	local runner="$PS_STAGE$PS_SYS_PGLIB/lib/pgxs/src/test/isolation/pg_isolation_regress"
	if [ ! -x "$runner" ]; then
		ps_result "isolation" fail "no pg_isolation_regress in the staged PostgreSQL"
		return 0
	fi
	ps_postgres_tmpdir tmp isolation
	ps_on_exit "ps_stop_clusters_under '$tmp'"
	mkdir -p "$tmp/in/specs" "$tmp/in/expected" "$tmp/out" "$tmp/missing"
	cp "${files[@]}" "$tmp/in/specs/"
	for f in "${files[@]}"; do
		name="$(basename "$f" .spec)"
		printf 'test: %s\n' "$name"
		if [ -f "$src/expected/$name.out" ]; then
			cp "$src/expected/$name.out" "$tmp/in/expected/"
		else
			# as in the sql suite: an empty file fails just this test
			: >"$tmp/in/expected/$name.out"
			: >"$tmp/missing/$name"
		fi
	done >"$tmp/schedule"
	ps_regress_run "$runner" "$tmp" provsecret_isolation \
		"${PROVSECRET_ISOLATION_TIMEOUT:-900}" "$out"

	local status detail failed_here=0 perms
	for f in "${files[@]}"; do
		name="$(basename "$f" .spec)"
		status=fail
		ps_regress_passed "$tmp/pg_isolation_regress.log" "$name" && status=ok
		if [ -f "$tmp/out/results/$name.out" ]; then
			perms="$(grep -c '^starting permutation:' "$tmp/out/results/$name.out" || true)"
			detail="$perms permutations"
			if [ -f "$tmp/missing/$name" ]; then
				detail="$detail, no expected output"
				status=fail
			fi
		else
			detail="no output"
		fi
		[ "$status" = ok ] || failed_here=$((failed_here + 1))
		ps_result "isolation/$name" "$status" "$detail"
	done

	ps_regress_explain isolation "$tmp" "$out" "$failed_here" 300 "$tmp/pg_isolation_regress.log"
}
