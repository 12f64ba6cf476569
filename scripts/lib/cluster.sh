# shellcheck shell=bash
# scripts/lib/cluster.sh: a throwaway PostgreSQL cluster owned by postgres.
#
#   ps_cluster_init DIR PORT BINDIR [AUTH] -- initdb DIR/data; AUTH is
#       "trust" (tests: unix socket only, in DIR, mode 0700) or "peer"
#       (quickstart: peer on the socket, scram on 127.0.0.1)
#   ps_cluster_conf 'name = value' ...    -- append settings
#   ps_cluster_start [keep]               -- start; stopped at script exit
#                                            unless "keep"
#   ps_cluster_stop                       -- fast shutdown if running
#   ps_psql [psql args]                   -- psql as postgres to the cluster
#
# The cluster never listens beyond loopback and never uses the system's
# 15/main cluster or its port.  Needs common.sh.  Environment variables set
# by the caller (the root key) reach the postmaster through ps_as_postgres.

PS_CLUSTER_DIR=""
PS_CLUSTER_PORT=""
PS_CLUSTER_BIN=""

ps_cluster_init()
{
	local dir="$1" port="$2" bindir="$3" auth="${4:-trust}"
	PS_CLUSTER_DIR="$dir"
	PS_CLUSTER_PORT="$port"
	PS_CLUSTER_BIN="$bindir"
	local authargs=(--auth=trust) listen=""
	if [ "$auth" = peer ]; then
		authargs=(--auth-local=peer --auth-host=scram-sha-256)
		listen=127.0.0.1
	fi
	chown postgres:postgres "$dir"
	chmod 700 "$dir"
	if ! ps_as_postgres "$bindir/initdb" -D "$dir/data" -U postgres \
		"${authargs[@]}" -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1; then
		cat "$dir/initdb.log" >&2
		ps_die "initdb failed"
	fi
	ps_cluster_conf \
		"port = $port" \
		"listen_addresses = '$listen'" \
		"unix_socket_directories = '$dir'" \
		"unix_socket_permissions = 0700" \
		"logging_collector = off"
}

ps_cluster_conf()
{
	local line
	for line in "$@"; do
		printf '%s\n' "$line" >>"$PS_CLUSTER_DIR/data/postgresql.conf"
	done
}

ps_cluster_start()
{
	if [ "${1:-}" != keep ]; then
		ps_on_exit "ps_cluster_stop"
	fi
	if ! ps_as_postgres "$PS_CLUSTER_BIN/pg_ctl" -D "$PS_CLUSTER_DIR/data" \
		-l "$PS_CLUSTER_DIR/server.log" -w -t 60 start >/dev/null; then
		tail -n 40 "$PS_CLUSTER_DIR/server.log" >&2 || true
		ps_die "the cluster in $PS_CLUSTER_DIR did not start"
	fi
}

ps_cluster_stop()
{
	[ -n "$PS_CLUSTER_DIR" ] && [ -f "$PS_CLUSTER_DIR/data/postmaster.pid" ] ||
		return 0
	ps_as_postgres "$PS_CLUSTER_BIN/pg_ctl" -D "$PS_CLUSTER_DIR/data" \
		-m fast -w -t 60 stop >/dev/null 2>&1 ||
		ps_as_postgres "$PS_CLUSTER_BIN/pg_ctl" -D "$PS_CLUSTER_DIR/data" \
			-m immediate -w stop >/dev/null 2>&1 || true
}

ps_psql()
{
	ps_as_postgres "$PS_CLUSTER_BIN/psql" -X -h "$PS_CLUSTER_DIR" \
		-p "$PS_CLUSTER_PORT" -U postgres -v ON_ERROR_STOP=1 "$@"
}
