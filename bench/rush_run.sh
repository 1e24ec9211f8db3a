#!/usr/bin/env bash
# The morning rush, one command (docs/BENCHMARKS.md, "The morning rush"): how fast the
# scheduler turns a crowd of users due in one minute into PENDING briefings, what a concurrent
# GetUser load sees meanwhile, and what the scheduler costs while nobody is due.
#
# Builds the server (Release) into build-bench/, starts a private PostgreSQL (durable: fsync
# on, as in production; RUSH_PG_DURABLE=0 for the scratch settings), seeds 1,000,000 users with
# one briefing of yesterday each, starts one server, and then:
#   1. idle: for RUSH_IDLE_SECONDS (60) nobody is due for hours; the CPU the scheduler takes
#      (its thread, its connection's event loop, its PostgreSQL backend, from schedstat) and
#      its statements (pg_stat_statements: calls of each, mean time), per wake-up;
#   2. rush: 200,000 of the users (one zone, America/New_York, one time) are made due at the
#      same instant T, the next minute boundary at least 30 s away (by SQL: the running server
#      learns of it at its next wake-up, at most 10 s later, and then sleeps until T).
#      h2load sends GetUser at a fixed rate (RUSH_RPS, 2,000/s over 16 connections) from
#      T - 20 s to T + 60 s; the p50/p99/p99.9 of the calls that started before T
#      (the baseline) and of those that started between T and the last briefing's creation
#      (the rush). The briefings created per half second, the time from T to the last one, the
#      rate, and the PostgreSQL and server CPU meanwhile.
# About 3.5 minutes (the seed of 1,000,000 users takes about 40 s). Results go to
# build-bench/bench-results/rush/ (summary.txt, timeline.tsv, the server log, its metrics after
# the rush, pg_stat_statements).
#
#   flock -o /tmp/firstsip-cpu.lock bench/rush_run.sh
#   RUSH_USERS=200000 RUSH_DUE=50000 flock -o /tmp/firstsip-cpu.lock bench/rush_run.sh
#
# Settings (environment): RUSH_USERS=1000000 RUSH_DUE=200000 RUSH_ZONE=America/New_York
#   RUSH_RPS=2000 RUSH_CONNECTIONS=16 RUSH_LOAD_AFTER=60 RUSH_IDLE_SECONDS=60 RUSH_PG_DURABLE=1
#   RUSH_SERVER_FLAGS="..." (extra server flags) RUSH_PG_PORT=54379 RUSH_PORT=50095 (and + 1
#   for metrics) BENCH_BUILD_DIR=build-bench
#
# h2load, the server and PostgreSQL share this machine's cores. Take the lock around it (the
# script takes none itself).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
build=${BENCH_BUILD_DIR:-build-bench}
users=${RUSH_USERS:-1000000}
due=${RUSH_DUE:-200000}
zone=${RUSH_ZONE:-America/New_York}
rps=${RUSH_RPS:-2000}
connections=${RUSH_CONNECTIONS:-16}
idle_seconds=${RUSH_IDLE_SECONDS:-60}
pg_port=${RUSH_PG_PORT:-54379}
port=${RUSH_PORT:-50095}
metrics_port=$((port + 1))
out=$repo/$build/bench-results/rush
rm -rf "$out"
mkdir -p "$out"
[ "$due" -le "$users" ] || { echo "rush_run.sh: RUSH_DUE is more than RUSH_USERS" >&2; exit 2; }
command -v h2load >/dev/null || { echo "rush_run.sh: h2load missing (apt-get install nghttp2-client)" >&2; exit 1; }

cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DFIRSTSIP_BUILD_TESTS=OFF \
  -DCMAKE_CXX_COMPILER_LAUNCHER="$(command -v ccache || true)" >/dev/null
cmake --build "$build" -j"$(nproc)" --target firstsip-server firstsip-grpc-body >/dev/null
server_binary=$build/server/firstsip-server
body_tool=$build/bench/firstsip-grpc-body

pg_dir=$(mktemp -d /tmp/firstsip-rush-pg.XXXXXX)
chmod 755 "$pg_dir"
server_pid=""
h2load_pid=""
cleanup() {
  [ -z "$h2load_pid" ] || kill "$h2load_pid" 2>/dev/null || true
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  scripts/pg-cluster.sh stop "$pg_dir" || true
  cp "$pg_dir/server.log" "$out/pg.log" 2>/dev/null || true
  rm -rf "$pg_dir"
}
trap cleanup EXIT
FIRSTSIP_PG_DURABLE=${RUSH_PG_DURABLE:-1} scripts/pg-cluster.sh start "$pg_dir" "$pg_port" >/dev/null
psql() { command psql -h 127.0.0.1 -p "$pg_port" -U postgres -v ON_ERROR_STOP=1 -qAt "$@"; }
# pg_stat_statements needs a restart to load.
psql -c "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'" >/dev/null
scripts/pg-cluster.sh stop "$pg_dir"
FIRSTSIP_PG_DURABLE=${RUSH_PG_DURABLE:-1} scripts/pg-cluster.sh start "$pg_dir" "$pg_port" >/dev/null
psql -c "CREATE DATABASE rush"
dsn="postgresql://postgres@127.0.0.1:$pg_port/rush?sslmode=disable"
export ENCRYPTION_KEY=${ENCRYPTION_KEY:-$(openssl rand -base64 32)}
"$server_binary" --database-url="$dsn" migrate up >/dev/null 2>&1
psql -d rush -c "CREATE EXTENSION pg_stat_statements"

# The seed, set-based. Users 1..due are the rush (zone $zone, not due until made so below);
# the others are in UTC with a briefing time spread over the day that is at least 2 hours away.
# Each user has yesterday's briefing, completed, named as the scheduler names them, so the
# request_id index holds a row per user.
echo "seeding $users users and their briefings of yesterday" >&2
seed_start=$(date +%s)
psql -d rush -c "INSERT INTO users (email, name, timezone, preferred_briefing_time, next_briefing_time)
  SELECT 'user' || i || '@bench.local', 'User ' || i, z,
    CASE WHEN i <= $due THEN '06:00' ELSE to_char(n AT TIME ZONE z, 'HH24:MI') END, n
  FROM generate_series(1, $users) i,
    LATERAL (SELECT CASE WHEN i <= $due THEN '$zone' ELSE 'UTC' END AS z,
      CASE WHEN i <= $due THEN timestamptz 'infinity'
        ELSE date_trunc('minute', now() + interval '2 hours' + (i % 1320) * interval '1 minute')
      END AS n) s" \
  -c "INSERT INTO briefings (user_id, status, content, request_id, create_time, update_time)
  SELECT i, 'completed', '{\"news\": []}', to_char(now() - interval '1 day', 'YYYY-MM-DD'),
    now() - interval '1 day', now() - interval '1 day' FROM generate_series(1, $users) i" \
  -c "VACUUM (ANALYZE)"
echo "seeded in $(($(date +%s) - seed_start)) s" >&2

read -ra extra_flags <<<"${RUSH_SERVER_FLAGS:-}"
server_flags=(--database-url="$dsn" --listen="127.0.0.1:$port"
  --metrics-listen="127.0.0.1:$metrics_port" ${extra_flags[@]+"${extra_flags[@]}"})
"$server_binary" "${server_flags[@]}" >"$out/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 200); do
  kill -0 "$server_pid" 2>/dev/null || { tail -n 20 "$out/server.log" >&2; exit 1; }
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.05
done
sleep 2  # the scheduler's first round

# CPU nanoseconds (schedstat) of one thread or single-threaded process (a /proc directory), and
# of all of the server's threads.
cpu_ns() { cut -d' ' -f1 "$1/schedstat"; }
server_cpu() {
  local total=0 tid
  for tid in /proc/"$server_pid"/task/*; do
    total=$((total + $(cut -d' ' -f1 "$tid/schedstat" 2>/dev/null || echo 0)))
  done
  echo "$total"
}
thread_dir() {  # NAME INDEX: the INDEX-th (0-based, by thread id) thread of the server so named
  local dirs=() tid
  for tid in $(ls /proc/"$server_pid"/task | sort -n); do
    [ "$(cat /proc/"$server_pid"/task/"$tid"/comm)" = "$1" ] && dirs+=("/proc/$server_pid/task/$tid")
  done
  echo "${dirs[$2]}"
}
scheduler_thread=$(thread_dir fs-schedule 0)
# The scheduler's one-connection pool starts after the primary's: the second event loop.
scheduler_loop=$(thread_dir fs-db-loop 1)
scheduler_backend=$(psql -d rush -c "SELECT pid FROM pg_stat_activity
  WHERE datname = 'rush' AND query LIKE 'WITH due AS MATERIALIZED%' LIMIT 1")
[ -n "$scheduler_thread" ] && [ -n "$scheduler_loop" ] && [ -n "$scheduler_backend" ] ||
  { echo "rush_run.sh: cannot find the scheduler's thread, loop or backend" >&2; exit 1; }
metric() {  # NAME: the value of an unlabelled metric of the server
  curl -s "http://127.0.0.1:$metrics_port/metrics" | awk -v n="$1" '$1 == n {print $2}'
}

# --- 1. Idle ----------------------------------------------------------------------------------
echo "idle: $idle_seconds s with nobody due" >&2
psql -d rush -c "SELECT pg_stat_statements_reset()" >/dev/null
t0=$(date +%s%N)
a0=$(cpu_ns "$scheduler_thread"); b0=$(cpu_ns "$scheduler_loop"); c0=$(cpu_ns "/proc/$scheduler_backend")
p0=$(server_cpu)
w0=$(metric firstsip_schedule_batch_duration_seconds_count)
sleep "$idle_seconds"
t1=$(date +%s%N)
a1=$(cpu_ns "$scheduler_thread"); b1=$(cpu_ns "$scheduler_loop"); c1=$(cpu_ns "/proc/$scheduler_backend")
p1=$(server_cpu)
w1=$(metric firstsip_schedule_batch_duration_seconds_count)
psql -d rush -F $'\t' -c "SELECT calls, round(mean_exec_time::numeric, 3), rows,
    left(regexp_replace(query, '\s+', ' ', 'g'), 60)
  FROM pg_stat_statements WHERE query NOT LIKE '%pg_stat_statements%' ORDER BY calls DESC" \
  >"$out/idle_statements.tsv"
idle_wakeups=$(awk -v a="$w0" -v b="$w1" 'BEGIN {printf "%d", b - a}')
idle_due_calls=$(awk -F'\t' '$4 ~ /^WITH due AS MATERIALIZED/ {s += $1} END {print s + 0}' "$out/idle_statements.tsv")
idle_due_ms=$(awk -F'\t' '$4 ~ /^WITH due AS MATERIALIZED/ {print $2}' "$out/idle_statements.tsv")
idle_other_scheduler=$(awk -F'\t' '$4 ~ /^WITH picked AS MATERIALIZED|^UPDATE users u SET next_briefing_time = .infinity/ {s += $1} END {print s + 0}' "$out/idle_statements.tsv")
window_ns=$((t1 - t0))
idle_cpu=$(awk -v s=$((a1 - a0 + b1 - b0 + c1 - c0)) -v w="$window_ns" 'BEGIN {printf "%.4f", 100 * s / w}')
idle_cpu_parts=$(awk -v a=$((a1 - a0)) -v b=$((b1 - b0)) -v c=$((c1 - c0)) -v w="$window_ns" \
  'BEGIN {printf "thread %.4f%%, event loop %.4f%%, PostgreSQL backend %.4f%%", 100*a/w, 100*b/w, 100*c/w}')
idle_server_cpu=$(awk -v s=$((p1 - p0)) -v w="$window_ns" 'BEGIN {printf "%.3f", 100 * s / w}')

# --- 2. The rush -------------------------------------------------------------------------------
# T: the next minute boundary at least 30 s away. Users 1..due are due then, at $zone's local
# time of T.
rush_at=$(psql -d rush -c "SELECT extract(epoch FROM date_trunc('minute', now() + interval '90 seconds'))::int8")
rush_day=$(psql -d rush -c "SELECT to_char(to_timestamp($rush_at) AT TIME ZONE '$zone', 'YYYY-MM-DD')")
psql -d rush -c "UPDATE users SET preferred_briefing_time = to_char(to_timestamp($rush_at) AT TIME ZONE '$zone', 'HH24:MI'),
  next_briefing_time = to_timestamp($rush_at) WHERE id <= $due" -c "VACUUM (ANALYZE) users"
psql -d rush -c "SELECT pg_stat_statements_reset()" >/dev/null
"$body_tool" write "$out" 4242 7 20
"$body_tool" check "127.0.0.1:$port" get_user "$out/get_user.bin" >/dev/null
# GetUser at a fixed rate from T - 20 s to T + RUSH_LOAD_AFTER (60 s).
sleep_until() {  # EPOCH_S: sleeps until then (at once when it has passed)
  local left=$(($1 - $(date +%s)))
  [ "$left" -le 0 ] || sleep "$left"
}
sleep_until $((rush_at - 20))
per_connection=$((rps / connections))
h2load -c "$connections" -m 8 --rps="$per_connection" -D $((20 + ${RUSH_LOAD_AFTER:-60})) \
  -H "content-type: application/grpc" \
  -H "te: trailers" -d "$out/get_user.bin" --log-file="$out/h2load.log" \
  "http://127.0.0.1:$port/firstsip.v1.UserService/GetUser" >"$out/h2load.out" 2>&1 &
h2load_pid=$!
pg_pid=$(head -n 1 "$pg_dir/data/postmaster.pid")
pg_cpu() {  # the CPU ns of every PostgreSQL process now
  local total=0 pid
  for pid in $(pgrep -P "$pg_pid") "$pg_pid"; do
    [ -r "/proc/$pid/schedstat" ] && total=$((total + $(cut -d' ' -f1 "/proc/$pid/schedstat")))
  done
  echo "$total"
}
sleep_until "$rush_at"
printf "seconds_after_T\tcreated\n" >"$out/timeline.tsv"
r0=$(date +%s%N); rs0=$(server_cpu); rp0=$(pg_cpu)
created=0
deadline=$(($(date +%s) + 300))
while [ "$created" -lt "$due" ] && [ "$(date +%s)" -lt "$deadline" ]; do
  sleep 0.5
  # From the server's counter, not a count(*) that would load PostgreSQL during the rush.
  created=$(awk -v x="$(metric firstsip_scheduled_briefings_total)" 'BEGIN {printf "%d", x}')
  printf "%s\t%s\n" "$(awk -v n="$(date +%s%N)" -v t="$rush_at" 'BEGIN {printf "%.1f", n / 1e9 - t}')" \
    "$created" >>"$out/timeline.tsv"
done
r1=$(date +%s%N); rs1=$(server_cpu); rp1=$(pg_cpu)
wait "$h2load_pid" || { echo "rush_run.sh: h2load failed: $(tail -n 3 "$out/h2load.out")" >&2; exit 1; }
h2load_pid=""
# From T to the last briefing's creation, by the database's clock.
last=$(psql -d rush -c "SELECT extract(epoch FROM max(create_time) - to_timestamp($rush_at)),
  extract(epoch FROM min(create_time) - to_timestamp($rush_at)), count(*), count(DISTINCT user_id)
  FROM briefings WHERE request_id = '$rush_day'")
IFS='|' read -r last_s first_s total distinct <<<"$last"
others=$(psql -d rush -c "SELECT count(*) FROM briefings WHERE request_id = '$rush_day' AND user_id > $due")
curl -s "http://127.0.0.1:$metrics_port/metrics" >"$out/metrics-after-rush.txt"
psql -d rush -F $'\t' -c "SELECT calls, round(mean_exec_time::numeric, 2), round(total_exec_time::numeric), rows,
    left(regexp_replace(query, '\s+', ' ', 'g'), 60)
  FROM pg_stat_statements WHERE query NOT LIKE '%pg_stat_statements%' ORDER BY total_exec_time DESC LIMIT 12" \
  >"$out/rush_statements.tsv"
batches=$(awk -F'\t' '$5 ~ /^WITH due AS MATERIALIZED/ {print $1 " statements, mean " $2 " ms"}' "$out/rush_statements.tsv")
rush_window_ns=$((r1 - r0))
rush_server_cpu=$(awk -v s=$((rs1 - rs0)) -v w="$rush_window_ns" 'BEGIN {printf "%.0f", 100 * s / w}')
rush_pg_cpu=$(awk -v s=$((rp1 - rp0)) -v w="$rush_window_ns" 'BEGIN {printf "%.0f", 100 * s / w}')
latency() {  # FROM_S TO_S (relative to T): "calls p50 p99 p99.9 not-200" (ms) of GetUsers started then
  awk -F'\t' -v t="$rush_at" -v from="$1" -v to="$2" \
    '{s = $1 / 1e6 - t; if (s >= from && s < to) printf "%.3f %d\n", $3 / 1000, $2}' \
    "$out/h2load.log" | sort -n |
    awk '{v[NR] = $1; if ($2 != 200) bad++}
      function at(q,  i) {i = int(q * NR); if (i < 1) i = 1; return v[i]}
      END {if (!NR) {print "0 - - - 0"; exit}
           printf "%d %.2f %.2f %.2f %d\n", NR, at(0.5), at(0.99), at(0.999), bad + 0}'
}
read -r base_n base_p50 base_p99 base_p999 base_bad <<<"$(latency -18 0)"
read -r rush_n rush_p50 rush_p99 rush_p999 rush_bad <<<"$(latency 0 "$last_s")"
rate=$(awk -v n="$total" -v a="$first_s" -v b="$last_s" 'BEGIN {printf "%.0f", n / (b - a)}')

{
  echo "Run on $(date -u +%Y-%m-%d), $(nproc) cores, $(uname -r), PostgreSQL" \
    "$(psql -c 'SHOW server_version' | cut -d' ' -f1) (durable: ${RUSH_PG_DURABLE:-1}), server flags: ${server_flags[*]:1}"
  echo "users $users (one briefing of yesterday each), due at once $due in $zone"
  echo
  echo "idle, ${idle_seconds} s with nobody due:"
  echo "  scheduler CPU ${idle_cpu}% of a core ($idle_cpu_parts); whole server ${idle_server_cpu}%"
  echo "  wake-ups $idle_wakeups; schedule_due statements $idle_due_calls (mean ${idle_due_ms} ms in PostgreSQL), other scheduler statements $idle_other_scheduler"
  echo
  echo "rush at T = $(date -u -d @"$rush_at" +%H:%M:%SZ) ($rush_day in $zone):"
  echo "  created $total briefings ($distinct users, $others outside the rush), first ${first_s} s after T, last ${last_s} s after T: $rate briefings/s"
  echo "  scheduler batches: $batches"
  echo "  CPU from T until all were created: server ${rush_server_cpu}% of a core, PostgreSQL ${rush_pg_cpu}%"
  echo "  GetUser at $rps/s ($connections connections): before T $base_n calls p50 $base_p50 ms p99 $base_p99 ms p99.9 $base_p999 ms ($base_bad not 200);" \
    "during the rush $rush_n calls p50 $rush_p50 ms p99 $rush_p99 ms p99.9 $rush_p999 ms ($rush_bad not 200)"
  echo "  firstsip_schedule_lag_seconds after: $(metric firstsip_schedule_lag_seconds)," \
    "firstsip_scheduled_briefings_total: $(metric firstsip_scheduled_briefings_total)"
} | tee "$out/summary.txt"
