#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (AddressSanitizer + UndefinedBehaviorSanitizer) and
# runs each for a bounded time on its corpus (tests/fuzz/corpus/NAME; new inputs go to a copy).
#
#   tests/fuzz/run.sh [SECONDS_EACH]      default 15
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-15}
out=${FUZZ_BUILD_DIR:-build-fuzz}
mkdir -p "$out"

if ! command -v clang++ >/dev/null || ! ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends clang \
      libclang-rt-14-dev >/dev/null || {
      apt-get update -qq && apt-get install -y -qq clang libclang-rt-14-dev >/dev/null; }
  fi
fi

flags=(-std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -Iserver)
absl_libs=$(pkg-config --libs absl_strings absl_status absl_statusor absl_time absl_str_format)
# Each target compiles and links on its own, so they build side by side, one per core.
jobs=$(nproc)
throttle() {  # waits until fewer than $jobs background jobs run
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
}
build() {  # name sources...
  local name=$1
  shift
  rm -f "$out/$name"
  throttle
  clang++ "${flags[@]}" "$@" -o "$out/$name" $absl_libs -lcrypto >"$out/$name.build.log" 2>&1 &
}
build page_token_fuzzer tests/fuzz/page_token_fuzzer.cc server/logic/page_token.cc \
  server/logic/bound_token.cc
build stored_value_fuzzer tests/fuzz/stored_value_fuzzer.cc server/crypto/token_cipher.cc \
  server/crypto/key_ring.cc
build validators_fuzzer tests/fuzz/validators_fuzzer.cc server/logic/validators.cc
build migration_name_fuzzer tests/fuzz/migration_name_fuzzer.cc server/migrate/migration_set.cc \
  server/migrate/sql_splitter.cc
build authz_policy_fuzzer tests/fuzz/authz_policy_fuzzer.cc server/authz/policy.cc -lsimdjson \
  $(pkg-config --libs protobuf)
# The request parser needs our messages: generated here, so this script needs no CMake build.
mkdir -p "$out/gen"
protoc --proto_path=proto --cpp_out="$out/gen" proto/firstsip/v1/*.proto
build request_parser_fuzzer tests/fuzz/request_parser_fuzzer.cc server/transport/request_parser.cc \
  -I"$out/gen" "$out"/gen/firstsip/v1/*.pb.cc $(pkg-config --libs protobuf grpc++)
wait
fuzzers=(page_token stored_value validators migration_name request_parser authz_policy)
for fuzzer in "${fuzzers[@]}"; do
  if [ ! -x "$out/${fuzzer}_fuzzer" ]; then
    echo "fuzz $fuzzer: FAILED to build"
    cat "$out/${fuzzer}_fuzzer.build.log"
    exit 1
  fi
done

# One fuzzer per core at a time; each reports when all are done.
run() {  # fuzzer
  local fuzzer=$1 corpus=$out/corpus-$1
  rm -rf "$corpus" && cp -r "tests/fuzz/corpus/$fuzzer" "$corpus"
  local status=0
  "$out/${fuzzer}_fuzzer" -max_total_time="$seconds" -max_len=4096 -print_final_stats=0 \
    -artifact_prefix="$out/" "$corpus" >"$out/$fuzzer.log" 2>&1 || status=$?
  echo "$status" >"$out/$fuzzer.status"
}
for fuzzer in "${fuzzers[@]}"; do
  throttle
  run "$fuzzer" &
done
wait
status=0
for fuzzer in "${fuzzers[@]}"; do
  if [ "$(cat "$out/$fuzzer.status")" = 0 ]; then
    echo "fuzz $fuzzer: $(grep -o 'stat::number_of_executed_units: [0-9]*' "$out/$fuzzer.log" ||
      grep -oE '#[0-9]+\s+DONE' "$out/$fuzzer.log" | tail -n 1) no crash in ${seconds}s"
  else
    status=1
    echo "fuzz $fuzzer: FAILED (see $out/$fuzzer.log)"
    tail -n 30 "$out/$fuzzer.log"
  fi
done
exit $status
