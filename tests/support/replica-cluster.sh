#!/usr/bin/env bash
# A throwaway primary with one streaming hot standby on this machine, from the Debian
# postgresql-15 package, for the failover and read-replica tests.
#
#   replica-cluster.sh start DIR PRIMARY_PORT STANDBY_PORT [sync]
#       initdb DIR/primary, start it on 127.0.0.1:PRIMARY_PORT, clone it with
#       `pg_basebackup -R` into DIR/standby and start that on STANDBY_PORT. With `sync`, the
#       standby is synchronous (synchronous_standby_names = '*'): a commit is acknowledged only
#       once the standby has it. Waits until the standby streams.
#   replica-cluster.sh kill-primary DIR     pg_ctl stop -m immediate (a crash, as far as
#                                           PostgreSQL is concerned)
#   replica-cluster.sh promote DIR          pg_ctl promote the standby; waits until it writes
#   replica-cluster.sh stop-standby DIR     fast shutdown of the standby
#   replica-cluster.sh stop DIR             stop both (fast), leave the files
#
# Logs: DIR/primary.log, DIR/standby.log. As root, the servers run as the `postgres` user.
set -euo pipefail

usage="usage: replica-cluster.sh start DIR PRIMARY_PORT STANDBY_PORT [sync] | kill-primary DIR | promote DIR | stop-standby DIR | stop DIR"
command=${1:?$usage}
dir=${2:?$usage}

pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [ -z "$pg_bin" ]; then
  echo "replica-cluster: PostgreSQL server binaries not found; run scripts/install-deps.sh" >&2
  exit 1
fi

as_postgres() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start_server() {  # NAME PORT
  as_postgres "$pg_bin/pg_ctl" -D "$dir/$1" -l "$dir/$1.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -c unix_socket_directories= -p $2" start >/dev/null || {
    tail -n 20 "$dir/$1.log" >&2
    exit 1
  }
}

psql_at() {  # PORT SQL
  "$pg_bin/psql" -X -q -At -h 127.0.0.1 -p "$1" -U postgres -d postgres -c "$2"
}

case "$command" in
  start)
    primary_port=${3:?$usage}
    standby_port=${4:?$usage}
    mode=${5:-async}
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    if [ "$(id -u)" -eq 0 ]; then chown postgres:postgres "$dir"; fi
    as_postgres "$pg_bin/initdb" -D "$dir/primary" -A trust -U postgres -E UTF8 \
      --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 || {
      cat "$dir/initdb.log" >&2
      exit 1
    }
    # fsync stays off (the machine does not crash in these tests; PostgreSQL does), but
    # synchronous_commit is on: an acknowledged commit has reached the synchronous standby.
    sync_names=""
    [ "$mode" = sync ] && sync_names="*"
    as_postgres tee -a "$dir/primary/postgresql.conf" >/dev/null <<EOF
fsync = off
full_page_writes = off
max_connections = 200
wal_level = replica
max_wal_senders = 4
hot_standby = on
wal_keep_size = '256MB'
synchronous_standby_names = '$sync_names'
synchronous_commit = on
track_counts = on
EOF
    start_server primary "$primary_port"
    as_postgres "$pg_bin/pg_basebackup" -h 127.0.0.1 -p "$primary_port" -U postgres \
      -D "$dir/standby" -R -X stream --checkpoint=fast >"$dir/basebackup.log" 2>&1 || {
      cat "$dir/basebackup.log" >&2
      exit 1
    }
    echo "primary_conninfo = 'host=127.0.0.1 port=$primary_port user=postgres application_name=standby1'" |
      as_postgres tee -a "$dir/standby/postgresql.auto.conf" >/dev/null
    start_server standby "$standby_port"
    for _ in $(seq 1 100); do
      state=$(psql_at "$primary_port" "SELECT state FROM pg_stat_replication" 2>/dev/null || true)
      [ "$state" = streaming ] && break
      sleep 0.1
    done
    if [ "$state" != streaming ]; then
      echo "replica-cluster: the standby does not stream" >&2
      tail -n 20 "$dir/standby.log" >&2
      exit 1
    fi
    echo "$primary_port" >"$dir/primary.port"
    echo "$standby_port" >"$dir/standby.port"
    ;;
  kill-primary)
    as_postgres "$pg_bin/pg_ctl" -D "$dir/primary" -m immediate -w stop >/dev/null
    ;;
  promote)
    as_postgres "$pg_bin/pg_ctl" -D "$dir/standby" -w -t 30 promote >/dev/null
    # The new primary has no standby of its own: stop waiting for one, as Patroni
    # (synchronous_mode without _strict) and CloudNativePG do, or every commit would hang.
    port=$(cat "$dir/standby.port")
    psql_at "$port" "ALTER SYSTEM SET synchronous_standby_names = ''" >/dev/null
    psql_at "$port" "SELECT pg_reload_conf()" >/dev/null
    ;;
  stop-standby)
    as_postgres "$pg_bin/pg_ctl" -D "$dir/standby" -m fast -w stop >/dev/null
    ;;
  stop)
    for name in primary standby; do
      if [ -f "$dir/$name/postmaster.pid" ]; then
        as_postgres "$pg_bin/pg_ctl" -D "$dir/$name" -m fast -w stop >/dev/null 2>&1 || true
      fi
    done
    ;;
  *)
    echo "$usage" >&2
    exit 2
    ;;
esac
