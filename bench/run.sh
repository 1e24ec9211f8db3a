#!/usr/bin/env bash
# The benchmark, one command, in alternating rounds. Builds (Release) into build-bench/, starts
# a private PostgreSQL, seeds it, starts every server once and keeps them all up, and then, for
# each call and each concurrency, runs ROUNDS rounds in which every system is measured once, in
# an order that rotates from round to round:
#   - the service (firstsip-server), and with BENCH_AB_BINARY a second build of it (B);
#   - the Go equivalent (bench/go: grpc-go + pgx v4), the same calls over the same schema;
#   - the bare gRPC server (bench/bare_server.cc: GetUser answered with a constant), for GetUser;
#   - pgbench with the service's own statements: one statement per Sync (plain), 16 under one
#     Sync (pipeline) and, for GetUser, one statement asking for 16 users (= ANY);
# and prints medians with their spread, per-round ratios, and the CPU per call of the server, of
# PostgreSQL (every one of its processes) and of the load generator. One round of a system moves
# by up to ±25 % on a shared 2-core machine; only the alternation makes two systems comparable.
#
# Load generator: firstsip-h2load (bench/h2_load.cc), nghttp2 like h2load and as cheap, but with
# a different request each call from a file firstsip-grpc-body writes: random users for
# GetUser and SignIn (100 000 of them), a page of 20 of one of 500 users for ListBriefings,
# briefings for the other users for CreateBriefing. It counts a call OK only on grpc-status 0.
# Before the first point each server answers a sample request with the right content
# (firstsip-grpc-body check); after each point of the service, its own counters must show no
# call of the method other than OK (or cancelled by the generator hanging up at its end).
#
#   flock /tmp/firstsip-cpu.lock bench/run.sh        # the defaults: about 25 minutes on 2 cores
#   BENCH_RPCS=get_user BENCH_CONCURRENCY=64 bench/run.sh
#   BENCH_AB_BINARY=/path/to/other/firstsip-server BENCH_RPCS=get_user BENCH_GO=0 bench/run.sh
#
# Settings (environment; lists are split on spaces):
#   BENCH_ROUNDS=5                  rounds; fewer than 5 is marked as too few to claim a ratio
#   BENCH_SECONDS=5                 measured seconds per point (+1 s warm-up each)
#   BENCH_CONCURRENCY="1 64"        calls in flight (4 connections x c/4 streams; 1 x c below 4)
#   BENCH_RPCS="get_user list_briefings sign_in create_briefing"   a subset, run in this order
#   BENCH_GO=1, BENCH_BARE=1, BENCH_PGBENCH=1   0: leave that system out
#   BENCH_PIPELINE_DEPTH=16         statements per pgbench pipeline, keys per = ANY statement
#   BENCH_PGBENCH_CLIENTS=8         pgbench clients (the same at every concurrency)
#   BENCH_AB_BINARY=PATH            a second firstsip-server (B) measured beside A in every round
#   BENCH_A_BINARY=PATH             A other than build-bench/server/firstsip-server
#   BENCH_STANDBY=a|b|ab            a streaming hot standby for the named service(s)' reads
#   BENCH_SERVER_ENV, BENCH_A_ENV, BENCH_B_ENV       "VAR=value ..." for A and B / A / B
#   BENCH_SERVER_FLAGS, BENCH_A_FLAGS, BENCH_B_FLAGS extra server flags, same scheme
#   BENCH_DURABLE=0                 1: fsync and synchronous_commit on (pg-cluster.sh durable)
#   BENCH_USERS=100000              users (each with a Google identity)
#   BENCH_DOCS=1                    0: leave docs/BENCHMARKS.md alone
#   BENCH_BUILD_DIR=build-bench, BENCH_PG_PORT=54339, BENCH_PORT_BASE=50071 (uses base..base+6)
#
# Results: build-bench/bench-results/results.tsv (every point), summary.md; the results section
# of docs/BENCHMARKS.md is rewritten. Run it alone on the machine (`flock` above: the script
# takes no lock itself), since everything shares the cores.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

rounds=${BENCH_ROUNDS:-5}
seconds=${BENCH_SECONDS:-5}
levels=${BENCH_CONCURRENCY:-1 64}
want_rpcs=${BENCH_RPCS:-get_user list_briefings sign_in create_briefing}
want_go=${BENCH_GO:-1}
want_bare=${BENCH_BARE:-1}
want_pgbench=${BENCH_PGBENCH:-1}
depth=${BENCH_PIPELINE_DEPTH:-16}
pg_clients=${BENCH_PGBENCH_CLIENTS:-8}
ab_binary=${BENCH_AB_BINARY:-}
write_docs=${BENCH_DOCS:-1}
users=${BENCH_USERS:-100000}
list_users=500  # users with 20 briefings each
port=${BENCH_PG_PORT:-54339}
base=${BENCH_PORT_BASE:-50071}
a_port=$base b_port=$((base + 1)) go_port=$((base + 2)) bare_port=$((base + 3))
a_metrics=$((base + 4)) b_metrics=$((base + 5))
build=${BENCH_BUILD_DIR:-build-bench}
out=$build/bench-results
points_dir=$out/points

for value in "$rounds" "$seconds" "$users" "$depth" "$pg_clients"; do
  [[ "$value" =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: '$value' must be a whole number" >&2; exit 2; }
done
rpcs=""
for rpc in get_user list_briefings sign_in create_briefing; do
  [[ " $want_rpcs " == *" $rpc "* ]] && rpcs="$rpcs $rpc"
done
rpcs=${rpcs# }
[ -n "$rpcs" ] || { echo "run.sh: BENCH_RPCS names no known call" >&2; exit 2; }
for c in $levels; do
  [[ "$c" =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: bad concurrency $c" >&2; exit 2; }
  if [ "$c" -ge 4 ] && [ $((c % 4)) -ne 0 ]; then
    echo "run.sh: concurrency $c: the load spreads over 4 connections, use a multiple of 4" >&2
    exit 2
  fi
done
[ -z "$ab_binary" ] || [ -x "$ab_binary" ] || { echo "run.sh: $ab_binary is not executable" >&2; exit 2; }

# --- Tools -----------------------------------------------------------------------------------
scripts/install-deps.sh
if [ ! -x /usr/bin/time ]; then
  [ "$(id -u)" -eq 0 ] || { echo "run.sh: needs the package time (run as root)" >&2; exit 1; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends time >/dev/null ||
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null; }
fi
BUILD_DIR=$build BUILD_TYPE=Release scripts/build.sh -DFIRSTSIP_BUILD_TESTS=OFF >/dev/null
a_binary=${BENCH_A_BINARY:-$build/server/firstsip-server}
rm -rf "$points_dir"
mkdir -p "$out" "$points_dir"
tools=$build/bench
report() { python3 "$repo/bench/report.py" "$@"; }
die() {
  echo "run.sh: FAILED: $*" >&2
  exit 1
}

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
  [ -x "$go_binary" ] || die "bench/go/build.sh made no $go_binary"
fi

# --- Database --------------------------------------------------------------------------------
pg_dir=$(mktemp -d /tmp/firstsip-bench-pg.XXXXXX)
chmod 755 "$pg_dir"
server_pids=()
cleanup() {
  for pid in ${server_pids[@]+"${server_pids[@]}"}; do kill "$pid" 2>/dev/null || true; done
  for pid in ${server_pids[@]+"${server_pids[@]}"}; do wait "$pid" 2>/dev/null || true; done
  if [ -f "$pg_dir/standby/postmaster.pid" ]; then
    as_postgres "$pg_bin/pg_ctl" -D "$pg_dir/standby" -m fast -w stop >/dev/null 2>&1 || true
  fi
  scripts/pg-cluster.sh stop "$pg_dir" || true
  rm -rf "$pg_dir"
}
trap cleanup EXIT

FIRSTSIP_PG_DURABLE=${BENCH_DURABLE:-0} scripts/pg-cluster.sh start "$pg_dir" "$port" >/dev/null
pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
postmaster=$(head -n 1 "$pg_dir/data/postmaster.pid")
as_postgres() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
psql() { command psql -h 127.0.0.1 -p "$port" -U postgres -v ON_ERROR_STOP=1 -qAt "$@"; }
psql -c "CREATE DATABASE bench"
dsn="postgresql://postgres@127.0.0.1:$port/bench?sslmode=disable"
export ENCRYPTION_KEY=${ENCRYPTION_KEY:-$(openssl rand -base64 32)}

"$a_binary" --database-url="$dsn" migrate up 2>/dev/null
"$tools/firstsip-pgbench-scripts" "$out" "$depth"
"$tools/firstsip-grpc-body" bodies "$out" "$users" "$list_users"
content_json=$(cat "$out/seed_content.json")
echo "seeding $users users, $users identities, $((list_users * 20)) briefings" \
  "($(wc -c <"$out/seed_content.json") bytes of JSON content each)" >&2
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
  as_postgres "$pg_bin/pg_basebackup" -h 127.0.0.1 -p "$port" -U postgres -D "$pg_dir/standby" \
    -R -X stream --checkpoint=fast >"$out/basebackup.log" 2>&1 || die "pg_basebackup failed"
  as_postgres "$pg_bin/pg_ctl" -D "$pg_dir/standby" -l "$pg_dir/standby.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -c unix_socket_directories= -p $standby_port \
        -c hot_standby=on -c fsync=off -c max_connections=200 -c shared_buffers=128MB" \
    start >/dev/null || die "the standby did not start: $(tail -n 5 "$pg_dir/standby.log")"
  standby_flag="--read-database-url=postgresql://postgres@127.0.0.1:$standby_port/bench?sslmode=disable"
  echo "standby streaming on 127.0.0.1:$standby_port for service $standby" >&2
fi

# --- Servers: all started once, kept up ----------------------------------------------------------
declare -A pid_of=() port_of=() metrics_of=()
# start_server SYSTEM PORT LOG COMMAND...: starts it, waits until PORT accepts connections.
start_server() {
  local system=$1 listen_port=$2 log=$3 pid
  shift 3
  if (exec 3<>"/dev/tcp/127.0.0.1/$listen_port") 2>/dev/null; then
    die "port $listen_port is taken by another program; set BENCH_PORT_BASE"
  fi
  "$@" >"$log" 2>&1 &
  pid=$!
  server_pids+=("$pid")
  pid_of[$system]=$pid
  port_of[$system]=$listen_port
  for _ in $(seq 1 200); do
    kill -0 "$pid" 2>/dev/null || die "$system exited at start-up: $(tail -n 20 "$log")"
    (exec 3<>"/dev/tcp/127.0.0.1/$listen_port") 2>/dev/null && return 0
    sleep 0.05
  done
  die "$system does not listen on $listen_port after 10 s: $(tail -n 20 "$log")"
}
start_service() {  # a|b
  local which=$1 binary listen metrics env_list flag_list system=service
  local -a envs flags
  if [ "$which" = a ]; then
    binary=$a_binary listen=$a_port metrics=$a_metrics
    env_list="${BENCH_SERVER_ENV:-} ${BENCH_A_ENV:-}" flag_list="${BENCH_SERVER_FLAGS:-} ${BENCH_A_FLAGS:-}"
  else
    binary=$ab_binary listen=$b_port metrics=$b_metrics system=service-b
    env_list="${BENCH_SERVER_ENV:-} ${BENCH_B_ENV:-}" flag_list="${BENCH_SERVER_FLAGS:-} ${BENCH_B_FLAGS:-}"
  fi
  read -ra envs <<<"$env_list"
  read -ra flags <<<"$flag_list"
  [[ -n "$standby_flag" && "$standby" == *"$which"* ]] && flags+=("$standby_flag")
  metrics_of[$system]=$metrics
  start_server "$system" "$listen" "$out/server-$which.log" \
    env ${envs[@]+"${envs[@]}"} "$binary" --database-url="$dsn" --listen="127.0.0.1:$listen" \
    --metrics-listen="127.0.0.1:$metrics" --log-level=warning ${flags[@]+"${flags[@]}"}
}
start_service a
[ -n "$ab_binary" ] && start_service b
[ -n "$go_binary" ] && start_server go "$go_port" "$out/go.log" \
  "$go_binary" --listen="127.0.0.1:$go_port" --database-url="$dsn"
[ "$want_bare" != 0 ] && start_server bare "$bare_port" "$out/bare.log" \
  "$tools/firstsip-bare-server" --listen="127.0.0.1:$bare_port"

# Every server answers a sample request of each call with the right content.
for system in "${!port_of[@]}"; do
  for rpc in get_user list_briefings; do
    [[ " $rpcs " == *" $rpc "* ]] || continue
    [ "$system" = bare ] && [ "$rpc" != get_user ] && continue
    "$tools/firstsip-grpc-body" check "127.0.0.1:${port_of[$system]}" "$rpc" "$out/$rpc.bodies" \
      >/dev/null || die "$system does not answer $rpc right"
  done
done

# --- Points ----------------------------------------------------------------------------------
results=$out/results.tsv
printf "system\trpc\tconcurrency\tround\torder\tgenerator\tcalls\terrors\trps\tp50_ms\tp99_ms" >"$results"
printf "\tp999_ms\tserver_us\tpg_us\tgen_us\trss_kb\thwm_kb\tper_sync\tper_statement\n" >>"$results"
url_path() {
  case $1 in
    get_user) echo /firstsip.v1.UserService/GetUser ;;
    list_briefings) echo /firstsip.v1.BriefingService/ListBriefings ;;
    sign_in) echo /firstsip.v1.IdentityService/SignIn ;;
    create_briefing) echo /firstsip.v1.BriefingService/CreateBriefing ;;
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
per_call() {  # TICKS CALLS: CPU µs per call
  awk -v t="$1" -v n="$2" -v hz="$(getconf CLK_TCK)" \
    'BEGIN { if (n > 0) printf "%.1f", t * 1e6 / hz / n; else print "-" }'
}

# The systems measured for a call, in the order of the first round.
systems_for() {
  local list="service"
  [ -n "$ab_binary" ] && list="$list service-b"
  [ -n "$go_binary" ] && list="$list go"
  [ "$1" = get_user ] && [ "$want_bare" != 0 ] && list="$list bare"
  if [ "$want_pgbench" != 0 ]; then
    list="$list pgbench pgbench-pipeline"
    [ "$1" = get_user ] && list="$list pgbench-any"
  fi
  echo "$list"
}

# point SYSTEM RPC CONCURRENCY ROUND ORDER: one measurement, one results row.
point() {
  local system=$1 rpc=$2 c=$3 round=$4 order=$5
  local tag=$points_dir/$rpc-c$c-r$round-$system generator line calls completed
  local server_pid=${pid_of[$system]:-} metrics=${metrics_of[$system]:-}
  local pg_before pg_after server_before="" server_after before="" after rss_max=0 rss
  local sent_before="" sent_after per_sync=- per_statement=-
  [ -n "$metrics" ] && sent_before=$(report dbsent "http://127.0.0.1:$metrics/metrics")
  pg_before=$(report pgticks "$postmaster")
  [ -n "$server_pid" ] && server_before=$(report ticks "$server_pid")
  if [[ "$system" == pgbench* ]]; then
    local script=$out/$rpc.sql n=1
    [ "$system" = pgbench-pipeline ] && script=$out/${rpc}_pipeline.sql n=$depth
    [ "$system" = pgbench-any ] && script=$out/${rpc}_any.sql n=$depth
    generator="pgbench -c $pg_clients x$n"
    rm -f "$tag.out".log*
    /usr/bin/time -f "%U %S" -o "$tag.time" "$pg_bin/pgbench" -n -M prepared -c "$pg_clients" \
      -j 2 -T "$seconds" -D users="$users" -D clients="$pg_clients" -f "$script" \
      --log --log-prefix="$tag.out.log" -h 127.0.0.1 -p "$port" -U postgres bench \
      >"$tag.out" 2>&1 || die "pgbench $rpc: $(grep -m 3 -i error "$tag.out")"
    local transactions statements sps p50 p99 p999
    read -r transactions statements sps p50 p99 p999 <<<"$(report pgbench "$tag.out" "$n")"
    line=$(printf "%s\t0\t%s\t%s\t%s\t%s" "$statements" "$sps" "$p50" "$p99" "$p999")
    calls=$statements completed=$statements
  else
    local conns=4 streams
    [ "$c" -lt 4 ] && conns=$c
    streams=$((c / conns))
    generator="firstsip-h2load ${conns}x$streams"
    [ -n "$metrics" ] && before=$(report calls "http://127.0.0.1:$metrics/metrics" "$(method_name "$rpc")")
    /usr/bin/time -f "%U %S" -o "$tag.time" "$tools/firstsip-h2load" \
      --target="127.0.0.1:${port_of[$system]}" --path="$(url_path "$rpc")" \
      --bodies="$out/$rpc.bodies" --connections="$conns" --streams="$streams" \
      --seconds="$seconds" --warmup=1 >"$tag.out" 2>"$tag.err" &
    local load=$!
    while kill -0 "$load" 2>/dev/null; do
      rss=$(status_kb "$server_pid" VmRSS)
      [ "$rss" != - ] && [ "$rss" -gt "$rss_max" ] && rss_max=$rss
      sleep 0.25
    done
    wait "$load" || die "$system $rpc c=$c: firstsip-h2load: $(tail -n 3 "$tag.err")"
    line=$(cut -f1-6 "$tag.out")
    calls=$(cut -f1 "$tag.out")
    completed=$(cut -f7 "$tag.out")
    [ "$(cut -f2 "$tag.out")" = 0 ] ||
      die "$system $rpc c=$c: $(cut -f2 "$tag.out") calls failed: $(head -n 3 "$tag.err")"
  fi
  pg_after=$(report pgticks "$postmaster")
  [ -n "$server_pid" ] && server_after=$(report ticks "$server_pid")
  if [ -n "$metrics" ]; then
    sleep 0.2  # the server counts a call just after answering it
    after=$(report calls "http://127.0.0.1:$metrics/metrics" "$(method_name "$rpc")")
    local ok_before reset_before bad_before ok_after reset_after bad_after
    read -r ok_before reset_before bad_before <<<"$before"
    read -r ok_after reset_after bad_after <<<"$after"
    if [ "$bad_after" -ne "$bad_before" ] || [ $((reset_after - reset_before)) -gt $((2 * c)) ]; then
      die "$system $rpc c=$c: its metrics count $((bad_after - bad_before)) failed and" \
        "$((reset_after - reset_before)) cancelled calls"
    fi
    [ $((ok_after - ok_before)) -ge "$calls" ] ||
      die "$system $rpc c=$c: its metrics count $((ok_after - ok_before)) OK calls, the generator $calls"
    sleep 1  # the pool's counters reach the metrics once a second
    sent_after=$(report dbsent "http://127.0.0.1:$metrics/metrics")
    read -r per_sync per_statement <<<"$(awk -v b="$sent_before" -v a="$sent_after" 'BEGIN {
      split(b, x, "\t"); split(a, y, "\t");
      r = y[1] - x[1]; s = y[2] - x[2]; n = y[3] - x[3];
      printf "%s %s\n", (n > 0 ? sprintf("%.1f", r / n) : "-"), (s > 0 ? sprintf("%.1f", r / s) : "-") }')"
  fi
  [ -z "$server_pid" ] || kill -0 "$server_pid" 2>/dev/null || die "$system died during $rpc c=$c"
  local server_us=- pg_us gen_us hwm=- rss_col=-
  pg_us=$(per_call $((pg_after - pg_before)) "$completed")
  gen_us=$(awk -v n="$completed" '{ if (n > 0) printf "%.1f", ($1 + $2) * 1e6 / n; else print "-" }' "$tag.time")
  if [ -n "$server_pid" ]; then
    server_us=$(per_call $((server_after - server_before)) "$completed")
    hwm=$(status_kb "$server_pid" VmHWM)
    rss_col=$rss_max
  fi
  printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n" "$system" "$rpc" "$c" \
    "$round" "$order" "$generator" "$line" "$server_us" "$pg_us" "$gen_us" "$rss_col" "$hwm" \
    "$per_sync" "$per_statement" >>"$results"
  printf "r%s %-16s %-15s c=%-3s %s  µs/call server %s pg %s gen %s  per Sync %s\n" "$round" \
    "$system" "$rpc" "$c" "$(cut -f3-5 <<<"$line" | tr '\t' ' ')" "$server_us" "$pg_us" \
    "$gen_us" "$per_sync" >&2
}

for rpc in $rpcs; do
  read -ra systems <<<"$(systems_for "$rpc")"
  count=${#systems[@]}
  for c in $levels; do
    for round in $(seq 1 "$rounds"); do
      for k in $(seq 0 $((count - 1))); do
        system=${systems[$(((round - 1 + k) % count))]}
        # pgbench does not depend on the concurrency: measured with the highest level only.
        if [[ "$system" == pgbench* ]] && [ "$c" != "$(tr ' ' '\n' <<<"$levels" | sort -n | tail -n 1)" ]; then
          continue
        fi
        point "$system" "$rpc" "$c" "$round" "$((k + 1))"
      done
    done
  done
done

# --- Summary ---------------------------------------------------------------------------------
meta=$out/meta.txt
pg_version=$("$pg_bin/postgres" --version | awk '{print $3}')
{
  echo "rounds=$rounds"
  echo "header=Run on $(date -u +%Y-%m-%d), $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r), PostgreSQL $pg_version ($([ "${BENCH_DURABLE:-0}" = 1 ] && echo "fsync and synchronous_commit on" || echo "fsync and synchronous_commit off")), $users users. $rounds alternating rounds: in each, every system once for ${seconds} s after 1 s of warm-up, in an order rotating from round to round, every server up the whole time. Systems: service (A: $a_binary${BENCH_SERVER_FLAGS:+ $BENCH_SERVER_FLAGS}${BENCH_A_FLAGS:+ $BENCH_A_FLAGS})${ab_binary:+, service-b (B: $ab_binary${BENCH_B_FLAGS:+ $BENCH_B_FLAGS})}${go_binary:+, go (bench/go: grpc-go + pgx v4 pool of 20)}${go_note:+ (Go left out: $go_note)}, bare (GetUser answered with a constant), pgbench ($pg_clients clients: one statement per Sync; $depth per Sync; GetUser's lookup for $depth users in one statement). Load generator: firstsip-h2load (nghttp2), a different request each call, 4 connections × c/4 streams."
} >"$meta"
summary=$out/summary.md
report summary "$results" "$meta" >"$summary"
echo >&2
cat "$summary"

if [ "$write_docs" = 0 ]; then exit 0; fi
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
