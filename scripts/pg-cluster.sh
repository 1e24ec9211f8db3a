#!/usr/bin/env bash
# A private, throwaway PostgreSQL cluster from the Debian postgresql-15 package.
#
#   pg-cluster.sh start DIR [PORT]   initdb into DIR/data (once) and start it. With PORT it
#                                    listens on 127.0.0.1:PORT only; without, on a Unix socket
#                                    in DIR only (DIR must then be a short path).
#   pg-cluster.sh stop DIR           stop it (fast shutdown)
#
# Prints nothing on success but the conninfo line, which it also writes to DIR/conninfo.
# The server log is DIR/server.log. As root, the cluster runs as the `postgres` user.
set -euo pipefail

command=${1:?usage: pg-cluster.sh start|stop DIR [PORT]}
dir=${2:?usage: pg-cluster.sh start|stop DIR [PORT]}
port=${3:-}

pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [ -z "$pg_bin" ]; then
  echo "pg-cluster: PostgreSQL server binaries not found; run scripts/install-deps.sh" >&2
  exit 1
fi

as_postgres() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "$command" in
  start)
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    if [ "$(id -u)" -eq 0 ]; then chown postgres:postgres "$dir"; fi
    if ! as_postgres test -w "$dir"; then
      echo "pg-cluster: the postgres user cannot write $dir (is a parent folder private?)" >&2
      exit 1
    fi
    if [ ! -f "$dir/data/PG_VERSION" ]; then
      as_postgres "$pg_bin/initdb" -D "$dir/data" -A trust -U postgres -E UTF8 \
        --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 || {
        cat "$dir/initdb.log" >&2
        exit 1
      }
    fi
    if [ -f "$dir/data/postmaster.pid" ] && as_postgres "$pg_bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
      already_running=1
    else
      already_running=0
    fi
    if [ -n "$port" ]; then
      listen="-c listen_addresses=127.0.0.1 -c unix_socket_directories= -p $port"
      conninfo="host=127.0.0.1 port=$port user=postgres"
      ready_args=(-h 127.0.0.1 -p "$port")
    else
      listen="-c listen_addresses= -c unix_socket_directories=$dir -p 5432"
      conninfo="host=$dir port=5432 user=postgres"
      ready_args=(-h "$dir" -p 5432)
    fi
    # Durability is not the point of a scratch cluster; speed is. FIRSTSIP_PG_DURABLE=1 keeps
    # PostgreSQL's durable defaults, for measuring what commits cost in production.
    durability="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    [ "${FIRSTSIP_PG_DURABLE:-0}" = 1 ] && durability=""
    [ "$already_running" -eq 1 ] || as_postgres "$pg_bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "$listen $durability -c max_connections=200 -c shared_buffers=128MB" start >/dev/null || {
      tail -n 20 "$dir/server.log" >&2
      exit 1
    }
    for _ in $(seq 1 100); do
      "$pg_bin/pg_isready" -q -U postgres "${ready_args[@]}" && break
      sleep 0.1
    done
    echo "$conninfo" >"$dir/conninfo"
    echo "$conninfo"
    ;;
  stop)
    if [ -f "$dir/data/postmaster.pid" ]; then
      as_postgres "$pg_bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null || true
    fi
    ;;
  *)
    echo "usage: pg-cluster.sh start|stop DIR [PORT]" >&2
    exit 2
    ;;
esac
