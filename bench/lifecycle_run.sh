#!/usr/bin/env bash
# The personal-data lifecycle benchmark, one command:
#
#   flock -o /tmp/firstsip-cpu.lock bench/lifecycle_run.sh      # about 10 minutes on 2 cores
#
# On a private PostgreSQL 15 (scripts/pg-cluster.sh: fsync off, the bench cluster's settings)
# it seeds, with set-based SQL, LIFECYCLE_BRIEFINGS briefings (default 10 M) for 10 000 live
# users, created over the last 100 days in id order, so that 1 % of them (a day's worth) are
# older than 99 days; and then measures, with the service built in LIFECYCLE_BUILD_DIR:
#
#   1. erase: EraseUser of a user with 1 000 briefings (and an identity, and 1 000 change-feed
#      rows), LIFECYCLE_ERASES times, each timed by the server itself (its call log's
#      duration_ms);
#   2. the erase job: LIFECYCLE_DELETED soft-deleted users (5 briefings and an identity each)
#      past --erase-deleted-after, erased by one server while firstsip-loadgen keeps
#      CreateBriefing busy (8 in flight): users erased per second, in LIFECYCLE_JOB_ROUNDS
#      rounds (median and spread). LIFECYCLE_JOB_AB=1 makes it an A/B of the newest migration:
#      rounds alternate between the schema one migration back (A, `migrate down 1`) and the
#      head (B), LIFECYCLE_JOB_ROUNDS each;
#   3. retention: CreateBriefing's p50/p99 (firstsip-loadgen, 8 in flight, LIFECYCLE_SECONDS)
#      without retention, then while --briefing-retention=2376h (99 days) removes the 1 %, then
#      without again; how long the removal took, and what the BRIN index answers once nothing
#      is due.
#
# Prints a Markdown block for docs/BENCHMARKS.md ("Personal data lifecycle") and leaves the
# raw output in $LIFECYCLE_BUILD_DIR/lifecycle-bench/.
#
# Settings: LIFECYCLE_BUILD_DIR=build (firstsip-server, firstsip, bench/firstsip-loadgen built
# there), LIFECYCLE_STEPS=erase,job,retention (any of them), LIFECYCLE_BRIEFINGS=10000000,
# LIFECYCLE_DELETED=20000, LIFECYCLE_JOB_ROUNDS=3, LIFECYCLE_JOB_AB=0, LIFECYCLE_ERASES=10,
# LIFECYCLE_SECONDS=20, LIFECYCLE_PG_PORT=54359, LIFECYCLE_PORT=50091, LIFECYCLE_KEEP=0 (1: keep
# the cluster and its data for another look).
set -euo pipefail
cd "$(dirname "$0")/.."

build=${LIFECYCLE_BUILD_DIR:-build}
briefings=${LIFECYCLE_BRIEFINGS:-10000000}
deleted=${LIFECYCLE_DELETED:-20000}
steps=,${LIFECYCLE_STEPS:-erase,job,retention},
job_rounds=${LIFECYCLE_JOB_ROUNDS:-3}
job_ab=${LIFECYCLE_JOB_AB:-0}
erases=${LIFECYCLE_ERASES:-10}
seconds=${LIFECYCLE_SECONDS:-20}
pg_port=${LIFECYCLE_PG_PORT:-54359}
port=${LIFECYCLE_PORT:-50091}
metrics_port=$((port + 1))
live_users=10000
server=$build/server/firstsip-server
cli=$build/client/firstsip
loadgen=$build/bench/firstsip-loadgen
for tool in "$server" "$cli" "$loadgen"; do
  [ -x "$tool" ] || { echo "lifecycle_run.sh: $tool is missing: build it first" >&2; exit 1; }
done
out=$(realpath -m "$build/lifecycle-bench")
pg_dir=$out/pg
rm -rf "$out"
mkdir -p "$out"

server_pid=""
load_pid=""
cleanup() {
  [ -n "$load_pid" ] && kill "$load_pid" 2>/dev/null || true
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
  if [ "${LIFECYCLE_KEEP:-0}" != 1 ]; then
    scripts/pg-cluster.sh stop "$pg_dir" || true
    rm -rf "$pg_dir"
  fi
}
trap cleanup EXIT

scripts/pg-cluster.sh start "$pg_dir" "$pg_port" >/dev/null
psql() { command psql -h 127.0.0.1 -p "$pg_port" -U postgres -v ON_ERROR_STOP=1 -qAt "$@"; }
psql -c "CREATE DATABASE bench"
dsn="postgresql://postgres@127.0.0.1:$pg_port/bench?sslmode=disable"
export ENCRYPTION_KEY=${ENCRYPTION_KEY:-$(openssl rand -base64 32)}
"$server" --database-url="$dsn" migrate up >"$out/migrate.log" 2>&1

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

echo "seeding $live_users users and $briefings briefings over 100 days" >&2
seed_started=$(now)
psql -d bench <<SQL
INSERT INTO users (email, name) SELECT 'user' || i || '@bench.local', 'User ' || i
  FROM generate_series(1, $live_users) i;
INSERT INTO auth_identities (user_id, provider, provider_user_id, access_token)
  SELECT i, 'google', 'sub-' || i, '\\x00'::bytea FROM generate_series(1, $live_users) i;
-- Oldest first in id order, as CreateBriefing writes them: briefing g was created
-- 100 days * (1 - g / N) ago, so the first 1 % are older than 99 days.
INSERT INTO briefings (user_id, status, content, create_time, update_time)
  SELECT 1 + g % $live_users, 'completed', jsonb_build_object('news', 'headline ' || g, 'n', g),
         now() - interval '100 days' * (1 - g::float8 / $briefings),
         now() - interval '100 days' * (1 - g::float8 / $briefings)
  FROM generate_series(1, $briefings) g;
VACUUM (ANALYZE);
SQL
seed_seconds=$(elapsed "$seed_started" "$(now)")
table_size=$(psql -d bench -c "SELECT pg_size_pretty(pg_total_relation_size('briefings'))")
brin_size=$(psql -d bench -c "SELECT pg_size_pretty(pg_relation_size('briefings_create_time_brin'))")
past=$(psql -d bench -c "SELECT count(*) FROM briefings WHERE create_time < now() - interval '99 days'")
echo "seeded in ${seed_seconds}s: briefings $table_size (BRIN $brin_size), $past past 99 days" >&2

start_server() {  # LOG FLAGS...
  local log=$1
  shift
  "$server" --database-url="$dsn" --listen="127.0.0.1:$port" \
    --metrics-listen="127.0.0.1:$metrics_port" --log-level=info "$@" >"$log" 2>&1 &
  server_pid=$!
  for _ in $(seq 1 200); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
    kill -0 "$server_pid" 2>/dev/null || { tail -n 20 "$log" >&2; exit 1; }
    sleep 0.05
  done
  echo "lifecycle_run.sh: the server does not listen" >&2
  exit 1
}
stop_server() {
  kill "$server_pid"
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
}
metric() {  # NAME_AND_LABELS: the value on the server's metrics page, 0 when absent
  curl -s "http://127.0.0.1:$metrics_port/metrics" | awk -v m="$1" 'index($0, m) == 1 { v = $2 } END { print v + 0 }'
}
create_briefings() {  # SECONDS OUT: firstsip-loadgen's CreateBriefing line
  "$loadgen" --target="127.0.0.1:$port" --rpc=create_briefing --concurrency=8 \
    --seconds="$1" --warmup=1 --users="$live_users" >"$2"
}

# --- 1. EraseUser of a user with 1 000 briefings ----------------------------------------------
erase_summary=""
if [[ $steps == *,erase,* ]]; then
  echo "erase: $erases users with 1000 briefings each" >&2
  psql -d bench <<SQL
INSERT INTO users (email, name) SELECT 'erase' || i || '@bench.local', 'Erase ' || i
  FROM generate_series(1, $erases) i;
INSERT INTO auth_identities (user_id, provider, provider_user_id, access_token, refresh_token)
  SELECT id, 'google', 'erase-sub-' || id, '\\x0102'::bytea, '\\x0304'::bytea FROM users
  WHERE email LIKE 'erase%';
INSERT INTO briefings (user_id, status, content)
  SELECT u.id, 'completed', jsonb_build_object('news', 'headline ' || g, 'n', g)
  FROM users u CROSS JOIN generate_series(1, 1000) g WHERE u.email LIKE 'erase%';
INSERT INTO briefing_changes (user_id, change_seq, briefing_id, status, update_time)
  SELECT b.user_id, row_number() OVER (PARTITION BY b.user_id ORDER BY b.id), b.id, b.status,
         b.update_time
  FROM briefings b JOIN users u ON u.id = b.user_id WHERE u.email LIKE 'erase%';
VACUUM (ANALYZE);
SQL
  start_server "$out/erase.log" --erase-deleted-after=0
  for id in $(psql -d bench -c "SELECT id FROM users WHERE email LIKE 'erase%' ORDER BY id"); do
    etag="r$(psql -d bench -c "SELECT revision FROM users WHERE id = $id")"
    "$cli" --target="127.0.0.1:$port" users erase "$id" --etag="$etag" >/dev/null
  done
  stop_server
  erase_ms=$(grep '"EraseUser"\|EraseUser' "$out/erase.log" | grep -o '"duration_ms":[0-9.]*' |
    cut -d: -f2 | sort -n)
  erase_left=$(psql -d bench -c "SELECT count(*) FROM briefings b JOIN erased_users e ON e.id = b.user_id")
  erase_summary=$(awk '{ v[NR] = $1; s += $1 } END { printf "median %.1f ms, max %.1f ms, mean %.1f ms over %d", v[int((NR + 1) / 2)], v[NR], s / NR, NR }' <<<"$erase_ms")
  echo "erase: $erase_summary (briefings left of erased users: $erase_left)" >&2
fi

# --- 2. The erase job while serving -----------------------------------------------------------
# One round: LIFECYCLE_DELETED users soft-deleted 31 days ago, a server that erases them while
# CreateBriefing runs at 8 in flight; appends "LABEL users/s seconds batches calls/s p50 p99".
erase_job_round() {  # LABEL
  psql -d bench <<SQL
INSERT INTO users (email, delete_time) SELECT 'gone' || i || '@bench.local',
  now() - interval '31 days' - i * interval '1 second' FROM generate_series(1, $deleted) i;
INSERT INTO auth_identities (user_id, provider, provider_user_id, access_token)
  SELECT id, 'google', 'gone-sub-' || id, '\\x00'::bytea FROM users WHERE delete_time IS NOT NULL;
INSERT INTO briefings (user_id, status)
  SELECT u.id, 'completed' FROM users u CROSS JOIN generate_series(1, 5)
  WHERE u.delete_time IS NOT NULL;
VACUUM (ANALYZE);
SQL
  start_server "$out/erase-job-$1.log" --lifecycle-interval=1s
  # The job's first pass starts one --lifecycle-interval after the server starts its jobs,
  # just before it listens.
  local started finished="" left
  started=$(awk -v t="$(now)" 'BEGIN { printf "%.3f", t + 1 }')
  create_briefings $((seconds + 10)) "$out/erase-job-load.tsv" &
  load_pid=$!
  # Progress from the server's metrics page, not from PostgreSQL: a psql every 100 ms (a
  # process, a backend, a query) cost the two cores enough to move CreateBriefing's p99.
  for _ in $(seq 1 $(((seconds + 10) * 5))); do
    if [ "$(metric 'firstsip_lifecycle_removed_total{what="users"}')" -ge "$deleted" ]; then
      finished=$(now)
      break
    fi
    sleep 0.2
  done
  wait "$load_pid"
  load_pid=""
  local batches
  batches=$(metric 'firstsip_lifecycle_batches_total{job="erase_deleted_users",outcome="ok"}')
  stop_server
  [ -n "$finished" ] || { echo "lifecycle_run.sh: the erase job did not finish" >&2; exit 1; }
  local took
  took=$(elapsed "$started" "$finished")
  awk -F'\t' -v label="$1" -v n="$deleted" -v s="$took" -v b="$batches" \
    '{ printf "%s %.0f %s %s %s %.2f %.2f\n", label, n / s, s, b, $5, $6, $7 }' \
    "$out/erase-job-load.tsv" | tee -a "$out/erase-job.txt" >&2
}
# "median (min-max)" of column COLUMN of the rounds labelled LABEL in erase-job.txt.
job_stat() {  # LABEL COLUMN
  awk -v label="$1" -v c="$2" '$1 == label { print $c }' "$out/erase-job.txt" | sort -g |
    awk '{ v[NR] = $1 } END { printf "%s (%s-%s)", v[int((NR + 1) / 2)], v[1], v[NR] }'
}
job_line() {  # LABEL: the round's figures in words
  echo "$(job_stat "$1" 2) users/s over $(awk -v l="$1" '$1 == l' "$out/erase-job.txt" | wc -l) rounds; CreateBriefing meanwhile $(job_stat "$1" 5) calls/s, p99 $(job_stat "$1" 7) ms"
}
if [[ $steps == *,job,* ]]; then
  echo "erase job: $deleted soft-deleted users past the window, CreateBriefing at 8 in flight" >&2
  : >"$out/erase-job.txt"
  for round in $(seq 1 "$job_rounds"); do
    if [ "$job_ab" = 1 ]; then
      "$server" --database-url="$dsn" migrate down 1 >>"$out/migrate.log" 2>&1
      erase_job_round A
      "$server" --database-url="$dsn" migrate up >>"$out/migrate.log" 2>&1
    fi
    erase_job_round B
  done
fi

# --- 3. Retention of 1 % of the briefings -----------------------------------------------------
ret_report=""
if [[ $steps == *,retention,* ]]; then
  # CreateBriefing is measured in 2-second runs of firstsip-loadgen back to back: while the removal
  # goes on (from the server's start until nothing is past the horizon), and for as many runs
  # without retention before and after it. Each row gives the median and the worst run's p99.
  chunks() {  # OUT COUNT | OUT until-file: 2 s runs, COUNT of them or until the file exists
    local out=$1 count=$2 i=0
    : >"$out"
    while :; do
      "$loadgen" --target="127.0.0.1:$port" --rpc=create_briefing --concurrency=8 --seconds=2 \
        --warmup=0.2 --users="$live_users" >>"$out"
      i=$((i + 1))
      if [[ "$count" =~ ^[0-9]+$ ]]; then [ "$i" -ge "$count" ] && break; else [ -e "$count" ] && break; fi
    done
  }
  echo "retention: baseline, during the removal of $past briefings, baseline again" >&2
  start_server "$out/baseline-1.log" --erase-deleted-after=0
  chunks "$out/baseline-1.tsv" $((seconds / 2))
  stop_server
  rm -f "$out/retention.done"
  start_server "$out/retention.log" --erase-deleted-after=0 --briefing-retention=2376h \
    --lifecycle-interval=1s
  chunks "$out/retention-load.tsv" "$out/retention.done" &
  load_pid=$!
  ret_started=$(now)
  ret_finished=""
  # Done when the server has removed as many as were past the horizon at the start (the
  # metrics page, polled every 200 ms: see the erase job's loop for why not PostgreSQL).
  for _ in $(seq 1 6000); do
    if [ "$(metric 'firstsip_lifecycle_removed_total{what="briefings"}')" -ge "$past" ]; then
      ret_finished=$(now)
      horizon=$(psql -d bench -c "SELECT now() - interval '99 days'")
      break
    fi
    sleep 0.2
  done
  touch "$out/retention.done"
  wait "$load_pid"
  load_pid=""
  removed=$(metric 'firstsip_lifecycle_removed_total{what="briefings"}')
  ret_batches=$(metric 'firstsip_lifecycle_batches_total{job="briefing_retention",outcome="ok"}')
  ret_batch_sum=$(metric 'firstsip_lifecycle_batch_duration_seconds_sum{job="briefing_retention"}')
  stop_server
  start_server "$out/baseline-2.log" --erase-deleted-after=0
  chunks "$out/baseline-2.tsv" $((seconds / 2))
  stop_server
  # What the index erasure needs (briefings_user_id_idx, migration 000009) costs CreateBriefing:
  # the same runs without it (dropped for good: this is the end of the run).
  psql -d bench -c "DROP INDEX briefings_user_id_idx"
  start_server "$out/no-index.log" --erase-deleted-after=0
  chunks "$out/no-index.tsv" $((seconds / 2))
  stop_server
  [ -n "$ret_finished" ] || { echo "lifecycle_run.sh: retention did not finish" >&2; exit 1; }
  # The server's first pass starts one --lifecycle-interval (1 s) after it starts listening.
  ret_seconds=$(elapsed "$ret_started" "$ret_finished")
  row() {  # NAME FILE: runs, calls/s (mean), p50 (median run), p99 (median run, worst run)
    local runs rps p50 p99 worst
    runs=$(wc -l <"$2")
    rps=$(awk -F'\t' '{ s += $5 } END { printf "%.0f", s / NR }' "$2")
    p50=$(cut -f6 "$2" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
    p99=$(cut -f7 "$2" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
    worst=$(cut -f7 "$2" | sort -g | tail -n 1)
    printf '| %s | %s | %s | %.2f | %.2f | %.2f |\n' "$1" "$runs" "$rps" "$p50" "$p99" "$worst"
  }
  idle_plan=$(psql -d bench -c "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF, SUMMARY OFF)
    SELECT b.id FROM briefings b WHERE b.create_time < '$horizon' LIMIT 500" |
    tr '\n' ' ' | sed 's/  */ /g')
  idle_ms=$(psql -d bench -c "EXPLAIN (ANALYZE, FORMAT JSON) SELECT * FROM
    firstsip_remove_old_briefings('$horizon', 500)" |
    grep -o '"Execution Time": [0-9.]*' | awk '{ print $3 }')
  ret_report=$(cat <<MD
- **Retention of 1 % of $briefings briefings** (\`--briefing-retention=2376h\`): $removed
  briefings removed in $ret_seconds s from the server's start ($ret_batches batches of up to 100,
  $(awk -v s="$ret_batch_sum" -v n="$ret_batches" 'BEGIN { printf "%.1f", n ? 1000 * s / n : 0 }') ms each on
  average), CreateBriefing at 8 in flight meanwhile and before and after, without retention:

| CreateBriefing, 2 s runs | runs | calls/s | p50 ms | p99 ms (median run) | p99 ms (worst run) |
|---|---|---|---|---|---|
$(row "without retention" "$out/baseline-1.tsv")
$(row "while retention removes 1 %" "$out/retention-load.tsv")
$(row "without retention, again" "$out/baseline-2.tsv")
$(row "without retention or briefings_user_id_idx" "$out/no-index.tsv")

- Once nothing is past the horizon (the horizon when the removal ended), one retention batch
  (the function, planned for the actual horizon) takes $idle_ms ms: $idle_plan
MD
)
fi

cat <<MD
Seeded: $live_users users, $briefings briefings (\`briefings\` $table_size, its BRIN index on
\`create_time\` $brin_size), in ${seed_seconds} s; $past of them (1 %) created more than 99 days ago.

MD
if [ -n "$erase_summary" ]; then
  cat <<MD
- **EraseUser of a user with 1 000 briefings** (an identity with two tokens, 1 000 change-feed
  rows): $erase_summary erasures, as the server's call log times them.
MD
fi
if [ -s "$out/erase-job.txt" ]; then
  cat <<MD
- **Erase job while serving**: $deleted users soft-deleted 31 days ago (an identity and 5
  briefings each) erased by one server (batches of up to 500) while CreateBriefing ran at 8 in
  flight, median (min-max): **$(job_line B)**.
MD
  if [ "$job_ab" = 1 ]; then
    cat <<MD
- A/B of the newest migration, rounds alternating: A (one migration back) $(job_line A);
  B (head) $(job_line B).
MD
  fi
fi
[ -z "$ret_report" ] || echo "$ret_report"
