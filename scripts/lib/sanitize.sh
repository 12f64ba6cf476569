# shellcheck shell=bash
# shellcheck disable=SC2034 # the variables are used by the files that source this one
# scripts/lib/sanitize.sh: the AddressSanitizer/UBSan mode of scripts/test
# (`./scripts/test --sanitize ...` or PROVSECRET_SANITIZE=1).
#
# provsecret.so is built with gcc -fsanitize=address,undefined in its own
# copy of the sources, .build/asan-src (the normal in-tree build and
# .build/root are never touched), and staged into .build/asan-root, a second
# private copy of PostgreSQL.  The system postgres binary is not
# instrumented, so the ASan runtime must be in the process before it starts:
# in the staged copy, bin/postgres becomes a small wrapper that preloads
# gcc's libasan (LD_PRELOAD) with ASAN_OPTIONS/UBSAN_OPTIONS and execs the
# real binary (bin/postgres.bin) under its own name.  Every server the
# suites start (pg_regress --temp-instance, pg_isolation_regress,
# PostgreSQL::Test::Cluster, test/node/cluster.sh, initdb's bootstrap) runs
# that binary, so all of them are covered without threading the
# environment through each harness, and nothing else (psql, perl, node)
# runs with the runtime preloaded.
#
# ASan reports go to one file per process (log_path) in a directory the
# postgres user writes, collected into .build/test-output/asan; UBSan's go
# to the server log.  Any report fails the run and is shown
# (ps_sanitize_check).  Options:
#   ASAN_OPTIONS   detect_leaks=0 (postgres frees by exiting),
#                  abort_on_error=1, disable_coredump=1, a small quarantine
#                  (every backend keeps its own), log_path
#   UBSAN_OPTIONS  print_stacktrace=1, halt_on_error=1, abort_on_error=1
#                  (its reports go to the server log: ps_sanitize_check)
# ASAN_OPTIONS/UBSAN_OPTIONS set by the caller are appended (later options
# win).  Needs common.sh, stage.sh, report.sh.

PS_SANITIZE="${PROVSECRET_SANITIZE:-0}"
PS_SAN_SRC="$PS_BUILD/asan-src"
PS_SAN_FLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer"
PS_SAN_LOGDIR=""

# gcc's ASan runtime, which the postmaster preloads.
ps_sanitize_runtime()
{
	local lib
	lib="$(gcc -print-file-name=libasan.so)"
	case "$lib" in
		/*) [ -e "$lib" ] && { printf '%s\n' "$lib"; return 0; } ;;
	esac
	ps_die "gcc has no libasan.so (apt-get install libasan8 or gcc)"
}

# Mirror the files the build reads into .build/asan-src, keeping the times
# of unchanged files so make rebuilds only what changed.
ps_sanitize_sync()
{
	local f rel
	mkdir -p "$PS_SAN_SRC/docs"
	cp -a -u "$PS_ROOT/Makefile" "$PS_ROOT/provsecret.control" \
		"$PS_ROOT/sql" "$PS_SAN_SRC/"
	# sources only: objects of the normal in-tree build must not be taken
	# for sanitized ones (tar keeps the times, so make rebuilds what changed)
	tar -C "$PS_ROOT" --exclude='*.o' --exclude='*.bc' -cf - src |
		tar -C "$PS_SAN_SRC" -xf -
	cp -a -u "$PS_ROOT/docs/openapi.json" "$PS_SAN_SRC/docs/"
	# A file removed from the sources (and its object) must not linger.
	while IFS= read -r f; do
		rel="${f#"$PS_SAN_SRC"/}"
		case "$rel" in
			src/*.o | src/*.bc) [ -e "$PS_ROOT/${rel%.*}.c" ] || rm -f "$f" ;;
			*) [ -e "$PS_ROOT/$rel" ] || rm -f "$f" ;;
		esac
	done < <(find "$PS_SAN_SRC/src" "$PS_SAN_SRC/sql" -type f)
}

# Like ps_build, in .build/asan-src with the sanitizers on.  -Wclobbered
# is off here only: with the sanitizers gcc keeps variables in other
# registers and reports variables set before PG_TRY and never changed in
# it (which setjmp keeps) and PG_TRY's own _do_rethrow; the normal -Werror
# build still checks it.
ps_sanitize_build()
{
	local want have="" log="$PS_BUILD/make.log"
	mkdir -p "$PS_BUILD"
	ps_sanitize_runtime >/dev/null
	ps_sanitize_sync
	want="$(cat "$PS_ROOT"/Makefile "$PS_ROOT"/src/*/*.h | sha256sum) $PS_SAN_FLAGS"
	[ -f "$PS_BUILD/asan-build.stamp" ] && have="$(cat "$PS_BUILD/asan-build.stamp")"
	if [ "$want" != "$have" ]; then
		make -C "$PS_SAN_SRC" PG_CONFIG="$PS_PG_CONFIG" clean >/dev/null 2>&1 || true
	fi
	if ! make -C "$PS_SAN_SRC" -j"$(nproc)" PG_CONFIG="$PS_PG_CONFIG" CC=gcc \
		COPT="-Werror -Wno-clobbered $PS_SAN_FLAGS" >"$log" 2>&1; then
		tail -n 60 "$log" >&2
		ps_die "sanitizer build failed (full log: $log)"
	fi
	printf '%s\n' "$want" >"$PS_BUILD/asan-build.stamp"
	ps_sanitize_stub
}

# The runtime starts lazily, inside the first malloc of another library's
# constructor: p11-kit's (linked in through libldap and gnutls) calls
# newlocale(), which holds glibc's locale lock while it allocates.  ASan's
# start-up then looks up swift_demangle with dlsym(); the failed lookup's
# dlerror() translates its message, takes and releases that same lock, and
# postgres later hangs for ever in bindtextdomain().  A preloaded library
# that defines swift_demangle (answering "not a Swift name") makes the
# lookup succeed, so nothing touches the lock.
ps_sanitize_stub()
{
	local dir="$PS_BUILD/asan-src"
	cat >"$dir/swift_demangle_stub.c" <<'STUB'
#include <stddef.h>
#include <stdint.h>
char	   *swift_demangle(const char *name, size_t len, char *out,
						   size_t *out_len, uint32_t flags);
char *
swift_demangle(const char *name, size_t len, char *out, size_t *out_len,
			   uint32_t flags)
{
	return NULL;
}
STUB
	gcc -shared -fPIC -O2 -Wall -Werror -o "$dir/swift_demangle_stub.so" \
		"$dir/swift_demangle_stub.c" >>"$PS_BUILD/make.log" 2>&1 ||
		ps_die "could not build $dir/swift_demangle_stub.so"
}

# Switch this run to the sanitizer build (main shell, before building):
# ps_build and ps_stage become the functions below, and the suites use the
# staged copy in .build/asan-root.
ps_sanitize_enable()
{
	PS_STAGE="$PS_BUILD/asan-root"
	PS_STAGE_PGBIN="$PS_STAGE$PS_SYS_PGBIN"
	# shellcheck disable=SC2317 # called by scripts/test
	ps_build() { ps_sanitize_build; }
	# shellcheck disable=SC2317
	ps_stage() { ps_sanitize_stage; }
}

# Like ps_stage, into .build/asan-root.
ps_sanitize_stage()
{
	local want have=""
	want="$("$PS_PG_CONFIG" --version) $(stat -c %Y "$PS_SYS_PGBIN/postgres")"
	[ -f "$PS_BUILD/asan-root.stamp" ] && have="$(cat "$PS_BUILD/asan-root.stamp")"
	if [ "$want" != "$have" ] || [ ! -x "$PS_STAGE_PGBIN/postgres.bin" ]; then
		rm -rf "$PS_STAGE" "$PS_BUILD/asan-root.stamp"
		mkdir -p "$PS_STAGE$(dirname "$PS_SYS_PGLIB")" \
			"$PS_STAGE$(dirname "$PS_SYS_PGSHARE")"
		cp -a "$PS_SYS_PGLIB" "$PS_STAGE$(dirname "$PS_SYS_PGLIB")/"
		cp -a "$PS_SYS_PGSHARE" "$PS_STAGE$(dirname "$PS_SYS_PGSHARE")/"
		mv "$PS_STAGE_PGBIN/postgres" "$PS_STAGE_PGBIN/postgres.bin"
		printf '%s\n' "$want" >"$PS_BUILD/asan-root.stamp"
	fi
	rm -f "$PS_STAGE$PS_SYS_PGSHARE"/extension/provsecret[.-]* \
		"$PS_STAGE$PS_SYS_PGLIB"/lib/provsecret.so
	if ! make -C "$PS_SAN_SRC" PG_CONFIG="$PS_PG_CONFIG" install \
		DESTDIR="$PS_STAGE" >"$PS_BUILD/install.log" 2>&1; then
		tail -n 30 "$PS_BUILD/install.log" >&2
		ps_die "staged install failed (full log: $PS_BUILD/install.log)"
	fi
	install -m 644 "$PS_SAN_SRC/swift_demangle_stub.so" "$PS_STAGE$PS_SYS_PGLIB/lib/"
	ps_sanitize_wrapper "$PS_BUILD/test-output/asan"
}

# ps_sanitize_wrapper LOGDIR: bin/postgres of the staged copy, a wrapper
# that preloads the runtime and execs postgres.bin under its own name.
ps_sanitize_wrapper()
{
	local runtime asan ubsan
	runtime="$(ps_sanitize_runtime)"
	asan="detect_leaks=0:abort_on_error=1:disable_coredump=1"
	asan="$asan:quarantine_size_mb=32:log_path=$1/asan"
	ubsan="print_stacktrace=1:halt_on_error=1:abort_on_error=1:log_path=$1/ubsan"
	[ ! -f "$PS_ROOT/scripts/lib/ubsan.supp" ] ||
		ubsan="$ubsan:suppressions=$PS_ROOT/scripts/lib/ubsan.supp"
	cat >"$PS_STAGE_PGBIN/postgres" <<WRAP
#!/bin/bash
# scripts/lib/sanitize.sh: the real postgres (postgres.bin) with the ASan
# runtime preloaded, so the instrumented provsecret.so can be loaded.
export LD_PRELOAD="$runtime:\${0%/bin/*}/lib/swift_demangle_stub.so\${LD_PRELOAD:+:\$LD_PRELOAD}"
export ASAN_OPTIONS="$asan\${ASAN_OPTIONS:+:\$ASAN_OPTIONS}"
export UBSAN_OPTIONS="$ubsan\${UBSAN_OPTIONS:+:\$UBSAN_OPTIONS}"
exec -a "\$0" "\${0%/*}/postgres.bin" "\$@"
WRAP
	chmod 755 "$PS_STAGE_PGBIN/postgres"
}

# After ps_stage_make_readable (main shell): an empty report directory the
# postgres user writes (under .build/test-output/asan, or a temporary one
# when postgres cannot reach the worktree), named in the wrapper.
ps_sanitize_wrap()
{
	rm -rf "$PS_BUILD/test-output/asan"
	mkdir -p "$PS_BUILD/test-output/asan"
	chown postgres:postgres "$PS_BUILD/test-output/asan"
	PS_SAN_LOGDIR="$PS_BUILD/test-output/asan"
	if ! ps_as_postgres test -w "$PS_SAN_LOGDIR"; then
		ps_postgres_tmpdir PS_SAN_LOGDIR asan
	fi
	ps_sanitize_wrapper "$PS_SAN_LOGDIR"
}

# After the suites: one result line; every report fails it and is shown.
# ASan reports are files in the report directory.  UBSan's are not: its
# runtime sets its report path through __sanitizer_set_report_path, which
# resolves to ASan's copy (preloaded first), so UBSan writes to stderr,
# that is the server log, and aborts (abort_on_error: the postmaster
# restarts and the test fails).  So the server logs the suites keep
# (pg_regress's, the TAP clusters', the node log, which shows the server
# log's tail when a test fails) are searched for reports too.
ps_sanitize_check()
{
	local reports=() logs=() f out="$PS_BUILD/test-output"
	local pattern='runtime error: |ERROR: AddressSanitizer|SUMMARY: (AddressSanitizer|UndefinedBehaviorSanitizer)'
	[ -n "$PS_SAN_LOGDIR" ] || return 0
	while IFS= read -r f; do
		reports+=("$f")
	done < <(find "$PS_SAN_LOGDIR" -maxdepth 1 -type f -size +0 | sort)
	if [ "$PS_SAN_LOGDIR" != "$out/asan" ] && [ ${#reports[@]} -gt 0 ]; then
		cp "${reports[@]}" "$out/asan/"
	fi
	while IFS= read -r f; do
		logs+=("$f")
	done < <(find "$out" -path "$out/asan" -prune -o -type f \( -name '*.log' -o -name '*.diffs' \) -print0 |
		xargs -0 -r grep -E -l -- "$pattern" | sort)
	if [ ${#reports[@]} -eq 0 ] && [ ${#logs[@]} -eq 0 ]; then
		ps_result "sanitize" ok "no ASan/UBSan report"
		return 0
	fi
	ps_result "sanitize" fail "${#reports[@]} report file(s) in $out/asan, ${#logs[@]} log(s) with reports"
	for f in "${reports[@]}"; do
		echo "--- $(basename "$f") ---"
		ps_show "$f" 80
	done
	for f in "${logs[@]}"; do
		echo "--- sanitizer lines in ${f#"$out"/} ---"
		grep -E -A 12 -- "$pattern" "$f" | head -n 80 | sed 's/^/    /'
	done
}
