#!/usr/bin/env bash
# The benchmark, one command. Builds (Release) into build-bench/, starts a private PostgreSQL,
# seeds it, and in one run on this machine measures, one server at a time:
#   - the service (firstsip-server): GetUser, ListBriefings, SignIn, CreateBriefing at each
#     concurrency;
#   - the Go equivalent (bench/go: grpc-go + pgx), the same calls with the same load generator
#     at the same points;
#   - the bare gRPC server (bench/bare_server.cc: GetUser answered with a constant);
#   - pgbench with the service's own statements, plain (-M prepared) and pipelined;
# and prints them side by side: service/Go, service/bare, service/combined limit (1 / (1/bare
# GetUser RPS + 1/pgbench pipelined statements per second)), the load generator's CPU per call
# and the servers' memory. Results go to build-bench/bench-results/ (results.tsv, summary.md);
# the results section of docs/BENCHMARKS.md and docs/benchmarks.png are rewritten.
#
# Order: for each call, the service at every concurrency, then Go at every concurrency (each
# server started for the call and stopped after it); then the bare server; then pgbench. Calls
# run in the order above, so CreateBriefing's new rows never reach the ListBriefings pages.
#
# Load generators: h2load (nghttp2-client) for GetUser and ListBriefings, whose request can be
# one fixed body (an existing user; a user with 20 briefings, a page of 20), written by
# firstsip-grpc-body from the generated protos; c x m = concurrency (4 connections x m streams,
# 1 x 1 below 4). firstsip-loadgen (bench/load_generator.cc, gRPC C++ callback client) for SignIn
# and CreateBriefing, which need a different request each call. "gen µs/call" is the load
# generator's user + system CPU (GNU time) over the calls it completed, warm-up included.
# Each h2load point is a 1 s warm-up run and then the measured run without --warm-up-time:
# h2load counts the warm-up's DATA bytes but not its calls, and the OK check needs both.
#
# OK statuses (h2load counts any HTTP 200 as a success, even with a gRPC error in the trailers):
# before each h2load point firstsip-grpc-body sends the same body and checks the answer (status
# OK, the user asked for, a full page with content); after it, the DATA h2load received must be
# one such answer per call (a gRPC error carries no message); for the service, its Prometheus
# counters (--metrics-listen) must show no non-OK call of the method. firstsip-loadgen counts
# non-OK statuses itself, warm-up included. Any error fails the run.
#
#   flock /tmp/firstsip-cpu.lock bench/run.sh        # the defaults: about 6 minutes on 2 cores
#   BENCH_SECONDS=2 BENCH_CONCURRENCY="8 64" bench/run.sh
#   BENCH_AB_BINARY=/path/to/other/firstsip-server BENCH_RPCS=get_user BENCH_GO=0 bench/run.sh
#
# Settings (environment; lists are split on spaces, no quoting inside them):
#   BENCH_SECONDS=5                 measured seconds per point, an integer (+1 s warm-up each)
#   BENCH_CONCURRENCY="1 8 64 256"  calls in flight
#   BENCH_RPCS="get_user list_briefings sign_in create_briefing"   a subset; always run in this order
#   BENCH_GO=1                      0: leave out the Go server (left out, saying so, when
#                                   bench/go/build.sh is absent)
#   BENCH_BARE=1, BENCH_PGBENCH=1   0: leave out the bare server / pgbench
#   BENCH_PIPELINE_DEPTH=16         statements per pgbench pipeline
#   BENCH_PGBENCH_CLIENTS="8 64"
#   BENCH_GROWTH=0                  1: then grow briefings to 1 M rows and measure ListBriefings
#                                   again (c=8, same user's page); about a minute of inserts
#   BENCH_AB_BINARY=PATH            a second firstsip-server, B, against this tree's, A: each call
#                                   measured A, B, A, B (BENCH_ROUNDS, default 2, rounds); Go once.
#                                   A and B need the same migrations (one database). The summary
#                                   adds each round's RPS and B/A.
#   BENCH_A_BINARY=PATH             A other than build-bench/server/firstsip-server
#   BENCH_STANDBY=a|b|ab            after seeding, give the cluster a streaming hot standby
#                                   (pg_basebackup -R, port BENCH_PG_PORT+1) and start the named
#                                   service(s) with --read-database-url on it: e.g. the same
#                                   binary as B with BENCH_STANDBY=b measures reads on a standby
#                                   against reads on the primary, in one run
#   BENCH_SERVER_ENV, BENCH_A_ENV, BENCH_B_ENV       "VAR=value ..." for A and B / A / B, e.g.
#                                   BENCH_B_ENV="LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"
#   BENCH_SERVER_FLAGS, BENCH_A_FLAGS, BENCH_B_FLAGS extra server flags, same scheme
#   BENCH_DOCS=1                    0: leave docs/BENCHMARKS.md and docs/benchmarks.png alone
#   BENCH_BUILD_DIR=build-bench, BENCH_PG_PORT=54339, BENCH_PORT_BASE=50071 (uses base..base+6)
#
# The machine's cores are shared by load generator, server and PostgreSQL: compare ratios
# within one run, not absolute figures across runs. On a shared machine run it under
# `flock /tmp/firstsip-cpu.lock` (the script takes no lock itself).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

seconds=${BENCH_SECONDS:-5}
levels=${BENCH_CONCURRENCY:-1 8 64 256}
want_rpcs=${BENCH_RPCS:-get_user list_briefings sign_in create_briefing}
want_go=${BENCH_GO:-1}
want_bare=${BENCH_BARE:-1}
want_pgbench=${BENCH_PGBENCH:-1}
depth=${BENCH_PIPELINE_DEPTH:-16}
pg_clients=${BENCH_PGBENCH_CLIENTS:-8 64}
growth=${BENCH_GROWTH:-0}
ab_binary=${BENCH_AB_BINARY:-}
rounds=1
[ -n "$ab_binary" ] && rounds=${BENCH_ROUNDS:-2}
write_docs=${BENCH_DOCS:-1}
users=10000
list_users=500       # users with 20 briefings each: 10 k briefings to start with
get_user_id=4242     # the user h2load's GetUser asks for
list_user_id=7       # the user whose first page (20) h2load's ListBriefings asks for
port=${BENCH_PG_PORT:-54339}
base=${BENCH_PORT_BASE:-50071}
a_port=$base b_port=$((base + 1)) go_port=$((base + 2)) bare_port=$((base + 3))
a_metrics=$((base + 4)) b_metrics=$((base + 5))
build=${BENCH_BUILD_DIR:-build-bench}
out=$build/bench-results
points_dir=$out/points

[[ "$seconds" =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: BENCH_SECONDS must be a whole number" >&2; exit 2; }
rpcs=""
for rpc in get_user list_briefings sign_in create_briefing; do
  [[ " $want_rpcs " == *" $rpc "* ]] && rpcs="$rpcs $rpc"
done
rpcs=${rpcs# }
[ -n "$rpcs" ] || { echo "run.sh: BENCH_RPCS names no known call" >&2; exit 2; }
for c in $levels; do
  [[ "$c" =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: bad concurrency $c" >&2; exit 2; }
  if [ "$c" -ge 4 ] && [ $((c % 4)) -ne 0 ]; then
    echo "run.sh: concurrency $c: h2load spreads it over 4 connections, use a multiple of 4" >&2
    exit 2
  fi
done
[ -z "$ab_binary" ] || [ -x "$ab_binary" ] || { echo "run.sh: $ab_binary is not executable" >&2; exit 2; }
# --- Tools -----------------------------------------------------------------------------------
scripts/install-deps.sh
need=()
command -v h2load >/dev/null || need+=(nghttp2-client)
[ -x /usr/bin/time ] || need+=(time)
command -v gnuplot >/dev/null || need+=(gnuplot-nox)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    echo "run.sh: installing ${need[*]}" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" \
      >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
      --no-install-recommends "${need[@]}" >/dev/null; } || true
  fi
  if ! command -v h2load >/dev/null || [ ! -x /usr/bin/time ]; then
    echo "run.sh: needs nghttp2-client and time (run as root to install them)" >&2
    exit 1
  fi
fi
BUILD_DIR=$build BUILD_TYPE=Release scripts/build.sh -DFIRSTSIP_BUILD_TESTS=OFF >/dev/null
a_binary=${BENCH_A_BINARY:-$build/server/firstsip-server}
rm -rf "$points_dir"
mkdir -p "$out" "$points_dir"
tools=$build/bench
report() { python3 "$repo/bench/report.py" "$@"; }

go_binary=""
go_note=""
if [ "$want_go" = 0 ]; then
  go_note="BENCH_GO=0"
elif [ ! -x bench/go/build.sh ]; then
  go_note="bench/go/build.sh is not there"
  echo "run.sh: $go_note; measuring without Go" >&2
else
  bench/go/build.sh "$build/go" >&2
  go_binary=$build/go/firstsip-go-bench
  [ -x "$go_binary" ] || { echo "run.sh: bench/go/build.sh made no $go_binary" >&2; exit 1; }
fi

# --- Database --------------------------------------------------------------------------------
pg_dir=$(mktemp -d /tmp/firstsip-bench-pg.XXXXXX)
chmod 755 "$pg_dir"
server_pid=""
load_pid=""
cleanup() {
  if [ -n "$load_pid" ]; then  # GNU time, and the load generator it runs
    local -a children
    read -ra children <<<"$(ps -o pid= --ppid "$load_pid" | tr '\n' ' ')"
    kill ${children[@]+"${children[@]}"} "$load_pid" 2>/dev/null || true
  fi
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if [ -f "$pg_dir/standby/postmaster.pid" ]; then
    as_postgres "$pg_bin/pg_ctl" -D "$pg_dir/standby" -m fast -w stop >/dev/null 2>&1 || true
  fi
  scripts/pg-cluster.sh stop "$pg_dir" || true
  rm -rf "$pg_dir"
}
trap cleanup EXIT

scripts/pg-cluster.sh start "$pg_dir" "$port" >/dev/null
pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
as_postgres() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
psql() { command psql -h 127.0.0.1 -p "$port" -U postgres -v ON_ERROR_STOP=1 -qAt "$@"; }
psql -c "CREATE DATABASE bench"
dsn="postgresql://postgres@127.0.0.1:$port/bench?sslmode=disable"
export ENCRYPTION_KEY=${ENCRYPTION_KEY:-$(openssl rand -base64 32)}

"$a_binary" --database-url="$dsn" migrate up 2>/dev/null
"$tools/firstsip-pgbench-scripts" "$out" "$depth"
"$tools/firstsip-grpc-body" write "$out" "$get_user_id" "$list_user_id" 20
content_json=$(cat "$out/seed_content.json")
echo "seeding $users users, $users identities, $((list_users * 20)) briefings" \
  "($(wc -c <"$out/seed_content.json") bytes of JSON content each)" >&2
# content only: the content_proto column is no longer written (jsonb is the one source).
psql -d bench <<SQL
INSERT INTO users (email, name) SELECT 'user' || i || '@bench.local', 'User ' || i
  FROM generate_series(1, $users) i;
INSERT INTO auth_identities (user_id, provider, provider_user_id, access_token)
  SELECT i, 'google', 'sub-' || i, '\\x00'::bytea FROM generate_series(1, $users) i;
INSERT INTO briefings (user_id, status, content)
  SELECT 1 + (i % $list_users), 'completed', '$content_json'
  FROM generate_series(1, $((list_users * 20))) i;
VACUUM (ANALYZE);
SQL

standby=${BENCH_STANDBY:-}
standby_flag=""
if [ -n "$standby" ]; then
  [[ "$standby" =~ ^(a|b|ab)$ ]] || { echo "run.sh: BENCH_STANDBY must be a, b or ab" >&2; exit 2; }
  standby_port=$((port + 1))
  standby_fail() { echo "run.sh: standby: $1" >&2; tail -n 5 "$2" >&2; exit 1; }
  # PostgreSQL 15's defaults (wal_level replica, 10 WAL senders, trust for replication from
  # 127.0.0.1 after initdb -A trust) let the scratch cluster stream to a standby as it is.
  as_postgres "$pg_bin/pg_basebackup" -h 127.0.0.1 -p "$port" -U postgres -D "$pg_dir/standby" \
    -R -X stream --checkpoint=fast >"$out/basebackup.log" 2>&1 || standby_fail "pg_basebackup failed" "$out/basebackup.log"
  as_postgres "$pg_bin/pg_ctl" -D "$pg_dir/standby" -l "$pg_dir/standby.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -c unix_socket_directories= -p $standby_port \
        -c hot_standby=on -c fsync=off -c max_connections=200 -c shared_buffers=128MB" \
    start >/dev/null || standby_fail "did not start" "$pg_dir/standby.log"
  standby_flag="--read-database-url=postgresql://postgres@127.0.0.1:$standby_port/bench?sslmode=disable"
  echo "standby streaming on 127.0.0.1:$standby_port for service $standby" >&2
fi

# --- Servers ---------------------------------------------------------------------------------
# start_server LABEL PORT LOG COMMAND...: starts it, waits until PORT accepts connections.
start_server() {
  local label=$1 listen_port=$2 log=$3
  shift 3
  if (exec 3<>"/dev/tcp/127.0.0.1/$listen_port") 2>/dev/null; then
    echo "run.sh: port $listen_port is taken by another program; set BENCH_PORT_BASE" >&2
    exit 1
  fi
  "$@" >"$log" 2>&1 &
  server_pid=$!
  for _ in $(seq 1 200); do
    if ! kill -0 "$server_pid" 2>/dev/null; then
      server_pid=""
      echo "run.sh: $label exited at start-up:" >&2
      tail -n 20 "$log" >&2
      exit 1
    fi
    (exec 3<>"/dev/tcp/127.0.0.1/$listen_port") 2>/dev/null && return 0
    sleep 0.05
  done
  echo "run.sh: $label does not listen on $listen_port after 10 s:" >&2
  tail -n 20 "$log" >&2
  exit 1
}
stop_server() {
  kill "$server_pid"
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
}

# The service as A or B: binary, environment and flags.
start_service() {  # a|b
  local which=$1 binary listen metrics env_list flag_list
  local -a envs flags
  if [ "$which" = a ]; then
    binary=$a_binary listen=$a_port metrics=$a_metrics
    env_list="${BENCH_SERVER_ENV:-} ${BENCH_A_ENV:-}" flag_list="${BENCH_SERVER_FLAGS:-} ${BENCH_A_FLAGS:-}"
  else
    binary=$ab_binary listen=$b_port metrics=$b_metrics
    env_list="${BENCH_SERVER_ENV:-} ${BENCH_B_ENV:-}" flag_list="${BENCH_SERVER_FLAGS:-} ${BENCH_B_FLAGS:-}"
  fi
  read -ra envs <<<"$env_list"
  read -ra flags <<<"$flag_list"
  [[ -n "$standby_flag" && "$standby" == *"$which"* ]] && flags+=("$standby_flag")
  start_server "service $which" "$listen" "$out/server-$which.log" \
    env ${envs[@]+"${envs[@]}"} "$binary" --database-url="$dsn" --listen="127.0.0.1:$listen" \
    --metrics-listen="127.0.0.1:$metrics" --log-level=warning ${flags[@]+"${flags[@]}"}
}

# --- Points ----------------------------------------------------------------------------------
results=$out/results.tsv
printf "system\trpc\tconcurrency\tround\tgenerator\tcalls\terrors\trps\tp50_ms\tp99_ms\tp999_ms" >"$results"
printf "\tgen_cpu_us_per_call\tserver_rss_max_kb\tserver_hwm_kb\n" >>"$results"
users_for() { [ "$1" = list_briefings ] && echo "$list_users" || echo "$users"; }
uses_h2load() { [ "$1" = get_user ] || [ "$1" = list_briefings ]; }
url_path() {
  case $1 in
    get_user) echo /firstsip.v1.UserService/GetUser ;;
    list_briefings) echo /firstsip.v1.BriefingService/ListBriefings ;;
  esac
}
method_name() {
  case $1 in
    get_user) echo GetUser ;; list_briefings) echo ListBriefings ;;
    sign_in) echo SignIn ;; create_briefing) echo CreateBriefing ;;
  esac
}
status_kb() {  # PID FIELD: a /proc/PID/status field in kB, "-" when unreadable
  local key value rest
  while read -r key value rest; do
    [ "$key" = "$2:" ] && { echo "$value"; return; }
  done 2>/dev/null <"/proc/$1/status" || true
  echo -
}
die() {
  echo "run.sh: FAILED: $*" >&2
  exit 1
}

# wait_sampling PID: waits for the load generator, sampling the server's VmRSS meanwhile.
rss_max=0
wait_sampling() {
  local pid=$1 rss
  rss_max=0
  load_pid=$pid
  while kill -0 "$pid" 2>/dev/null; do
    if [ -n "$server_pid" ]; then
      rss=$(status_kb "$server_pid" VmRSS)
      [ "$rss" != - ] && [ "$rss" -gt "$rss_max" ] && rss_max=$rss
    fi
    sleep 0.25
  done
  load_pid=""
  wait "$pid"
}

# point SYSTEM RPC CONCURRENCY ROUND PORT [METRICS_PORT]: one measurement, one results row.
point() {
  local system=$1 rpc=$2 c=$3 round=$4 target=127.0.0.1:$5 metrics=${6:-}
  local tag=$points_dir/$system-$rpc-c$c-r$round generator line completed message_bytes=""
  local before="" after ok_before reset_before bad_before ok_after reset_after bad_after calls
  local resets_allowed=0
  if uses_h2load "$rpc" && [[ "$system" != *-loadgen ]]; then
    local conns=4 streams body=$out/$rpc.bin
    [ "$c" -lt 4 ] && conns=$c
    streams=$((c / conns))
    generator="h2load ${conns}x$streams"
    message_bytes=$("$tools/firstsip-grpc-body" check "$target" "$rpc" "$body") ||
      die "$system does not answer $rpc's body OK"
    # h2load resets the streams in flight when its time is up, the warm-up's and its own: the
    # service records those as CANCELLED, or INVALID_ARGUMENT when the request had not arrived.
    resets_allowed=$((2 * c))
    local h2=(h2load -c "$conns" -m "$streams" -H "content-type: application/grpc"
      -H "te: trailers" -d "$body" "http://$target$(url_path "$rpc")")
    "${h2[@]}" -D 1 >"$tag.warmup" 2>&1 || die "h2load warm-up: $(tail -n 3 "$tag.warmup")"
    [ -n "$metrics" ] && before=$(report calls "http://127.0.0.1:$metrics/metrics" "$(method_name "$rpc")")
    rm -f "$tag.log"
    /usr/bin/time -f "%U %S" -o "$tag.time" "${h2[@]}" -D "$seconds" --log-file="$tag.log" \
      >"$tag.out" 2>&1 &
    wait_sampling $! || die "h2load: $(tail -n 3 "$tag.out")"
    line=$(report h2load "$tag.out" "$tag.log" "$seconds" "$message_bytes") ||
      die "$system $rpc c=$c: see $tag.out"
    completed=$(cut -f1 <<<"$line")
  else
    generator=firstsip-loadgen
    [ -n "$metrics" ] && before=$(report calls "http://127.0.0.1:$metrics/metrics" "$(method_name "$rpc")")
    /usr/bin/time -f "%U %S" -o "$tag.time" "$tools/firstsip-loadgen" --target="$target" \
      --rpc="$rpc" --concurrency="$c" --seconds="$seconds" --warmup=1 \
      --users="$(users_for "$rpc")" >"$tag.out" 2>"$tag.err" &
    wait_sampling $! || die "firstsip-loadgen: $(tail -n 3 "$tag.err")"
    line=$(cut -f3-8 "$tag.out")
    completed=$(cut -f9 "$tag.out")
    [ "$(cut -f2 <<<"$line")" = 0 ] ||
      die "$system $rpc c=$c: $(cut -f2 <<<"$line") calls failed: $(head -n 3 "$tag.err")"
  fi
  calls=$(cut -f1 <<<"$line")
  if [ -n "$metrics" ]; then
    sleep 0.2  # the server counts a call just after answering it
    after=$(report calls "http://127.0.0.1:$metrics/metrics" "$(method_name "$rpc")")
    read -r ok_before reset_before bad_before <<<"$before"
    read -r ok_after reset_after bad_after <<<"$after"
    if [ "$bad_after" -ne "$bad_before" ] ||
      [ $((reset_after - reset_before)) -gt "$resets_allowed" ]; then
      die "$system $rpc c=$c: its metrics count $((bad_after - bad_before + reset_after - reset_before))" \
        "non-OK calls:" "$(curl -s "http://127.0.0.1:$metrics/metrics" | grep "requests_total.*$(method_name "$rpc")")"
    fi
    [ $((ok_after - ok_before)) -ge "$calls" ] ||
      die "$system $rpc c=$c: its metrics count $((ok_after - ok_before)) OK calls, the load generator $calls"
  fi
  [ -z "$server_pid" ] || kill -0 "$server_pid" 2>/dev/null || die "$system died during $rpc c=$c"
  local cpu hwm=- rss=-
  cpu=$(awk -v n="$completed" '{ if (n > 0) printf "%.1f", ($1 + $2) * 1e6 / n; else print "-" }' "$tag.time")
  if [ -n "$server_pid" ]; then
    hwm=$(status_kb "$server_pid" VmHWM)
    rss=$rss_max
  fi
  printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n" "$system" "$rpc" "$c" "$round" "$generator" \
    "$line" "$cpu" "$rss" "$hwm" >>"$results"
  printf "%-12s %-15s c=%-3s %-18s %s  gen %s µs/call  rss %s kB%s\n" "$system" "$rpc" "$c" \
    "$generator" "$(cut -f3-6 <<<"$line" | tr '\t' ' ')" "$cpu" "$rss" \
    "${message_bytes:+  answer $message_bytes bytes}" >&2
}

# With BENCH_STANDBY: where a service's reads went (firstsip_db_reads_total), before it stops.
report_reads() {  # a|b METRICS_PORT RPC
  [[ -n "$standby_flag" && "$standby" == *"$1"* ]] || return 0
  echo "service $1 $3: reads so far: $(curl -s "http://127.0.0.1:$2/metrics" |
    awk '/^firstsip_db_reads_total/ {printf "%s ", $0}')" >&2
}

for rpc in $rpcs; do
  for round in $(seq 1 "$rounds"); do
    start_service a
    for c in $levels; do point service "$rpc" "$c" "$round" "$a_port" "$a_metrics"; done
    report_reads a "$a_metrics" "$rpc"
    stop_server
    if [ -n "$ab_binary" ]; then
      start_service b
      for c in $levels; do point service-b "$rpc" "$c" "$round" "$b_port" "$b_metrics"; done
      report_reads b "$b_metrics" "$rpc"
      stop_server
    fi
    if [ -n "$go_binary" ] && [ "$round" = 1 ]; then
      start_server go "$go_port" "$out/go.log" \
        "$go_binary" --listen="127.0.0.1:$go_port" --database-url="$dsn"
      for c in $levels; do point go "$rpc" "$c" "$round" "$go_port"; done
      stop_server
    fi
  done
done

# The transport alone, with h2load and, at one level, firstsip-loadgen (its CPU per call).
if [ "$want_bare" != 0 ]; then
  start_server bare "$bare_port" "$out/bare.log" "$tools/firstsip-bare-server" \
    --listen="127.0.0.1:$bare_port"
  for c in $levels; do point bare get_user "$c" 1 "$bare_port"; done
  loadgen_level=$(tr ' ' '\n' <<<"$levels" | awk '$1 <= 64' | sort -n | tail -n 1)
  if [ -n "$loadgen_level" ]; then
    # firstsip-loadgen asks for random ids; the bare server answers any.
    point bare-loadgen get_user "$loadgen_level" 1 "$bare_port"
  fi
  stop_server
fi

# pgbench with the service's own statements, plain and pipelined.
if [ "$want_pgbench" != 0 ]; then
  for rpc in $rpcs; do
    for c in $pg_clients; do
      for variant in pgbench pgbench-pipeline; do
        script=$out/$rpc.sql n=1
        [ "$variant" = pgbench-pipeline ] && script=$out/${rpc}_pipeline.sql n=$depth
        tag=$points_dir/$variant-$rpc-c$c
        /usr/bin/time -f "%U %S" -o "$tag.time" "$pg_bin/pgbench" -n -M prepared -c "$c" -j 2 \
          -T "$seconds" -D users="$(users_for "$rpc")" -D clients="$c" -f "$script" \
          -h 127.0.0.1 -p "$port" -U postgres bench >"$tag.out" 2>&1 ||
          die "pgbench $rpc: $(grep -m 3 -i error "$tag.out")"
        read -r transactions statements sps <<<"$(report pgbench "$tag.out" "$n")"
        cpu=$(awk -v n="$statements" '{ printf "%.1f", ($1 + $2) * 1e6 / n }' "$tag.time")
        printf "%s\t%s\t%s\t1\tpgbench x%s\t%s\t0\t%s\t-\t-\t-\t%s\t-\t-\n" "$variant" "$rpc" \
          "$c" "$n" "$statements" "$sps" "$cpu" >>"$results"
        printf "%-16s %-15s c=%-3s %s statements/s (%s transactions)  pgbench %s µs/statement\n" \
          "$variant" "$rpc" "$c" "$sps" "$transactions" "$cpu" >&2
      done
    done
  done
fi

# ListBriefings as the table grows from 10 k to 1 M rows (the same user's page).
if [ "$growth" = 1 ] && [[ " $rpcs " == *" list_briefings "* ]]; then
  echo "growing briefings to 1 M rows" >&2
  psql -d bench -c "DELETE FROM briefings WHERE status <> 'completed';" -c "
    INSERT INTO briefings (user_id, status, content)
    SELECT $list_users + 1 + (i % ($users - $list_users)), 'completed', '$content_json'
    FROM generate_series(1, 1000000 - $((list_users * 20))) i;" -c "VACUUM (ANALYZE) briefings;"
  start_service a
  point service-1M list_briefings 8 1 "$a_port" "$a_metrics"
  stop_server
fi

# --- Summary ---------------------------------------------------------------------------------
meta=$out/meta.txt
pg_version=$("$pg_bin/postgres" --version | awk '{print $3}')
{
  echo "levels=$levels"
  echo "rpcs=$rpcs"
  echo "depth=$depth"
  echo "rounds=$rounds"
  echo "go_note=$go_note"
  echo "a_label=service (A: $a_binary${BENCH_SERVER_ENV:+ $BENCH_SERVER_ENV}${BENCH_A_ENV:+ $BENCH_A_ENV}${BENCH_SERVER_FLAGS:+ $BENCH_SERVER_FLAGS}${BENCH_A_FLAGS:+ $BENCH_A_FLAGS})"
  echo "b_label=B: $ab_binary${BENCH_SERVER_ENV:+ $BENCH_SERVER_ENV}${BENCH_B_ENV:+ $BENCH_B_ENV}${BENCH_SERVER_FLAGS:+ $BENCH_SERVER_FLAGS}${BENCH_B_FLAGS:+ $BENCH_B_FLAGS}"
  order="for each call, the service at every concurrency"
  [ -n "$ab_binary" ] && order="for each call, $rounds rounds of A then B at every concurrency"
  [ -n "$go_binary" ] && order="$order, then Go (grpc-go + pgx pool of 20)"
  [ "$want_bare" != 0 ] && order="$order; then the bare server"
  [ "$want_pgbench" != 0 ] && order="$order; then pgbench"
  echo "header=Run on $(date -u +%Y-%m-%d), $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r), PostgreSQL $pg_version, ${seconds} s per point after 1 s of warm-up. One server at a time: $order. Load generators: h2load for GetUser (one user) and ListBriefings (one user's page of 20), fixed bodies, 4 connections × m streams; firstsip-loadgen for SignIn and CreateBriefing (random users). gen µs/call: the load generator's CPU per call. Statuses: every point checked OK (firstsip-grpc-body before, h2load's DATA bytes and the service's metrics after; firstsip-loadgen's own count)."
} >"$meta"
summary=$out/summary.md
report summary "$results" "$meta" >"$summary"
echo >&2
cat "$summary"

if [ "$write_docs" = 0 ]; then exit 0; fi

# The plot: throughput and p99 against concurrency per call; service solid, Go dashed, one
# colour per call.
if command -v gnuplot >/dev/null; then
  plot_rps="" plot_p99=""
  colours=("#1f77b4" "#2ca02c" "#d62728" "#ff7f0e")  # get_user list_briefings sign_in create_briefing
  for system in service go bare; do
    index=0
    for rpc in get_user list_briefings sign_in create_briefing; do
      colour=${colours[$index]}
      index=$((index + 1))
      [ "$system" = bare ] && [ "$rpc" != get_user ] && continue
      file=$out/plot-$system-$rpc.dat
      awk -F'\t' -v s="$system" -v r="$rpc" '$1 == s && $2 == r && $4 == 1 {print $3, $8, $10}' \
        "$results" >"$file"
      [ -s "$file" ] || continue
      style="linespoints linewidth 1.5 linecolor rgb '$colour'"
      [ "$system" = go ] && style="$style dashtype 2"
      [ "$system" = bare ] && style="linespoints linewidth 1.5 linecolor rgb '#555555' dashtype 3"
      plot_rps="$plot_rps\"$file\" using 1:2 with $style title \"$system $rpc\", "
      plot_p99="$plot_p99\"$file\" using 1:3 with $style title \"$system $rpc\", "
    done
  done
  gnuplot <<GNUPLOT
set terminal pngcairo size 1200,560 font ",10" noenhanced
set output "$repo/docs/benchmarks.png"
set multiplot layout 1,2 title "First Sip service (solid), Go + pgx (dashed), bare gRPC (dotted) on $(nproc) cores: load generator, server and PostgreSQL together"
set logscale x 2
set logscale y
set xlabel "concurrency"
set key below horizontal maxrows 3 font ",8"
set ylabel "calls / s"
plot ${plot_rps%, }
set ylabel "p99 latency (ms)"
plot ${plot_p99%, }
unset multiplot
GNUPLOT
fi

# Rewrite the results section of docs/BENCHMARKS.md.
doc=docs/BENCHMARKS.md
if [ -f "$doc" ]; then
  {
    awk '/<!-- results:start -->/ {print; exit} {print}' "$doc"
    echo
    cat "$summary"
    echo
    awk '/<!-- results:end -->/ {f=1} f {print}' "$doc"
  } >"$doc.new"
  mv "$doc.new" "$doc"
fi
