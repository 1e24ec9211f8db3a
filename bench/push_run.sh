#!/usr/bin/env bash
# Push capacity, one command (docs/BENCHMARKS.md, "Push: watch streams and waiting claims").
# Builds (Release) into build-bench/, starts a private PostgreSQL, seeds users, starts the
# server and runs bench/push_load.cc (firstsip-push-load) against it:
#   1. watch: 10,000 WatchBriefings streams over 10,000 users (one each) on 10 connections;
#      the server's RSS and idle CPU once all have their headers; then, streams open, 1,000
#      changes/s for 25 s (each user's changes cycle create, start, complete), the latency from
#      the write's send (and from its answer) to the watcher's receipt, every event accounted
#      for, and the server's notify-lag histogram;
#   2. claims: 100 workers looping ClaimNextBriefing{wait: 30s}; the server's CPU while they
#      wait; then 50 creates/s for 10 s and a burst of 500; create-to-claim latency, every
#      briefing claimed once.
# About 2 minutes. Results go to build-bench/bench-results/push/ (summary.txt, results.tsv,
# the tool's output, the server log and its metrics after each mode).
#
#   flock /tmp/firstsip-cpu.lock bench/push_run.sh
#   PUSH_STREAMS=2000 PUSH_SECONDS=10 flock /tmp/firstsip-cpu.lock bench/push_run.sh
#
# The write path's cost of push, A/B in one bench/run.sh run: the server before push (built
# from commit 1788e4b into build-bench/before/) against this tree's, CreateBriefing at
# c=8 and 64, two rounds each, and Go once; pg_stat_activity's wait events sampled meanwhile.
# About 3 minutes. Results go to build-bench/bench-results/push-ab/.
#
#   flock /tmp/firstsip-cpu.lock bench/push_run.sh ab
#
# The server before push refuses a schema with a migration it does not know (000005), so its
# rounds run on a copy of the benchmark database migrated down to 000004, made in the same
# PostgreSQL when it first starts (build-bench/before/server.sh wraps it).
#
# Settings (environment):
#   PUSH_STREAMS=10000 PUSH_USERS=10000 PUSH_WATCH_CHANNELS=10 PUSH_RATE=1000 PUSH_SECONDS=25
#   PUSH_CYCLE=1 (0: every change is a CreateBriefing) PUSH_WORKERS=100 PUSH_BURST=500
#   PUSH_STEADY_RATE=50 PUSH_CLAIMS=1 (0: the watch only) PUSH_SERVER_FLAGS="..." (extra
#   server flags)
#   PUSH_PG_PORT=54349 PUSH_PORT=50091 (and PUSH_PORT + 1 for metrics)
#   PUSH_AB_BEFORE=1788e4b PUSH_AB_CONCURRENCY="8 64" PUSH_AB_SECONDS=5
#   BENCH_BUILD_DIR=build-bench
#
# Load tool, server and PostgreSQL share this machine's cores: compare within one run. Take
# the lock around it (the script takes none itself).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
build=${BENCH_BUILD_DIR:-build-bench}
mode=${1:-capacity}

# sample_waits PORT FILE: every 0.2 s, the wait events of the service's active sessions
# (pg_stat_activity, application_name firstsip-server), one line per database and event.
sample_waits() {
  while sleep 0.2; do
    psql "postgresql://postgres@127.0.0.1:$1/postgres?sslmode=disable" -qAt -F $'\t' -c \
      "SELECT datname, coalesce(wait_event_type, 'CPU'), coalesce(wait_event, 'running'),
         count(*) FROM pg_stat_activity
       WHERE application_name = 'firstsip-server' AND state = 'active'
       GROUP BY 1, 2, 3" >>"$2" 2>/dev/null || true
    # Which lock a "Lock" wait is for: NOTIFY's commit lock is an "object" lock on
    # pg_database, object 0 (the whole cluster), in AccessExclusiveLock.
    psql "postgresql://postgres@127.0.0.1:$1/postgres?sslmode=disable" -qAt -F $'\t' -c \
      "SELECT 'lock ' || locktype || coalesce(' ' || classid::regclass::text, '')
           || coalesce(' objid=' || objid, ''), mode, 'waiting', count(*) FROM pg_locks
       WHERE NOT granted GROUP BY 1, 2" >>"$2" 2>/dev/null || true
  done
}
# summarize_waits FILE: each database's share of samples per wait event; then the locks
# waited for, in lock-waiter samples.
summarize_waits() {
  awk -F'\t' '$1 ~ /^lock / {l[$1 " " $2] += $4; next} {n[$1] += $4; w[$1 "\t" $2 ":" $3] += $4}
    END {
      for (k in w) {split(k, p, "\t"); printf "%s\t%s\t%.1f%%\n", p[1], p[2], 100 * w[k] / n[p[1]]}
      for (k in l) printf "%s\t%d waiter samples\n", k, l[k]
    }' "$1" | sort -k1,1 -k3,3nr
}

# --- The write path A/B ------------------------------------------------------------------------
if [ "$mode" = ab ]; then
  before_commit=${PUSH_AB_BEFORE:-1788e4b}
  before=$repo/$build/before
  out=$repo/$build/bench-results/push-ab
  mkdir -p "$before" "$out"
  BUILD_DIR=$build BUILD_TYPE=Release scripts/build.sh -DFIRSTSIP_BUILD_TESTS=OFF >/dev/null
  after_binary=$repo/$build/server/firstsip-server
  # The tree before push, from git (no worktree), and its server alone.
  if [ "$(cat "$before/commit" 2>/dev/null)" != "$(git rev-parse "$before_commit")" ]; then
    rm -rf "$before/src"
    mkdir -p "$before/src"
    git archive "$before_commit" | tar -x -C "$before/src"
    git rev-parse "$before_commit" >"$before/commit"
  fi
  cmake -S "$before/src" -B "$before/build" -DCMAKE_BUILD_TYPE=Release \
    -DFIRSTSIP_BUILD_TESTS=OFF -DFIRSTSIP_BUILD_BENCH=OFF >/dev/null
  cmake --build "$before/build" --target firstsip-server -j2 >/dev/null
  # The before server on its own database: on first start, a copy of the one run.sh seeded
  # (no one is connected to it then), migrated down to the schema that server knows.
  cat >"$before/server.sh" <<WRAPPER
#!/usr/bin/env bash
# Written by bench/push_run.sh: starts the server before push on a copy of the benchmark
# database at schema 000004 (the copy made once, on the first start).
set -euo pipefail
# run.sh migrates the benchmark database with this binary: that is this tree's job.
for arg in "\$@"; do
  [ "\$arg" != migrate ] || exec "$after_binary" "\$@"
done
args=()
dsn=""
for arg in "\$@"; do
  case \$arg in
    --database-url=*) dsn=\${arg#--database-url=} ;;
    *) args+=("\$arg") ;;
  esac
done
[ -n "\$dsn" ] || { echo "before/server.sh: no --database-url" >&2; exit 2; }
before_dsn=\${dsn/\/bench\?/\/bench_before?}
admin_dsn=\${dsn/\/bench\?/\/postgres?}
exists=\$(psql "\$admin_dsn" -qAtc "SELECT 1 FROM pg_database WHERE datname = 'bench_before'")
if [ "\$exists" != 1 ]; then
  psql "\$admin_dsn" -qc "CREATE DATABASE bench_before TEMPLATE bench" >&2
  "$after_binary" --database-url="\$before_dsn" migrate down 1 >&2
  psql "\$before_dsn" -qc "VACUUM (ANALYZE)" >&2
fi
exec "$before/build/server/firstsip-server" --database-url="\$before_dsn" "\${args[@]}"
WRAPPER
  chmod +x "$before/server.sh"

  # Wait events of the service's sessions while run.sh runs: before push on bench_before,
  # after push on bench (Go's sessions, pgx, have no firstsip name).
  waits=$out/wait_events.tsv
  sample_waits "${BENCH_PG_PORT:-54339}" "$waits" &
  sampler=$!
  trap 'kill $sampler 2>/dev/null || true' EXIT
  status=0
  BENCH_A_BINARY=$before/server.sh BENCH_AB_BINARY=$after_binary BENCH_RPCS=create_briefing \
    BENCH_CONCURRENCY=${PUSH_AB_CONCURRENCY:-8 64} BENCH_SECONDS=${PUSH_AB_SECONDS:-5} \
    BENCH_ROUNDS=2 BENCH_BARE=0 BENCH_PGBENCH=0 BENCH_DOCS=0 bench/run.sh >"$out/summary.md" \
    2>"$out/run.log" || status=$?
  kill "$sampler" 2>/dev/null || true
  cp "$build/bench-results/results.tsv" "$out/results.tsv" 2>/dev/null || true
  cat "$out/summary.md"
  echo
  echo "pg_stat_activity samples of active service sessions (database, wait type, event, share):"
  summarize_waits "$waits" | tee "$out/wait_events_summary.tsv"
  [ "$status" = 0 ] || { echo "push_run.sh: run.sh failed; see $out/run.log" >&2; tail -n 5 "$out/run.log" >&2; }
  exit "$status"
fi
[ "$mode" = capacity ] || { echo "usage: push_run.sh [ab]" >&2; exit 2; }

# --- Capacity ----------------------------------------------------------------------------------
streams=${PUSH_STREAMS:-10000}
users=${PUSH_USERS:-10000}
pg_port=${PUSH_PG_PORT:-54349}
port=${PUSH_PORT:-50091}
metrics_port=$((port + 1))
out=$repo/$build/bench-results/push
rm -rf "$out"
mkdir -p "$out"

# Streams share a few connections, but the server also holds the pool's and the listener's
# sockets, and a run with many connections needs more: raise the soft limit to the hard one.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
echo "open files limit: $(ulimit -n)" >&2

BUILD_DIR=$build BUILD_TYPE=Release scripts/build.sh -DFIRSTSIP_BUILD_TESTS=OFF >/dev/null
server_binary=$build/server/firstsip-server
tool=$build/bench/firstsip-push-load

pg_dir=$(mktemp -d /tmp/firstsip-push-pg.XXXXXX)
chmod 755 "$pg_dir"
server_pid=""
sampler=""
cleanup() {
  [ -z "$sampler" ] || kill "$sampler" 2>/dev/null || true
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  scripts/pg-cluster.sh stop "$pg_dir" || true
  cp "$pg_dir/server.log" "$out/pg.log" 2>/dev/null || true
  rm -rf "$pg_dir"
}
trap cleanup EXIT
scripts/pg-cluster.sh start "$pg_dir" "$pg_port" >/dev/null
pg_pid=$(head -n 1 "$pg_dir/data/postmaster.pid")
psql() { command psql -h 127.0.0.1 -p "$pg_port" -U postgres -v ON_ERROR_STOP=1 -qAt "$@"; }
psql -c "CREATE DATABASE push"
dsn="postgresql://postgres@127.0.0.1:$pg_port/push?sslmode=disable"
export ENCRYPTION_KEY=${ENCRYPTION_KEY:-$(openssl rand -base64 32)}
"$server_binary" --database-url="$dsn" migrate up >/dev/null 2>&1
seed_users=$((users > 10000 ? users : 10000))
# Users, and one completed briefing each, so that the planner's statistics are not those of
# empty tables. PostgreSQL logs statements over 200 ms and lock waits (kept in pg.log).
psql -d push -c "INSERT INTO users (email, name) SELECT 'user' || i || '@bench.local', 'User ' || i
  FROM generate_series(1, $seed_users) i" -c "INSERT INTO briefings (user_id, status)
  SELECT i, 'completed' FROM generate_series(1, $seed_users) i" -c "VACUUM (ANALYZE)"
psql -c "ALTER SYSTEM SET log_min_duration_statement = '200ms'" \
  -c "ALTER SYSTEM SET log_lock_waits = on" -c "SELECT pg_reload_conf()" >/dev/null

read -ra extra_flags <<<"${PUSH_SERVER_FLAGS:-}"
server_flags=(--database-url="$dsn" --listen="127.0.0.1:$port"
  --metrics-listen="127.0.0.1:$metrics_port" --log-level=warning ${extra_flags[@]+"${extra_flags[@]}"})
"$server_binary" "${server_flags[@]}" >"$out/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 200); do
  kill -0 "$server_pid" 2>/dev/null || { tail -n 20 "$out/server.log" >&2; exit 1; }
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.05
done

tsv=$out/results.tsv
printf "mode\tfigure\tvalue\tunit\n" >"$tsv"
common=(--target="127.0.0.1:$port" --server_pid="$server_pid" --pg_pid="$pg_pid"
  --metrics="127.0.0.1:$metrics_port" --tsv="$tsv")
status=0
cycle=true
[ "${PUSH_CYCLE:-1}" = 0 ] && cycle=false
sample_waits "$pg_port" "$out/wait_events.tsv" &
sampler=$!
"$tool" "${common[@]}" --mode=watch --streams="$streams" --users="$users" \
  --watch_channels="${PUSH_WATCH_CHANNELS:-10}" --rate="${PUSH_RATE:-1000}" \
  --seconds="${PUSH_SECONDS:-25}" --cycle="$cycle" --timeline="$out/timeline.tsv" 2>"$out/watch.err" | tee "$out/watch.out" ||
  status=1
kill "$sampler" 2>/dev/null || true
sampler=""
echo "  the service's active sessions in pg_stat_activity (every 0.2 s), by wait event:"
summarize_waits "$out/wait_events.tsv" | tee "$out/wait_events_summary.tsv" | sed 's/^/    /'
# One LISTEN connection and the pool, however many streams: PostgreSQL's max_connections is
# not what limits watchers.
backends=$(psql -d push -c "SELECT count(*) FILTER (WHERE application_name = 'firstsip-server'),
  count(*) FILTER (WHERE application_name = 'firstsip-listener') FROM pg_stat_activity" | tr '|' ' ')
read -r pool_backends listener_backends <<<"$backends"
printf "watch\tpg_backends_pool\t%s\t\nwatch\tpg_backends_listener\t%s\t\n" "$pool_backends" \
  "$listener_backends" >>"$tsv"
echo "  pg backends: pool $pool_backends, listener $listener_backends (max_connections $(psql -c 'SHOW max_connections'))"
curl -s "http://127.0.0.1:$metrics_port/metrics" >"$out/metrics-after-watch.txt" || true

if [ "${PUSH_CLAIMS:-1}" != 0 ]; then
  # Waiting claims start from an empty queue: what the watch left pending or processing is done.
  psql -d push -c "UPDATE briefings SET status = 'completed' WHERE status IN ('pending', 'processing')"
  "$tool" "${common[@]}" --mode=claims --workers="${PUSH_WORKERS:-100}" \
    --steady_rate="${PUSH_STEADY_RATE:-50}" --burst="${PUSH_BURST:-500}" \
    --producer_users="$users" 2>"$out/claims.err" | tee "$out/claims.out" || status=1
  curl -s "http://127.0.0.1:$metrics_port/metrics" >"$out/metrics-after-claims.txt" || true
fi
kill -0 "$server_pid" 2>/dev/null || { echo "push_run.sh: the server died" >&2; status=1; }

{
  echo "Run on $(date -u +%Y-%m-%d), $(nproc) cores, $(uname -r), PostgreSQL" \
    "$(psql -c 'SHOW server_version' | cut -d' ' -f1), server flags: ${server_flags[*]:1}"
  cat "$out/watch.out" "$out/claims.out" 2>/dev/null || true
} >"$out/summary.txt"
[ "$status" = 0 ] || echo "push_run.sh: a check failed; see $out/*.err and $out/summary.txt" >&2
exit "$status"
