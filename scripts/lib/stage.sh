# shellcheck shell=bash
# scripts/lib/stage.sh: build provsecret and stage it with a private copy of
# PostgreSQL, so tests never touch the system installation.
#
# .build/root mirrors / : a copy of /usr/lib/postgresql/15 and
# /usr/share/postgresql/15 (made once, refreshed when the system package
# changes), then `make install DESTDIR=.build/root`.  PostgreSQL is
# relocatable: the staged postgres loads the staged provsecret.so and finds
# the staged extension scripts.  Needs common.sh.

PS_STAGE="$PS_BUILD/root"
PS_STAGE_PGBIN="$PS_STAGE$PS_SYS_PGBIN"

# Compile with warnings as errors.  Output goes to .build/make.log; on
# failure its tail is shown.  Debian's PGXS tracks no header dependencies,
# so a change to a header or the Makefile rebuilds everything.
ps_build()
{
	local want have=""
	mkdir -p "$PS_BUILD"
	want="$(cat "$PS_ROOT"/Makefile "$PS_ROOT"/src/*/*.h | sha256sum)"
	[ -f "$PS_BUILD/build.stamp" ] && have="$(cat "$PS_BUILD/build.stamp")"
	if [ "$want" != "$have" ]; then
		make -C "$PS_ROOT" PG_CONFIG="$PS_PG_CONFIG" clean >/dev/null 2>&1 || true
	fi
	if ! make -C "$PS_ROOT" -j"$(nproc)" PG_CONFIG="$PS_PG_CONFIG" \
		COPT=-Werror >"$PS_BUILD/make.log" 2>&1; then
		tail -n 60 "$PS_BUILD/make.log" >&2
		ps_die "build failed (full log: $PS_BUILD/make.log)"
	fi
	printf '%s\n' "$want" >"$PS_BUILD/build.stamp"
}

ps_stage()
{
	local want have=""
	want="$("$PS_PG_CONFIG" --version) $(stat -c %Y "$PS_SYS_PGBIN/postgres")"
	[ -f "$PS_BUILD/root.stamp" ] && have="$(cat "$PS_BUILD/root.stamp")"
	if [ "$want" != "$have" ] || [ ! -x "$PS_STAGE_PGBIN/postgres" ]; then
		rm -rf "$PS_STAGE" "$PS_BUILD/root.stamp"
		mkdir -p "$PS_STAGE$(dirname "$PS_SYS_PGLIB")" \
			"$PS_STAGE$(dirname "$PS_SYS_PGSHARE")"
		cp -a "$PS_SYS_PGLIB" "$PS_STAGE$(dirname "$PS_SYS_PGLIB")/"
		cp -a "$PS_SYS_PGSHARE" "$PS_STAGE$(dirname "$PS_SYS_PGSHARE")/"
		printf '%s\n' "$want" >"$PS_BUILD/root.stamp"
	fi
	# Citus, when the system PostgreSQL has it (not in Debian's archive:
	# scripts/build-citus), for the optional test 150; copied each time, so
	# one installed after the copy above is found too.
	local citus
	for citus in "$PS_SYS_PGLIB"/lib/citus*; do
		[ -e "$citus" ] && cp -a "$citus" "$PS_STAGE$PS_SYS_PGLIB/lib/"
	done
	for citus in "$PS_SYS_PGSHARE"/extension/citus*; do
		[ -e "$citus" ] && cp -a "$citus" "$PS_STAGE$PS_SYS_PGSHARE/extension/"
	done
	# Files of an earlier build must not linger (a removed upgrade script).
	rm -f "$PS_STAGE$PS_SYS_PGSHARE"/extension/provsecret[.-]* \
		"$PS_STAGE$PS_SYS_PGLIB"/lib/provsecret.so
	if ! make -C "$PS_ROOT" PG_CONFIG="$PS_PG_CONFIG" install \
		DESTDIR="$PS_STAGE" >"$PS_BUILD/install.log" 2>&1; then
		tail -n 30 "$PS_BUILD/install.log" >&2
		ps_die "staged install failed (full log: $PS_BUILD/install.log)"
	fi
}

# The postgres user must read the staged tree (call after ps_stage, in the
# main shell: it may register an exit hook).  A clone under /root (mode
# 700) is not traversable by postgres: then run from a temporary copy.
ps_stage_make_readable()
{
	if ps_as_postgres test -x "$PS_STAGE_PGBIN/postgres"; then
		return 0
	fi
	local copy
	ps_postgres_tmpdir copy stage
	chmod 755 "$copy"
	cp -a "$PS_STAGE/." "$copy/"
	PS_STAGE="$copy"
	PS_STAGE_PGBIN="$PS_STAGE$PS_SYS_PGBIN"
	ps_as_postgres test -x "$PS_STAGE_PGBIN/postgres" ||
		ps_die "postgres cannot read the staged installation $PS_STAGE"
}

# Stop every postmaster whose data directory lies under $1 (what a killed
# test or pg_regress left running).
ps_stop_clusters_under()
{
	local pidfile
	while IFS= read -r pidfile; do
		ps_as_postgres "$PS_STAGE_PGBIN/pg_ctl" -D "$(dirname "$pidfile")" \
			-m immediate -w stop >/dev/null 2>&1 || true
	done < <(find "$1" -name postmaster.pid 2>/dev/null)
}
