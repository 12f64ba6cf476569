# shellcheck shell=bash
# scripts/lib/suite-node.sh: node client tests in test/node/ (one program).
#
# When test/node/package.json exists: npm ci (npm install without a lock
# file), then
#   - test/node/run.sh, when present, called with no arguments (or the
#     test files that words other than "node" select): it starts
#     what the tests need (a cluster with the REST worker), runs node --test,
#     stops everything and exits with the tests' status;
#   - otherwise `node --test --test-reporter=tap` in test/node.
# Exported for run.sh: PS_ROOT, PS_STAGE, PS_STAGE_PGBIN and PS_PGBIN (the
# staged bin directory), PS_TEST_ROOT_KEY, and free ports PS_PGPORT and
# PS_REST_PORT (unless set).  Pass/fail counts are read from
# the summary of the tap ("# pass N") or spec ("ℹ pass N") reporter.
# Needs common.sh, stage.sh, report.sh.

ps_suite_node()
{
	local dir="$PS_ROOT/test/node" files=() f
	[ -f "$dir/package.json" ] || return 0
	# Words other than "node" pick test files by name; 00_extension, which
	# installs the extension, always runs first.
	if ! ps_selected "$dir/node.js"; then
		for f in "$dir"/tests/*.test.mjs; do
			ps_selected "$f" && files+=("$f")
		done
		[ ${#files[@]} -gt 0 ] || return 0
		[ "${files[0]}" = "$dir/tests/00_extension.test.mjs" ] ||
			files=("$dir/tests/00_extension.test.mjs" "${files[@]}")
	fi

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
	[ -f "$dir/run.sh" ] && cmd=(bash "$dir/run.sh" "${files[@]}")
	[ -f "$dir/run.sh" ] || cmd+=("${files[@]}")
	# free ports, so a cluster left by another run cannot take the suite's
	local PS_PGPORT="${PS_PGPORT:-$(ps_free_port 55460 55560)}"
	local PS_REST_PORT="${PS_REST_PORT:-$(ps_free_port 18760 18860)}"
	(cd "$dir" && export PS_ROOT PS_STAGE PS_STAGE_PGBIN PS_TEST_ROOT_KEY \
		PS_PGPORT PS_REST_PORT &&
		export PS_PGBIN="$PS_STAGE_PGBIN" &&
		timeout 900 "${cmd[@]}" </dev/null >"$out/node.log" 2>&1) || rc=$?

	local pass fail
	pass="$(sed -n 's/^\(# \|ℹ \)pass \([0-9]*\)$/\2/p' "$out/node.log" | tail -n 1)"
	fail="$(sed -n 's/^\(# \|ℹ \)fail \([0-9]*\)$/\2/p' "$out/node.log" | tail -n 1)"
	if [ "$rc" -eq 0 ] && [ "${fail:-0}" -eq 0 ] && [ -n "$pass" ]; then
		ps_result "node" ok "${pass} ok, 0 not ok"
	else
		ps_result "node" fail "${pass:-0} ok, ${fail:-?} not ok, exit $rc"
		ps_show "$out/node.log" 150
	fi
}
