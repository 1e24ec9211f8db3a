#!/usr/bin/env bash
# What authorization costs a call (docs/BENCHMARKS.md, "Authorization by caller"): GetUser over
# mutual TLS, with and without --authz-policy (deploy/k8s/authz-policy.json, the caller the web
# backend), the server and the load generator on this machine. Rounds alternate the two, so
# drift on a shared machine hits both alike.
#
#   bench/authz_run.sh                 BUILD_DIR=build ROUNDS=3 SECONDS_EACH=5 CONCURRENCY="1 64"
# Run it under the CPU lock: flock -o /tmp/firstsip-cpu.lock bench/authz_run.sh
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}
rounds=${ROUNDS:-3}
seconds=${SECONDS_EACH:-5}
concurrency=${CONCURRENCY:-"1 64"}
server=$build/server/firstsip-server
loadgen=$build/bench/firstsip-loadgen
port=${PG_PORT:-54371}
work=$(mktemp -d /tmp/firstsip-authz-bench.XXXXXX)
chmod 755 "$work"  # the postgres user makes its cluster in it
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" || true; fi
  scripts/pg-cluster.sh stop "$work/pg" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# A CA, the server (127.0.0.1), and the web backend's certificate (its SPIFFE ID).
(
  cd "$work"
  key() { openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$1.key" \
    -subj "/CN=$2" $3 2>/dev/null; }
  sign() { openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
    -out "$1.pem" -extfile "$1.ext" 2>/dev/null; }
  key ca bench-ca '-x509 -days 2 -out ca.pem'
  printf 'subjectAltName=IP:127.0.0.1' >server.ext
  key server localhost '-out server.csr' && sign server
  printf 'subjectAltName=URI:spiffe://firstsip.example/ns/firstsip/sa/web-backend' >web.ext
  key web web '-out web.csr' && sign web
)

scripts/pg-cluster.sh start "$work/pg" "$port" >/dev/null
psql() { command psql -h 127.0.0.1 -p "$port" -U postgres -v ON_ERROR_STOP=1 -qAt "$@"; }
psql -c "CREATE DATABASE bench"
dsn="postgresql://postgres@127.0.0.1:$port/bench?sslmode=disable"
export ENCRYPTION_KEY=${ENCRYPTION_KEY:-$(openssl rand -base64 32)}
"$server" --database-url="$dsn" migrate up >"$work/migrate.log" 2>&1 ||
  { cat "$work/migrate.log" >&2; exit 1; }
psql -d bench -c "INSERT INTO users (email, name) SELECT 'user' || i || '@bench.local', 'User ' || i
  FROM generate_series(1, 1000) i" -c "VACUUM (ANALYZE)"

tls=(--tls-cert="$work/server.pem" --tls-key="$work/server.key" --tls-client-ca="$work/ca.pem")
start_server() {  # extra flags...
  "$server" --database-url="$dsn" --listen=127.0.0.1:50095 --metrics-listen= --log-level=warning \
    "${tls[@]}" "$@" >"$work/server.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 1 100); do
    "$build/client/firstsip" --target=127.0.0.1:50095 --timeout=1s --tls-ca="$work/ca.pem" \
      --tls-cert="$work/web.pem" --tls-key="$work/web.key" health >/dev/null 2>&1 && return
    sleep 0.1
  done
  cat "$work/server.log" >&2
  exit 1
}
stop_server() { kill "$server_pid"; wait "$server_pid" || true; server_pid=""; }

echo "mode concurrency round calls errors rps p50_ms p99_ms"
for round in $(seq 1 "$rounds"); do
  for mode in mtls mtls+policy; do
    if [ "$mode" = mtls ]; then start_server; else
      start_server --authz-policy=deploy/k8s/authz-policy.json
    fi
    for c in $concurrency; do
      line=$("$loadgen" --target=127.0.0.1:50095 --rpc=get_user --concurrency="$c" \
        --seconds="$seconds" --warmup=1 --users=1000 --tls_ca="$work/ca.pem" \
        --tls_cert="$work/web.pem" --tls_key="$work/web.key")
      # loadgen: rpc concurrency calls errors rps p50 p99 p999 completed
      echo "$mode $c $round $(echo "$line" | awk '{print $3, $4, $5, $6, $7}')"
    done
    stop_server
  done
done
