#!/usr/bin/env bash
# Proves that each defence of docs/SECURITY.md is guarded by a test: for every entry below it
# takes the defence out of the source (one substitution), rebuilds, runs the tests that should
# notice, and expects them to FAIL. A defence whose removal the tests do not notice is reported
# as SURVIVED and the script exits 1. The source is restored after each entry and on exit, and
# the build directories are rebuilt from it at the end.
#
# Needs the builds scripts/test.sh makes (build, build-asan, build-tsan, build-fuzz). Slow: about
# a minute per entry on two cores, so it is not part of CI; run it when a defence changes.
#
#   scripts/defence-check.sh            every entry
#   scripts/defence-check.sh tls        only entries whose name contains "tls"
#   DRY_RUN=1 scripts/defence-check.sh  only check that every substitution still applies
set -euo pipefail
cd "$(dirname "$0")/.."

filter=${1:-}
log_dir=$(mktemp -d /tmp/firstsip-defence.XXXXXX)
touched=()
current=""
restore() {
  if [ -n "$current" ]; then git checkout -- "$current"; current=""; fi
}
rebuild_all() {
  for dir in "${touched[@]}"; do build_dir "$dir" >/dev/null 2>&1 || true; done
}
# The TSan build holds only the engine's tests (see scripts/test.sh).
build_dir() {
  if [ "$1" = build-tsan ]; then
    cmake --build "$1" -j"$(nproc)" --target pg_tests
  else
    cmake --build "$1" -j"$(nproc)"
  fi
}
trap 'restore; rebuild_all' EXIT

caught=0
survived=0
# mutant NAME FILE PERL_SUBSTITUTION BUILD_DIR CTEST_REGEX
#   BUILD_DIR "fuzz" runs the libFuzzer targets (tests/fuzz/run.sh) instead of ctest.
mutant() {
  local name=$1 file=$2 substitution=$3 build=$4 tests=$5
  if [ -n "$filter" ] && [[ "$name" != *"$filter"* ]]; then return; fi
  if ! git diff --quiet -- "$file"; then
    echo "$file has local changes; commit or stash them first" >&2
    exit 2
  fi
  current=$file
  perl -0pi -e "$substitution" "$file"
  if git diff --quiet -- "$file"; then
    echo "NOT APPLIED  $name: the substitution no longer matches $file" >&2
    exit 2
  fi
  local log=$log_dir/$name.log outcome
  if [ -n "${DRY_RUN:-}" ]; then
    echo "applies   $name"
    restore
    return
  fi
  if [ "$build" = fuzz ]; then
    if tests/fuzz/run.sh 15 >"$log" 2>&1; then outcome=passed; else outcome=failed; fi
  else
    [[ " ${touched[*]} " == *" $build "* ]] || touched+=("$build")
    if ! build_dir "$build" >"$log" 2>&1; then
      echo "NOT BUILT    $name: the mutant does not compile (see $log)" >&2
      exit 2
    elif ASAN_OPTIONS=detect_leaks=1 ctest --test-dir "$build" -j"$(nproc)" -R "$tests" \
        --timeout 300 >>"$log" 2>&1; then
      outcome=passed
    else
      outcome=failed
    fi
  fi
  if [ "$outcome" = passed ]; then
    survived=$((survived + 1))
    printf 'SURVIVED  %-28s %s (log: %s)\n' "$name" "tests still pass" "$log"
  else
    caught=$((caught + 1))
    local which
    which=$(grep -oE '^\s+[0-9]+ - [^ ]+' "$log" | awk '{print $3}' |
      awk 'NR <= 3 { printf "%s ", $0 } END { if (NR > 3) printf "and %d more", NR - 3 }' || true)
    [ -n "$which" ] || which=$(grep -oE 'fuzz [a-z_]+: FAILED' "$log" | paste -sd' ' || true)
    printf 'caught    %-28s %s\n' "$name" "${which:-$outcome}"
  fi
  restore
}

# Faults
mutant faults-fail-fast server/db/pool.cc \
  's/unreachable_ = true;\n\s*FailAllWaiting\(ConnectionLost\("cannot connect to the database"\)\);//' \
  build 'DatabaseRestartTest|AnUnreachableDatabaseFailsFast'
mutant faults-health server/transport/health_monitor.cc \
  's/(void HealthMonitor::Report\(bool serving\) \{)/$1\n  serving = true;/' \
  build 'DatabaseRestartTest|HealthTurnsNotServing'
mutant faults-dirty-flag server/migrate/migrator.cc \
  's/SetVersion\(migration.version, \/\*dirty=\*\/true, DirtyNote\{previous, false\}\)/SetVersion(migration.version, false)/' \
  build 'AServerKilledInsideAMigration|AnInterruptedMigration'
mutant faults-migration-lock server/migrate/migrator.cc \
  's/if \(locked.ok\(\) && \*locked\) break;/if (true) break;/' \
  build 'ThreeServersStartingTogether|ReplicasMigratingAtOnce'
mutant faults-caller-cancel server/transport/unary_call.h \
  's/if \(context_.IsCancelled\(\)\) options_.cancellation->Cancel\(\);//' \
  build 'ACallerCancellationCancels'

# Hostile input
mutant input-nul-bytes server/logic/validators.cc \
  's/if \(value\[i\] == .\\0.\) return Invalid\(field, "must not contain NUL bytes"\);//' \
  build 'HostileInput|ValidateText'
mutant input-time-zone server/logic/validators.cc \
  's/!plain \|\| !absl::LoadTimeZone\(std::string\(name\), &zone\)/!plain/' \
  build 'HostileInput'
mutant input-clock-time server/logic/validators.cc 's/hours < 24 &&/hours <= 24 \&\&/' \
  build 'HostileInput'
mutant input-ids server/logic/validators.cc 's/if \(id <= 0\)/if (id == 0)/' \
  build 'HostileInput'
mutant input-page-token server/logic/bound_token.cc \
  's/if \(raw.substr\(1 \+ kKeyBytes\) != Digest/if (false \&\& raw.substr(1 + kKeyBytes) != Digest/' \
  build 'HostileInput|PageToken|ResumeToken'
mutant input-content-depth server/logic/briefing_rules.cc \
  's/if \(depth > kMaxContentDepth\)/if (false)/' build 'HostileInput|Content'
mutant input-wire-utf8 server/transport/request_parser.cc \
  's/if \(!google::protobuf::internal::IsStructurallyValidUTF8/if (false \&\& !google::protobuf::internal::IsStructurallyValidUTF8/' \
  build 'HostileInput|RequestParser'
mutant input-wire-depth server/transport/request_parser.cc \
  's/if \(depth \+ 1 > CodedInputStream::GetDefaultRecursionLimit\(\)\)/if (false)/' \
  build 'HostileInput|RequestParser'
mutant input-wire-varints server/transport/request_parser.cc \
  's/input.CurrentPosition\(\) - start <= 5/input.CurrentPosition() - start <= 10/' \
  build 'RequestParser'
mutant input-gRPC-parse-status server/transport/unary_call.h \
  's/return Finish\(parsed\);/return Finish(absl::UnimplementedError(""));/' build 'HostileInput'

# Fuzzing: the page-token fuzzer alone must notice an unbound token.
mutant fuzz-page-token server/logic/bound_token.cc \
  's/if \(raw.substr\(1 \+ kKeyBytes\) != Digest/if (false \&\& raw.substr(1 + kKeyBytes) != Digest/' \
  fuzz ''

# Sanitizers: bugs the ordinary build cannot see.
mutant asan-leaked-call server/transport/unary_call.h \
  's/(Ended\(code_\);)\n\s*delete this;/$1/' \
  build-asan '^e2e\.UserServiceTest'
mutant tsan-unlocked-queue server/db/pool.cc \
  's/std::lock_guard<std::mutex> lock\(submit_mutex_\);\n(\s*)batch.swap\(submitted_\);/batch.swap(submitted_);/' \
  build-tsan '^pg\.PoolTest'

# Transport security
mutant tls-client-certificates server/transport/server_tls.cc \
  's/GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY/GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE/' \
  build 'TlsTest'
mutant tls-loopback-only server/app/options.cc \
  's/!options.insecure_listen && !IsLoopbackListen\(options.listen\)/false/' build 'TlsTest'
mutant tls-plaintext-refused server/app/service.cc \
  's/if \(options.tls_cert.empty\(\)\) \{/if (true) {/' build 'TlsTest'
mutant tls-whole-pairs server/transport/server_tls.cc \
  's/if \(X509_check_private_key\(chain.front\(\).get\(\), key.get\(\)\) != 1\)/if (false)/' \
  build 'AuthzTest'

# Authorization by caller, and audited token reads
mutant authz-enforced server/transport/incoming_call.cc \
  's/denied_ = !allowed.ok\(\);\n  return allowed;/return absl::OkStatus();/' build 'AuthzTest'
mutant authz-streams server/transport/server_stream.h \
  's/if \(absl::Status allowed = Authorize\(\); !allowed.ok\(\)\) return End\(ToGrpcStatus\(allowed\)\);//' \
  build 'AuthzTest'
mutant authz-reflection server/app/service.cc \
  's/if \(authorizer_ != nullptr\) \{\n    reflection_check/if (false) {\n    reflection_check/' \
  build 'AuthzTest'
mutant authz-deny-first server/authz/policy.cc \
  's/if \(RuleMatches\(rule, peer, path, header\)\) return \{false, &rule\};//' \
  build 'AuthzPolicy|AuthzTest'
mutant authz-strict-fields server/authz/policy.cc 's/if \(!is_known\) \{/if (false) {/' \
  build 'AuthzPolicy'
mutant authz-mtls-required server/app/options.cc \
  's/!options.authz_policy.empty\(\) && options.tls_client_ca.empty\(\)/false/' build 'AuthzTest'
mutant audit-token-reads server/transport/identity_service.cc \
  's/server.AuditCalls\(service_, "GetTokens"\);//' build 'AuthzTest|ObservabilityTest'
mutant fuzz-authz-deny-first server/authz/policy.cc \
  's/if \(RuleMatches\(rule, peer, path, header\)\) return \{false, &rule\};//' fuzz ''

# Tokens at rest
mutant tokens-encrypted server/storage/identity_store.cc \
  's/params.AddBytes\(sealed\);/params.AddBytes(**value);/' \
  build 'TheRawTableHolds'
mutant tokens-bound-to-row server/crypto/token_cipher.cc \
  's/std::string aad = AssociatedData\(context\);/std::string aad = AssociatedData(context).substr(0, 0);/g' \
  build 'TokenCipher|CiphertextMoved'

echo "defences: $caught caught, $survived survived (logs in $log_dir)"
[ "$survived" -eq 0 ]
