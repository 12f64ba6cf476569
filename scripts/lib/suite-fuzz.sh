# shellcheck shell=bash
# scripts/lib/suite-fuzz.sh: a short libFuzzer run of each target in
# test/fuzz/ (fuzz_TARGET.c), through test/fuzz/run.sh.
#
# Each target runs PS_FUZZ_SECONDS (default 10) over its committed seeds
# and what earlier runs found (.build/fuzz/corpus/); one line per target.
# A crash, sanitizer report, timeout or build failure fails the target and
# leaves the input in .build/fuzz/artifacts/TARGET/.  Without clang-14 and
# libFuzzer (Debian: clang-14 libclang-rt-14-dev, which install-deps adds
# where the archive has them) the suite says so and is skipped.  Words
# filter targets by name.  Needs common.sh, report.sh.

ps_suite_fuzz()
{
	local run="$PS_ROOT/test/fuzz/run.sh" targets=() t
	for t in $("$run" list); do
		ps_selected "fuzz_$t.c" && targets+=("$t")
	done
	[ ${#targets[@]} -gt 0 ] || return 0

	local out="$PS_BUILD/test-output/fuzz" rc
	rm -rf "$out"
	mkdir -p "$out"
	rc=0
	"$run" build "${targets[0]}" >"$out/probe.log" 2>&1 || rc=$?
	if [ "$rc" -eq 2 ]; then
		echo "skip  fuzz: clang-14 with libFuzzer is not installed (apt-get install clang-14 libclang-rt-14-dev)"
		return 0
	fi

	local line
	for t in "${targets[@]}"; do
		rc=0
		"$run" "$t" "${PS_FUZZ_SECONDS:-10}" >"$out/$t.log" 2>&1 || rc=$?
		line="$(grep "^fuzz_$t: " "$out/$t.log" | tail -n 1)"
		line="${line#fuzz_"$t": }"
		if [ "$rc" -eq 0 ]; then
			ps_result "fuzz/$t" ok "${line#ok, }"
		else
			ps_result "fuzz/$t" fail "${line:-exit $rc}"
			ps_show "$out/$t.log" 20
			[ -f "$PS_BUILD/fuzz/$t.log" ] && ps_show "$PS_BUILD/fuzz/$t.log" 60
		fi
	done
}
