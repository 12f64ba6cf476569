# shellcheck shell=bash
# shellcheck disable=SC2034 # the variables are used by the files that source this one
# scripts/lib/common.sh: paths, logging, cleanup and "run as postgres" for
# the provsecret scripts.  Source it; it defines functions and variables only.
#
# PostgreSQL refuses to run as root, so every server-side command goes
# through ps_as_postgres.  Cleanups registered with ps_on_exit run in reverse
# order when the script exits, whether it succeeded or not.

PS_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PS_PG_MAJOR=15
PS_SYS_PGLIB="/usr/lib/postgresql/$PS_PG_MAJOR"
PS_SYS_PGSHARE="/usr/share/postgresql/$PS_PG_MAJOR"
PS_SYS_PGBIN="$PS_SYS_PGLIB/bin"
PS_PG_CONFIG="$PS_SYS_PGBIN/pg_config"
PS_BUILD="$PS_ROOT/.build"

ps_log() { printf '%s\n' "$*" >&2; }
ps_die() { printf 'error: %s\n' "$*" >&2; exit 1; }

ps_require_root()
{
	[ "$(id -u)" -eq 0 ] || ps_die "run as root (PostgreSQL is run through 'runuser -u postgres')"
}

# Cleanup stack: ps_on_exit 'command ...' (evaluated at exit, newest first).
PS_EXIT_HOOKS=()
ps_on_exit() { PS_EXIT_HOOKS+=("$1"); }
ps_run_exit_hooks()
{
	local rc=$? i
	set +e
	for ((i = ${#PS_EXIT_HOOKS[@]} - 1; i >= 0; i--)); do
		eval "${PS_EXIT_HOOKS[$i]}"
	done
	PS_EXIT_HOOKS=()
	return $rc
}
trap ps_run_exit_hooks EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Run a command as postgres, keeping the caller's environment (runuser does),
# from a directory postgres can enter.
ps_as_postgres()
{
	(cd / && runuser -u postgres -- "$@")
}

# ps_postgres_tmpdir VAR [label]: a fresh directory owned by postgres, stored
# in VAR and removed at exit.  (Not via $(...): the exit hook must be
# registered in this shell, not in a subshell.)
ps_postgres_tmpdir()
{
	local dir
	dir="$(mktemp -d "${TMPDIR:-/tmp}/provsecret-${2:-tmp}.XXXXXX")"
	chown postgres:postgres "$dir"
	chmod 700 "$dir"
	ps_on_exit "rm -rf '$dir'"
	printf -v "$1" '%s' "$dir"
}

# Is TCP port $1 free on loopback?  (Nothing answers a connect.)
ps_port_free()
{
	! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# First free port in [$1, $2], or fail.
ps_free_port()
{
	local port
	for ((port = $1; port <= $2; port++)); do
		if ps_port_free "$port"; then
			printf '%s\n' "$port"
			return 0
		fi
	done
	ps_die "no free port in $1-$2"
}

# Root key for test clusters: fixed, obviously fake, never a real secret.
PS_TEST_ROOT_KEY="${PS_TEST_ROOT_KEY:-00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff}"
