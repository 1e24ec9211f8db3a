// Authorization by caller, checked where every call arrives (incoming_call.h) before its request
// is parsed: the call's peer (from the TLS handshake, gRPC's auth_context), its method path and
// its metadata are evaluated against the policy in force (authz/policy.h). A call the policy
// does not allow ends with PERMISSION_DENIED, is counted (firstsip_rpc_denied_total{method})
// and logged, each (principal, method) pair at most once a minute so that a misconfigured
// caller retrying in a loop cannot flood the log.
//
// gRPC C++ has this engine as a server filter, but Debian's gRPC 1.51 does not ship the library
// that creates its policy providers; and a gRPC interceptor would cost every call more than the
// call's own work (call_tracker.h). Evaluating here costs a call nothing without a policy.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "authz/policy.h"
#include "authz/policy_watcher.h"
#include "grpcpp/server_context.h"
#include "transport/metrics.h"

namespace firstsip::transport {

// The peer of a call as authz sees it: TLS or not, the verified client certificate's URI and
// DNS SANs and subject.
authz::Peer PeerOf(const grpc::ServerContextBase& context);

// The name logs give a caller: its certificate's first URI SAN (a SPIFFE ID), else its first
// DNS SAN, else its subject; "unauthenticated" without a verified certificate.
std::string PrincipalOf(const authz::Peer& peer);

// Which denials get a log line: the first of each (principal, method) pair in a minute. Keeps
// at most kMaxPairs pairs; beyond that, lines are skipped until old pairs expire.
class DenialLogLimiter {
 public:
  static constexpr size_t kMaxPairs = 4096;
  static constexpr absl::Duration kEvery = absl::Minutes(1);

  // Whether to log this denial now; if so, `suppressed` is how many denials of the pair went
  // unlogged since its last line. Thread-safe.
  bool ShouldLog(absl::string_view principal, absl::string_view method, absl::Time now,
                 int64_t* suppressed);

 private:
  struct Entry {
    absl::Time logged;
    int64_t suppressed = 0;
  };
  std::mutex mutex_;
  absl::flat_hash_map<std::pair<std::string, std::string>, Entry> pairs_;  // guarded by mutex_
};

class Authorizer {
 public:
  // `policies` and `metrics` (may be null) must outlive this.
  Authorizer(const authz::PolicyWatcher& policies, Metrics* metrics)
      : policies_(policies), metrics_(metrics) {}

  // OK when the policy in force lets the call's peer call `path` ("/package.Service/Method");
  // PERMISSION_DENIED (counted, logged at most once a minute per principal and method)
  // otherwise. Any thread.
  absl::Status Check(const grpc::ServerContextBase& context, const std::string& path);

 private:
  const authz::PolicyWatcher& policies_;
  Metrics* const metrics_;
  DenialLogLimiter limiter_;
};

}  // namespace firstsip::transport
