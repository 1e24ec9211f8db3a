#!/usr/bin/env bash
# ctest fixture: one throwaway PostgreSQL cluster for the whole test run.
#   test-cluster.sh start STATE_DIR   start it; writes STATE_DIR/conninfo for the tests
#   test-cluster.sh stop STATE_DIR    stop it and delete its data
# The cluster lives under a short /tmp path because its Unix socket path must stay short.
set -euo pipefail
command=${1:?usage: test-cluster.sh start|stop STATE_DIR}
state=${2:?usage: test-cluster.sh start|stop STATE_DIR}
scripts=$(cd "$(dirname "$0")/../../scripts" && pwd)

case "$command" in
  start)
    mkdir -p "$state"
    if [ -f "$state/dir" ]; then "$scripts/pg-cluster.sh" stop "$(cat "$state/dir")" || true; fi
    dir=$(mktemp -d /tmp/firstsip-pg.XXXXXX)
    chmod 755 "$dir"
    echo "$dir" >"$state/dir"
    "$scripts/pg-cluster.sh" start "$dir" >"$state/conninfo"
    echo "test cluster: $(cat "$state/conninfo") (log: $dir/server.log)"
    ;;
  stop)
    [ -f "$state/dir" ] || exit 0
    dir=$(cat "$state/dir")
    "$scripts/pg-cluster.sh" stop "$dir"
    rm -rf "$dir" "$state/dir" "$state/conninfo"
    ;;
esac
