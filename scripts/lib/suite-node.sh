# scripts/lib/suite-node.sh: node client tests in test/node/ (one program).
#
# When test/node/package.json exists: npm ci (npm install without a lock
# file), then the tests run with `node --test --test-reporter=tap`.  If
# test/node/run.sh exists it is called as
#     bash run.sh node --test --test-reporter=tap
# and must start what the tests need (e.g. a cluster with the REST worker,
# using scripts/lib/*.sh), run its arguments, stop everything and exit with
# their status.  Exported for it: PS_ROOT, PS_STAGE, PS_STAGE_PGBIN,
# PS_TEST_ROOT_KEY.  Needs common.sh, stage.sh, report.sh.

ps_suite_node()
{
	local dir="$PS_ROOT/test/node"
	[ -f "$dir/package.json" ] || return 0
	ps_selected "$dir/node.js" || return 0

	local out="$PS_BUILD/test-output/node"
	rm -rf "$out"
	mkdir -p "$out"

	local install=(npm install --no-audit --no-fund)
	[ -f "$dir/package-lock.json" ] && install=(npm ci --no-audit --no-fund)
	if ! (cd "$dir" && "${install[@]}" </dev/null >"$out/npm.log" 2>&1); then
		ps_result "node" fail "${install[*]} failed"
		ps_show "$out/npm.log" 40
		return 0
	fi

	local cmd=(node --test --test-reporter=tap) rc=0
	[ -f "$dir/run.sh" ] && cmd=(bash "$dir/run.sh" "${cmd[@]}")
	(cd "$dir" && export PS_ROOT PS_STAGE PS_STAGE_PGBIN PS_TEST_ROOT_KEY &&
		timeout 900 "${cmd[@]}" </dev/null >"$out/node.log" 2>&1) || rc=$?

	local pass fail
	pass="$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$out/node.log" | tail -n 1)"
	fail="$(sed -n 's/^# fail \([0-9]*\)$/\1/p' "$out/node.log" | tail -n 1)"
	if [ "$rc" -eq 0 ] && [ "${fail:-0}" -eq 0 ] && [ -n "$pass" ]; then
		ps_result "node" ok "${pass} ok, 0 not ok"
	else
		ps_result "node" fail "${pass:-0} ok, ${fail:-?} not ok, exit $rc"
		ps_show "$out/node.log" 150
	fi
}
