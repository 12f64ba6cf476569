#!/usr/bin/env bash
# Build the libFuzzer targets (clang-14, ASan + UBSan) and run them.
#
#   test/fuzz/run.sh [TARGET|all] [SECONDS] [libFuzzer option ...]
#   test/fuzz/run.sh build [TARGET|all]      build only
#   test/fuzz/run.sh merge [TARGET|all]      minimise into the seed corpus
#   test/fuzz/run.sh list                    the targets
#
# A target is test/fuzz/fuzz_TARGET.c; it names the pure sources it needs on
# a "Sources:" line and its libraries on a "Libs:" line, as the unit tests
# do.  Seeds: test/fuzz/corpus/TARGET/ (committed, read only here);
# dictionary: test/fuzz/TARGET.dict when present.  New inputs go to
# .build/fuzz/corpus/TARGET/, crashes to .build/fuzz/artifacts/TARGET/, the
# log to .build/fuzz/TARGET.log.  Exit status: non-zero when a target found
# a crash, a leak, undefined behaviour, a timeout or an out-of-memory input,
# or did not build; 2 when clang-14 with libFuzzer is not available.
# Default: all targets, 60 s each.  Extra options go to libFuzzer, e.g.
# -jobs=2 -workers=2 (parallel runs, each for SECONDS).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
fuzz="$root/test/fuzz"
out="$root/.build/fuzz"
CLANG="${CLANG:-clang-14}"

targets()
{
	local f
	for f in "$fuzz"/fuzz_*.c; do
		f="$(basename "$f" .c)"
		echo "${f#fuzz_}"
	done
}

# words NAME FILE: the words after "NAME:" on the file's comment lines
words()
{
	grep -i "^ \* $1:" "$2" | sed "s/.*$1://I" | tr '\n' ' ' || true
}

have_libfuzzer()
{
	command -v "$CLANG" >/dev/null 2>&1 || return 1
	mkdir -p "$out"
	printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return 0; }\n' \
		>"$out/probe.c"
	"$CLANG" -fsanitize=fuzzer,address,undefined -o "$out/probe" "$out/probe.c" \
		>/dev/null 2>&1
	local rc=$?
	rm -f "$out/probe" "$out/probe.c"
	return $rc
}

build()
{
	local t="$1" src="$fuzz/fuzz_$1.c" srcs=() s
	[ -f "$src" ] || { echo "no target $t (test/fuzz/fuzz_$t.c)" >&2; return 1; }
	for s in $(words Sources "$src"); do srcs+=("$root/$s"); done
	mkdir -p "$out"
	# shellcheck disable=SC2046 # the Libs: line is a word list
	"$CLANG" -g -O1 -fno-omit-frame-pointer \
		-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
		-Wall -Wextra -Werror -I"$root/src" -I"$fuzz" \
		-o "$out/fuzz_$t" "$src" "${srcs[@]}" $(words Libs "$src") \
		>"$out/$t.build.log" 2>&1 || { cat "$out/$t.build.log" >&2; return 1; }
}

options()
{
	local t="$1"
	echo -max_len=20000 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
	echo "-artifact_prefix=$out/artifacts/$t/"
	[ -f "$fuzz/$t.dict" ] && echo "-dict=$fuzz/$t.dict"
	return 0
}

run()
{
	local t="$1" secs="$2" rc=0
	shift 2
	build "$t" || return 1
	mkdir -p "$out/corpus/$t" "$out/artifacts/$t"
	# shellcheck disable=SC2046 # options() prints one option a line
	(cd "$out" && "$out/fuzz_$t" $(options "$t") -max_total_time="$secs" "$@" \
		"$out/corpus/$t" "$fuzz/corpus/$t") >"$out/$t.log" 2>&1 || rc=$?
	if [ "$rc" -ne 0 ]; then
		echo "fuzz_$t: FAILED (exit $rc); input in $out/artifacts/$t/, log $out/$t.log"
		{ grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error|.*Test unit written)' \
			"$out/$t.log" || tail -n 3 "$out/$t.log"; } | head -n 8 | sed 's/^/    /'
		return 1
	fi
	echo "fuzz_$t: ok, $(summary "$out/$t.log")"
}

# "N runs, cov C, corpus F" from a libFuzzer log
summary()
{
	local runs cov files
	runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$1" | tail -n 1)"
	cov="$(grep -o 'cov: [0-9]*' "$1" | tail -n 1 | cut -d' ' -f2)"
	files="$(grep -o 'corp: [0-9]*' "$1" | tail -n 1 | cut -d' ' -f2)"
	echo "${runs:-?} runs, cov ${cov:-?}, corpus ${files:-?}"
}

# Minimise the seeds and what runs found into test/fuzz/corpus/TARGET.
merge()
{
	local t="$1" tmp
	build "$t" || return 1
	tmp="$out/merge/$t"
	rm -rf "$tmp"
	mkdir -p "$tmp" "$out/corpus/$t"
	# shellcheck disable=SC2046
	(cd "$out" && "$out/fuzz_$t" $(options "$t") -merge=1 "$tmp" \
		"$fuzz/corpus/$t" "$out/corpus/$t") >"$out/$t.merge.log" 2>&1 || {
		echo "fuzz_$t: merge failed, log $out/$t.merge.log"
		return 1
	}
	rm -rf "${fuzz:?}/corpus/$t"
	mv "$tmp" "$fuzz/corpus/$t"
	echo "fuzz_$t: corpus $(find "$fuzz/corpus/$t" -type f | wc -l) files"
}

each()
{
	local fn="$1" which="$2" rc=0 t
	shift 2
	if [ "$which" = all ]; then
		for t in $(targets); do "$fn" "$t" "$@" || rc=1; done
	else
		"$fn" "$which" "$@" || rc=1
	fi
	return $rc
}

case "${1:-all}" in
	list) targets; exit 0 ;;
	-h | --help) sed -n '2,/^[^#]/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
esac
if ! have_libfuzzer; then
	echo "clang-14 with libFuzzer is not available (Debian: clang-14 libclang-rt-14-dev)" >&2
	exit 2
fi
case "${1:-all}" in
	build) each build "${2:-all}" ;;
	merge) each merge "${2:-all}" ;;
	*)
		which="${1:-all}" secs="${2:-60}"
		shift $(($# < 2 ? $# : 2))
		each run "$which" "$secs" "$@"
		;;
esac
