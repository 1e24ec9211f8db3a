#!/usr/bin/env bash
# The benchmark, one command: builds (Release), starts a private PostgreSQL, seeds it, and in
# one run measures the service, pgbench running the service's own SQL, and a bare gRPC server.
# Prints RPS and p50/p99/p999 per call and concurrency, the service/pgbench and
# service/bare-gRPC ratios, the server's peak RSS, and ListBriefings at 10 k vs 1 M rows; then
# rewrites the results section of docs/BENCHMARKS.md and the plot docs/benchmarks.png.
#
#   bench/run.sh                      # defaults: 5 s per point, concurrency 1 8 64 256
#   BENCH_SECONDS=2 BENCH_CONCURRENCY="8 64" bench/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

seconds=${BENCH_SECONDS:-5}
levels=${BENCH_CONCURRENCY:-1 8 64 256}
users=10000
list_users=500          # users with 20 briefings each: 10 k briefings to start with
port=${BENCH_PG_PORT:-54339}
grpc_port=${BENCH_GRPC_PORT:-50071}
bare_port=${BENCH_BARE_PORT:-50072}
build=${BENCH_BUILD_DIR:-build-bench}
out=$build/bench-results
mkdir -p "$out"

scripts/install-deps.sh
command -v gnuplot >/dev/null || {
  if [ "$(id -u)" -eq 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends gnuplot-nox \
      >/dev/null || { apt-get update -qq && apt-get install -y -qq gnuplot-nox >/dev/null; }
  fi
}
BUILD_DIR=$build BUILD_TYPE=Release scripts/build.sh -DFIRSTSIP_BUILD_TESTS=OFF >/dev/null

pg_dir=$(mktemp -d /tmp/firstsip-bench-pg.XXXXXX)
chmod 755 "$pg_dir"
server_pid=""
bare_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  [ -n "$bare_pid" ] && kill "$bare_pid" 2>/dev/null || true
  scripts/pg-cluster.sh stop "$pg_dir" || true
  rm -rf "$pg_dir"
}
trap cleanup EXIT

scripts/pg-cluster.sh start "$pg_dir" "$port" >/dev/null
pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
psql() { command psql -h 127.0.0.1 -p "$port" -U postgres -v ON_ERROR_STOP=1 -qAt "$@"; }
psql -c "CREATE DATABASE bench"
dsn="postgresql://postgres@127.0.0.1:$port/bench?sslmode=disable"
export ENCRYPTION_KEY=${ENCRYPTION_KEY:-$(openssl rand -base64 32)}

"$build/server/firstsip-server" --database-url="$dsn" migrate up 2>/dev/null
"$build/bench/firstsip-pgbench-scripts" "$out"
content_json=$(cat "$out/seed_content.json")
content_hex=$(cat "$out/seed_content.hex")
echo "seeding $users users, $users identities, $((list_users * 20)) briefings" >&2
psql -d bench <<SQL
INSERT INTO users (email, name) SELECT 'user' || i || '@bench.local', 'User ' || i
  FROM generate_series(1, $users) i;
INSERT INTO auth_identities (user_id, provider, provider_user_id, access_token)
  SELECT i, 'google', 'sub-' || i, '\\x00'::bytea FROM generate_series(1, $users) i;
INSERT INTO briefings (user_id, status, content, content_proto)
  SELECT 1 + (i % $list_users), 'completed', '$content_json', decode('$content_hex', 'hex')
  FROM generate_series(1, $((list_users * 20))) i;
VACUUM (ANALYZE);
SQL

"$build/server/firstsip-server" --database-url="$dsn" --listen="127.0.0.1:$grpc_port" \
  --log-level=warning 2>"$out/server.log" &
server_pid=$!
for _ in $(seq 1 100); do grep -q "serving on" "$out/server.log" 2>/dev/null && break; sleep 0.1; done
sleep 0.5

results=$out/results.tsv
printf "system\trpc\tconcurrency\tcalls\terrors\trps\tp50_ms\tp99_ms\tp999_ms\n" >"$results"
users_for() { [ "$1" = list_briefings ] && echo "$list_users" || echo "$users"; }

loadgen() {  # system rpc concurrency target
  local line
  line=$("$build/bench/firstsip-loadgen" --target="$4" --rpc="$2" --concurrency="$3" \
    --seconds="$seconds" --warmup=1 --users="$(users_for "$2")")
  printf "%s\t%s\n" "$1" "$line" | tee -a "$results" >&2
}

rss_samples=()
for rpc in get_user list_briefings sign_in create_briefing; do
  for c in $levels; do
    loadgen service "$rpc" "$c" "127.0.0.1:$grpc_port"
    rss_samples+=("$(awk '/VmRSS/ {print $2}' /proc/$server_pid/status)")
  done
done
peak_rss_kb=$(awk '/VmHWM/ {print $2}' /proc/$server_pid/status)
steady_rss_kb=$(printf "%s\n" "${rss_samples[@]}" | sort -n | tail -n 1)

# pgbench with the service's own statements, on the same database, same machine.
for rpc in get_user list_briefings sign_in create_briefing; do
  for c in 8 64; do
    tps=$("$pg_bin/pgbench" -n -M prepared -c "$c" -j 2 -T "$seconds" -D users="$(users_for "$rpc")" \
      -f "$out/$rpc.sql" -h 127.0.0.1 -p "$port" -U postgres bench 2>/dev/null |
      awk '/^tps/ {print int($3)}' | head -n 1)
    printf "pgbench\t%s\t%s\t-\t-\t%s\t-\t-\t-\n" "$rpc" "$c" "$tps" | tee -a "$results" >&2
  done
done

# ListBriefings as the table grows from 10 k to 1 M rows (the same users' pages).
list_small=$(awk -F'\t' '$1=="service" && $2=="list_briefings" && $3==8 {print $7}' "$results")
echo "growing briefings to 1 M rows" >&2
psql -d bench -c "INSERT INTO briefings (user_id, status, content, content_proto)
  SELECT $list_users + 1 + (i % ($users - $list_users)), 'completed', '$content_json',
         decode('$content_hex', 'hex')
  FROM generate_series(1, 1000000 - $((list_users * 20))) i;" -c "VACUUM (ANALYZE) briefings;"
line=$("$build/bench/firstsip-loadgen" --target="127.0.0.1:$grpc_port" --rpc=list_briefings \
  --concurrency=8 --seconds="$seconds" --warmup=1 --users="$list_users")
printf "service-1M\t%s\n" "$line" | tee -a "$results" >&2
list_large=$(printf "%s\n" "$line" | cut -f6)

kill "$server_pid"
wait "$server_pid" 2>/dev/null || true
server_pid=""

# The transport alone.
"$build/bench/firstsip-bare-server" --listen="127.0.0.1:$bare_port" 2>/dev/null &
bare_pid=$!
sleep 0.5
for c in $levels; do loadgen bare get_user "$c" "127.0.0.1:$bare_port"; done
kill "$bare_pid"
wait "$bare_pid" 2>/dev/null || true
bare_pid=""

# Summary.
summary=$out/summary.md
awk -F'\t' -v peak="$peak_rss_kb" -v steady="$steady_rss_kb" -v small="$list_small" \
  -v large="$list_large" -v levels="$levels" '
  NR == 1 { next }
  $1 == "service" { rps[$2, $3] = $6; p50[$2, $3] = $7; p99[$2, $3] = $8; p999[$2, $3] = $9;
                    if (!($2 in seen)) { seen[$2] = 1; order[++n] = $2 } }
  $1 == "pgbench" { if ($6 > best[$2]) best[$2] = $6; pg[$2, $3] = $6 }
  $1 == "bare"    { bare[$3] = $6 }
  END {
    printf "| call | concurrency | RPS | p50 ms | p99 ms | p999 ms | / pgbench best | / bare gRPC |\n"
    printf "|---|---:|---:|---:|---:|---:|---:|---:|\n"
    for (i = 1; i <= n; i++) {
      r = order[i]
      m = split(levels, cs, " ")
      for (j = 1; j <= m; j++) {
        c = cs[j]
        ratio_pg = best[r] > 0 ? sprintf("%.2f", rps[r, c] / best[r]) : "-"
        ratio_bare = (r == "get_user" && bare[c] > 0) ? sprintf("%.2f", rps[r, c] / bare[c]) : ""
        printf "| %s | %d | %.0f | %s | %s | %s | %s | %s |\n", r, c, rps[r, c], p50[r, c],
               p99[r, c], p999[r, c], ratio_pg, ratio_bare
      }
    }
    printf "\npgbench -M prepared, same SQL, same database (TPS):\n\n| call | 8 clients | 64 clients |\n|---|---:|---:|\n"
    for (i = 1; i <= n; i++) printf "| %s | %d | %d |\n", order[i], pg[order[i], 8], pg[order[i], 64]
    printf "\nBare gRPC server, GetUser (RPS):"
    m = split(levels, cs, " ")
    for (j = 1; j <= m; j++) printf " c=%d: %.0f;", cs[j], bare[cs[j]]
    printf "\n\nServer memory: peak RSS %.1f MiB; highest RSS sampled under load %.1f MiB.\n",
           peak / 1024, steady / 1024
    if (small > 0) printf "\nListBriefings p50 at 10 k rows %.3f ms, at 1 M rows %.3f ms: ratio %.2f.\n",
           small, large, large / small
  }' "$results" >"$summary"
cat "$summary"

# The plot: throughput and p99 against concurrency, per call.
if command -v gnuplot >/dev/null; then
  for rpc in get_user list_briefings sign_in create_briefing; do
    awk -F'\t' -v r="$rpc" '$1 == "service" && $2 == r {print $3, $6, $8}' "$results" \
      >"$out/$rpc.dat"
  done
  awk -F'\t' '$1 == "bare" {print $3, $6, $8}' "$results" >"$out/bare.dat"
  gnuplot <<GNUPLOT
set terminal pngcairo size 1100,450 font ",10" noenhanced
set output "$repo/docs/benchmarks.png"
set multiplot layout 1,2 title "First Sip data service on $(nproc) cores (loadgen, server and PostgreSQL together)"
set logscale x 2
set xlabel "concurrency"
set key top left
set ylabel "calls / s"
plot for [f in "get_user list_briefings sign_in create_briefing bare"] "$out/".f.".dat" using 1:2 with linespoints title f
set ylabel "p99 latency (ms)"
set logscale y
plot for [f in "get_user list_briefings sign_in create_briefing bare"] "$out/".f.".dat" using 1:3 with linespoints title f
unset multiplot
GNUPLOT
fi

# Rewrite the results section of docs/BENCHMARKS.md.
doc=docs/BENCHMARKS.md
if [ -f "$doc" ]; then
  {
    awk '/<!-- results:start -->/ {print; exit} {print}' "$doc"
    echo
    echo "Run on $(date -u +%Y-%m-%d), $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo),"
    echo "$(uname -r), PostgreSQL $("$pg_bin/postgres" --version | awk '{print $3}'), ${seconds} s per point."
    echo
    cat "$summary"
    echo
    awk '/<!-- results:end -->/ {f=1} f {print}' "$doc"
  } >"$doc.new"
  mv "$doc.new" "$doc"
fi
