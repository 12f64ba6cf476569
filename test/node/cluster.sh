# cluster.sh: a throwaway PostgreSQL cluster with the staged provsecret.
# Sourced by run.sh.  Everything lives in $PS_TMP, removed by cluster_stop.
#
#   PS_PGBIN    bin directory of the staged build (default: the worktree's
#               .build/root, made by `make install DESTDIR=$PWD/.build/root`)
#   PS_PGPORT   cluster port (default 55460); PS_REST_PORT (default 18760)

PS_ROOT=${PS_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
PS_PGBIN=${PS_PGBIN:-$PS_ROOT/.build/root/usr/lib/postgresql/15/bin}
PS_PGPORT=${PS_PGPORT:-55460}
PS_REST_PORT=${PS_REST_PORT:-18760}

as_postgres() {
	if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# cluster_init; [append to $PS_PGDATA/postgresql.conf]; cluster_run
cluster_start() {
	cluster_init && cluster_run
}

cluster_init() {
	PS_TMP=$(mktemp -d /tmp/provsecret-rest.XXXXXX)
	chmod 755 "$PS_TMP"
	[ "$(id -u)" = 0 ] && chown postgres "$PS_TMP"
	export PS_TMP PS_PGDATA=$PS_TMP/data
	as_postgres "$PS_PGBIN/initdb" -D "$PS_PGDATA" -A trust -U postgres >"$PS_TMP/initdb.log" 2>&1 || {
		cat "$PS_TMP/initdb.log"; return 1; }
	cat >>"$PS_PGDATA/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PS_PGPORT
unix_socket_directories = '$PS_TMP'
shared_preload_libraries = 'provsecret'
provsecret.rest_port = $PS_REST_PORT
provsecret.mode = 'local'
log_line_prefix = '%m [%p] %b '
${PS_EXTRA_CONF:-}
CONF
}

cluster_run() {
	# a test root key: a value of our own, never a real one
	export CLOUDGRID_PROVIDER_SECRET_ENCRYPTION_KEY=${CLOUDGRID_PROVIDER_SECRET_ENCRYPTION_KEY:-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef}
	as_postgres env CLOUDGRID_PROVIDER_SECRET_ENCRYPTION_KEY="$CLOUDGRID_PROVIDER_SECRET_ENCRYPTION_KEY" \
		"$PS_PGBIN/pg_ctl" -D "$PS_PGDATA" -l "$PS_TMP/server.log" -w start >/dev/null || {
		cat "$PS_TMP/server.log"; return 1; }
}

cluster_psql() {
	as_postgres "$PS_PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PS_TMP" -p "$PS_PGPORT" -U postgres -d postgres "$@"
}

cluster_stop() {
	if [ -n "${PS_TMP:-}" ] && [ -d "$PS_TMP" ]; then
		as_postgres "$PS_PGBIN/pg_ctl" -D "$PS_TMP/data" -m immediate stop >/dev/null 2>&1 || true
		rm -rf "$PS_TMP"
	fi
}
