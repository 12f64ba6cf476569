# shellcheck shell=bash
# scripts/lib/regress.sh: what the sql and isolation suites share: running
# pg_regress or pg_isolation_regress from the staged installation in a
# temporary instance of its own (provsecret preloaded in deployed mode, the
# test root key in its environment, unix socket only), and showing why a
# run failed.  Needs common.sh, stage.sh, report.sh.

# ps_regress_run RUNNER TMP DBNAME TIMEOUT OUT: run RUNNER on TMP/in with
# the schedule TMP/schedule; results go to TMP/out and the runner's log to
# TMP/<runner>.log, both copied to OUT.  Sets PS_REGRESS_RC.
ps_regress_run()
{
	local runner="$1" tmp="$2" dbname="$3" timeout="$4" out="$5" log
	log="$tmp/$(basename "$runner").log"
	cat >"$tmp/regress.conf" <<CONF
shared_preload_libraries = 'provsecret'
provsecret.mode = 'deployed'
provsecret.database = '$dbname'
provsecret.rest_listen_addresses = ''
provsecret.outbound_allowed_hosts = '127.0.0.1,localhost'
log_min_messages = warning
CONF
	chown -R postgres:postgres "$tmp"

	PS_REGRESS_RC=0
	ps_as_postgres env \
		CLOUDGRID_PROVIDER_SECRET_ENCRYPTION_KEY="$PS_TEST_ROOT_KEY" \
		PS_TEST_ENV_CANARY="env-canary-value" \
		PS_TEST_ENV_UNLISTED="env-unlisted-canary" \
		PATH="$PS_STAGE_PGBIN:$PATH" \
		timeout "$timeout" "$runner" \
		--temp-instance="$tmp/instance" \
		--temp-config="$tmp/regress.conf" \
		--bindir="$PS_STAGE_PGBIN" \
		--inputdir="$tmp/in" --outputdir="$tmp/out" \
		--dbname="$dbname" \
		--encoding=UTF8 --no-locale \
		--schedule="$tmp/schedule" \
		</dev/null >"$log" 2>&1 || PS_REGRESS_RC=$?
	# A runner killed by the timeout leaves its instance running.
	ps_stop_clusters_under "$tmp"

	rm -rf "$out"
	mkdir -p "$out"
	cp -r "$tmp/out/." "$out/" 2>/dev/null || true
	cp "$log" "$out/"
}

# ps_regress_passed LOG NAME: the runner's log says NAME passed ("test NAME
# ... ok" or, in a parallel group, "     NAME ... ok").
ps_regress_passed()
{
	grep -Eq "^(test| )+$2 +\.\.\. ok" "$1"
}

# ps_regress_explain SUITE TMP OUT FAILED_HERE DIFF_LINES LOG: after a run
# that exited non-zero, show the diffs or the logs; a crash or an aborted
# run fails the suite even if every file matched.
ps_regress_explain()
{
	local suite="$1" tmp="$2" out="$3" failed_here="$4" lines="$5" log="$6"
	[ "$PS_REGRESS_RC" -ne 0 ] || return 0
	if [ -s "$tmp/out/regression.diffs" ]; then
		echo "--- regression.diffs (also in $out) ---"
		ps_show "$tmp/out/regression.diffs" "$lines"
	else
		echo "--- $(basename "$log" .log) exited with $PS_REGRESS_RC ---"
		ps_show "$log" 60
		ps_show "$tmp/out/log/postmaster.log" 40
	fi
	if [ "$failed_here" -eq 0 ]; then
		ps_result "$suite/$(basename "$log" .log)" fail "exit status $PS_REGRESS_RC"
	fi
}
