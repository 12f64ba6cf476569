# shellcheck shell=bash
# scripts/lib/suite-unit.sh: pure C unit tests, test/unit/*.c.
#
# Each test is compiled with the pure sources (no postgres.h) it names on a
# comment line containing "sources:" (and libraries on one containing
# "libs:"), then run; it prints TAP:
#     /* Sources: src/core/reference.c src/token/jwks.c.  Prints TAP. */
#     /* Libs: -lsodium */
# Without such a line, test/unit/X_test.c or test_X.c is built with src/<layer>/X.c
# when that file exists.  Needs common.sh, report.sh.

# ps_unit_sources FILE / ps_unit_libs FILE: the words named on those lines.
ps_unit_sources()
{
	grep -i 'sources:' "$1" | sed 's/.*[Ss]ources://' |
		grep -o 'src/[A-Za-z0-9_./-]*\.c' | tr '\n' ' ' || true
}
ps_unit_libs()
{
	grep -i 'libs:' "$1" | sed 's/.*[Ll]ibs://' |
		grep -o -- '-l[A-Za-z0-9_+-]*' | tr '\n' ' ' || true
}

ps_suite_unit()
{
	local files=() f
	for f in "$PS_ROOT"/test/unit/*.c; do
		[ -e "$f" ] && ps_selected "$f" && files+=("$f")
	done
	[ ${#files[@]} -gt 0 ] || return 0

	local out="$PS_BUILD/test-output/unit"
	rm -rf "$out"
	mkdir -p "$out"

	# AddressSanitizer and UBSan catch overreads and undefined behaviour in
	# the parsers; used when the compiler can link them (gcc on Debian can).
	# shellcheck disable=SC2054 # commas inside one -fsanitize= option
	local sanitize=(-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
	echo 'int main(void) { return 0; }' >"$out/probe.c"
	cc "${sanitize[@]}" -o "$out/probe" "$out/probe.c" >/dev/null 2>&1 || sanitize=()
	rm -f "$out/probe" "$out/probe.c"

	local name sources libs base rc detail status src srcs
	for f in "${files[@]}"; do
		name="$(basename "$f" .c)"
		sources="$(ps_unit_sources "$f")"
		libs="$(ps_unit_libs "$f")"
		if [ -z "${sources// /}" ]; then
			base="${name#test_}"
			base="${base%_test}"
			src="$(cd "$PS_ROOT" && ls src/*/"$base.c" 2>/dev/null | head -n 1)"
			[ -n "$src" ] && sources="$src"
		fi
		srcs=()
		for src in $sources; do srcs+=("$PS_ROOT/$src"); done
		# shellcheck disable=SC2086 # libs is a word list by design
		if ! cc -std=gnu11 -O1 -g -Wall -Wextra -Werror "${sanitize[@]}" \
			-I"$PS_ROOT/src" -I"$PS_ROOT/test/unit" \
			-o "$out/$name" "$f" "${srcs[@]}" $libs \
			>"$out/$name.build.log" 2>&1; then
			ps_result "unit/$name" fail "does not compile"
			ps_show "$out/$name.build.log" 40
			continue
		fi
		rc=0
		(cd "$out" && timeout 120 "./$name" </dev/null >"$out/$name.log" 2>&1) ||
			rc=$?
		ps_tap_counts "$out/$name.log"
		detail="$PS_TAP_OK ok, $PS_TAP_NOTOK not ok"
		status=ok
		if [ "$rc" -ne 0 ] || [ "$PS_TAP_NOTOK" -ne 0 ]; then
			status=fail
			detail="$detail, exit $rc"
		elif [ "$PS_TAP_PLAN" -lt 0 ] ||
			[ $((PS_TAP_OK + PS_TAP_NOTOK)) -ne "$PS_TAP_PLAN" ]; then
			status=fail
			detail="$detail, plan ${PS_TAP_PLAN/#-1/missing}"
		fi
		ps_result "unit/$name" "$status" "$detail"
		[ "$status" = ok ] || ps_show "$out/$name.log" 80
	done
}
