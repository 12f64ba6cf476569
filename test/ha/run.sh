#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# test/ha/run.sh: provsecret under Patroni and etcd; prints TAP.
#
#   test/ha/run.sh [outdir]          (run by `./scripts/test ha`)
#
# Starts one etcd and three PostgreSQL nodes managed by Patroni, all on
# loopback on free ports, from the staged build (.build/root, Patroni's
# bin_dir), each node's postmaster with the same root key in its
# environment and synchronous replication on (synchronous_mode), then runs
# test/ha/ha.mjs against them: failover after SIGKILL of the leader's
# postmaster, a switchover, and reveals on a replica with and without a
# leader.  Everything started here is stopped at exit, also on failure or
# interrupt: each Patroni by SIGTERM (it stops its PostgreSQL), then any
# postmaster left by its postmaster.pid, then etcd.
#
# Needs root (Patroni and PostgreSQL run as postgres), patroni and etcd
# (scripts/lib/suite-ha.sh installs them), node with test/ha's npm packages.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../../scripts/lib/common.sh
. "$HERE/../../scripts/lib/common.sh"
ps_require_root
exec </dev/null

OUT="${1:-$PS_BUILD/test-output/ha}"
mkdir -p "$OUT"
PGBIN="${PS_STAGE_PGBIN:-$PS_BUILD/root$PS_SYS_PGBIN}"
[ -x "$PGBIN/postgres" ] || ps_die "no staged PostgreSQL in $PGBIN (run ./scripts/test once)"
for cmd in patroni patronictl etcd node; do
	command -v "$cmd" >/dev/null || ps_die "$cmd is not installed"
done

T=""
ps_postgres_tmpdir T ha
# the logs are copied to OUT at exit (registered first: runs last)
# shellcheck disable=SC2317 # called from the exit hook
copy_logs()
{
	local f
	cp "$T"/*.log "$T"/*.yml "$OUT/" 2>/dev/null
	for f in "$T"/node*/*.log; do
		[ -f "$f" ] && cp "$f" "$OUT/$(basename "$(dirname "$f")")-$(basename "$f")"
	done
	chmod -R a+rX "$OUT" 2>/dev/null
}
ps_on_exit copy_logs

# Free loopback ports, each different from the ones taken before.
TAKEN=()
next_port()
{
	local _p="$1" _t
	while :; do
		_p="$(ps_free_port "$_p" "$2")"
		for _t in "${TAKEN[@]}"; do
			[ "$_t" != "$_p" ] || { _p=$((_p + 1)); continue 2; }
		done
		TAKEN+=("$_p")
		printf -v "$3" '%s' "$_p"
		return 0
	done
}
next_port 23790 23890 ETCD_PORT
next_port 23790 23890 ETCD_PEER
PG_PORTS=() PATRONI_PORTS=() REST_PORTS=()
p=""
for i in 1 2 3; do
	next_port 55800 55900 p; PG_PORTS+=("$p")
	next_port 18900 18999 p; PATRONI_PORTS+=("$p")
	next_port 19000 19099 p; REST_PORTS+=("$p")
done

# Bearer tokens: an Ed25519 key of this run; the JWKS file is the servers'.
mkdir -p "$T/jwt"
node "$PS_ROOT/scripts/dev-token.mjs" "$T/jwt" ha-user 3600 >"$T/jwt/token"
chown -R postgres:postgres "$T"

# --- etcd ----------------------------------------------------------------
# start_as_postgres PIDFILE LOG CMD...: a daemon as postgres, its own pid
# (not runuser's) in PIDFILE.
start_as_postgres()
{
	local pidfile="$1" log="$2"
	shift 2
	# shellcheck disable=SC2016 # expanded by the inner sh
	runuser -u postgres -- sh -c 'echo $$ >"$0"; exec "$@"' "$pidfile" "$@" \
		>"$log" 2>&1 </dev/null &
}
# stop_pidfile PIDFILE SECONDS: SIGTERM, then SIGKILL after SECONDS.
# shellcheck disable=SC2317 # called from the exit hooks
stop_pidfile()
{
	local pid i
	[ -s "$1" ] || return 0
	pid="$(cat "$1")"
	kill -TERM "$pid" 2>/dev/null || return 0
	for ((i = 0; i < $2 * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
}

ps_on_exit "stop_pidfile '$T/etcd.pid' 10"
start_as_postgres "$T/etcd.pid" "$T/etcd.log" etcd --name ha-etcd \
	--data-dir "$T/etcd" \
	--listen-client-urls "http://127.0.0.1:$ETCD_PORT" \
	--advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
	--listen-peer-urls "http://127.0.0.1:$ETCD_PEER" \
	--initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER" \
	--initial-cluster "ha-etcd=http://127.0.0.1:$ETCD_PEER" \
	--listen-metrics-urls "" --log-level warn
for _ in $(seq 1 100); do
	curl -fsS "http://127.0.0.1:$ETCD_PORT/health" >/dev/null 2>&1 && break
	sleep 0.1
done
curl -fsS "http://127.0.0.1:$ETCD_PORT/health" >/dev/null 2>&1 || {
	tail -n 20 "$T/etcd.log" >&2
	ps_die "etcd did not start"
}

# --- Patroni ---------------------------------------------------------------
# The part every node shares is written into etcd at bootstrap (dcs:), so a
# change later goes through `patronictl edit-config`.  docs/operations.md
# quotes it.
write_config()
{
	local i="$1" n=$(($1 - 1))
	cat >"$T/node$i.yml" <<YAML
scope: provsecret-ha
name: node$i
log:
  level: INFO
restapi:
  listen: 127.0.0.1:${PATRONI_PORTS[$n]}
  connect_address: 127.0.0.1:${PATRONI_PORTS[$n]}
etcd3:
  hosts: 127.0.0.1:$ETCD_PORT
bootstrap:
  dcs:
    ttl: 10
    loop_wait: 1
    retry_timeout: 4
    maximum_lag_on_failover: 1048576
    # a commit (a seal, an audit event) is acknowledged only once the
    # synchronous standby has it, and only that standby may be promoted
    synchronous_mode: true
    synchronous_mode_strict: true
    # a crashed primary is failed over at once rather than restarted
    primary_start_timeout: 0
    postgresql:
      use_pg_rewind: true
      use_slots: true
      parameters:
        shared_preload_libraries: provsecret
        synchronous_commit: 'on'
        wal_keep_size: 128MB
        # a replica retries its leader after 1 s, not 5 s: after a failover
        # the new leader's first commits wait for it as synchronous standby
        wal_retrieve_retry_interval: 1s
        provsecret.database: postgres
        provsecret.mode: deployed
        provsecret.audit_timeout: 3s
        provsecret.jwt_issuer: http://localhost/realms/dev
        provsecret.jwt_audience: provsecret
        provsecret.jwt_jwks_file: $T/jwt/jwks.json
        log_statement: none
  initdb:
    - encoding: UTF8
    - locale: C.UTF-8
postgresql:
  listen: 127.0.0.1:${PG_PORTS[$n]}
  connect_address: 127.0.0.1:${PG_PORTS[$n]}
  data_dir: $T/node$i/data
  bin_dir: $PGBIN
  pgpass: $T/node$i/pgpass
  authentication:
    superuser:
      username: postgres
      password: ha-superuser
    replication:
      username: replicator
      password: ha-replicator
    rewind:
      username: postgres
      password: ha-superuser
  parameters:
    unix_socket_directories: $T/node$i
    provsecret.rest_listen_addresses: 127.0.0.1
    provsecret.rest_port: ${REST_PORTS[$n]}
    logging_collector: 'on'
    log_directory: $T/node$i
    log_filename: postgresql.log
  pg_hba:
    - local all all trust
    - host all all 127.0.0.1/32 trust
    - host replication all 127.0.0.1/32 trust
YAML
}

export CLOUDGRID_PROVIDER_SECRET_ENCRYPTION_KEY="$PS_TEST_ROOT_KEY"
for i in 1 2 3; do
	mkdir -p "$T/node$i"
	write_config "$i"
	chown -R postgres:postgres "$T/node$i" "$T/node$i.yml"
	chmod 700 "$T/node$i"
	# newest first at exit: Patroni stops its PostgreSQL, then any
	# postmaster it left is killed by its pid file
	ps_on_exit "[ -s '$T/node$i/data/postmaster.pid' ] && kill -KILL \$(head -n 1 '$T/node$i/data/postmaster.pid') 2>/dev/null"
	ps_on_exit "stop_pidfile '$T/node$i/patroni.pid' 30"
done
# node1 first, so it bootstraps; the others clone it
start_as_postgres "$T/node1/patroni.pid" "$T/node1/patroni.log" patroni "$T/node1.yml"
for _ in $(seq 1 300); do
	curl -fsS "http://127.0.0.1:${PATRONI_PORTS[0]}/primary" >/dev/null 2>&1 && break
	sleep 0.2
done
for i in 2 3; do
	start_as_postgres "$T/node$i/patroni.pid" "$T/node$i/patroni.log" patroni "$T/node$i.yml"
done
unset CLOUDGRID_PROVIDER_SECRET_ENCRYPTION_KEY

# --- the tests ---------------------------------------------------------------
export HA_DIR="$T" HA_PGBIN="$PGBIN" HA_OUT="$OUT"
export HA_PG_PORTS="${PG_PORTS[*]}" HA_PATRONI_PORTS="${PATRONI_PORTS[*]}"
export HA_REST_PORTS="${REST_PORTS[*]}"
export HA_TOKEN_FILE="$T/jwt/token"
rc=0
timeout 900 node "$HERE/ha.mjs" || rc=$?
exit "$rc"
