# shellcheck shell=bash
# scripts/lib/suite-isolation.sh: concurrency specs, test/isolation/specs/*.spec.
#
# pg_isolation_regress (isolationtester) from the staged installation, with
# its own temporary instance configured as the sql suite's (provsecret
# preloaded in deployed mode, the test root key in its environment, unix
# socket only).  Expected output: test/isolation/expected/NAME.out (specs
# print digests and booleans, never a value).  Results are kept in
# .build/test-output/isolation.  Needs common.sh, stage.sh, report.sh.

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
	# the sql suite's settings (suite-sql.sh)
	cat >"$tmp/isolation.conf" <<CONF
shared_preload_libraries = 'provsecret'
provsecret.mode = 'deployed'
provsecret.database = 'provsecret_isolation'
provsecret.rest_listen_addresses = ''
log_min_messages = warning
CONF
	chown -R postgres:postgres "$tmp"

	local rc=0
	ps_as_postgres env \
		CLOUDGRID_PROVIDER_SECRET_ENCRYPTION_KEY="$PS_TEST_ROOT_KEY" \
		PATH="$PS_STAGE_PGBIN:$PATH" \
		timeout "${PROVSECRET_ISOLATION_TIMEOUT:-900}" "$runner" \
		--temp-instance="$tmp/instance" \
		--temp-config="$tmp/isolation.conf" \
		--bindir="$PS_STAGE_PGBIN" \
		--inputdir="$tmp/in" --outputdir="$tmp/out" \
		--dbname=provsecret_isolation \
		--encoding=UTF8 --no-locale \
		--schedule="$tmp/schedule" \
		</dev/null >"$tmp/pg_isolation_regress.log" 2>&1 || rc=$?
	# a runner killed by the timeout leaves its instance running
	ps_stop_clusters_under "$tmp"

	rm -rf "$out"
	mkdir -p "$out"
	cp -r "$tmp/out/." "$out/" 2>/dev/null || true
	cp "$tmp/pg_isolation_regress.log" "$out/"

	local status detail failed_here=0 perms
	for f in "${files[@]}"; do
		name="$(basename "$f" .spec)"
		status=fail
		if grep -Eq "^(test| )+$name +\.\.\. ok" "$tmp/pg_isolation_regress.log"; then
			status=ok
		fi
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

	if [ "$rc" -ne 0 ]; then
		if [ -s "$tmp/out/regression.diffs" ]; then
			echo "--- regression.diffs (also in $out) ---"
			ps_show "$tmp/out/regression.diffs" 300
		else
			echo "--- pg_isolation_regress exited with $rc ---"
			ps_show "$tmp/pg_isolation_regress.log" 60
			ps_show "$tmp/out/log/postmaster.log" 40
		fi
		if [ "$failed_here" -eq 0 ]; then
			ps_result "isolation/pg_isolation_regress" fail "exit status $rc"
		fi
	fi
}
