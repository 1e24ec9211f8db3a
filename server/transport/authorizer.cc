#include "transport/authorizer.h"

#include <memory>
#include <optional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "grpc/grpc_security_constants.h"

namespace firstsip::transport {
namespace {

std::vector<std::string> Values(const grpc::AuthContext& auth, const char* property) {
  std::vector<std::string> values;
  for (const grpc::string_ref& value : auth.FindPropertyValues(property)) {
    values.emplace_back(value.data(), value.size());
  }
  return values;
}

}  // namespace

authz::Peer PeerOf(const grpc::ServerContextBase& context) {
  authz::Peer peer;
  std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  if (auth == nullptr) return peer;
  for (const grpc::string_ref& type :
       auth->FindPropertyValues(GRPC_TRANSPORT_SECURITY_TYPE_PROPERTY_NAME)) {
    // "ssl" from gRPC's TLS credentials, old and new.
    if (type == GRPC_SSL_TRANSPORT_SECURITY_TYPE || type == "tls") peer.tls = true;
  }
  if (!peer.tls) return peer;
  // gRPC sets the peer identity only for a certificate that verified against the client CA.
  peer.has_certificate = auth->IsPeerAuthenticated();
  if (!peer.has_certificate) return peer;
  peer.uri_sans = Values(*auth, GRPC_PEER_URI_PROPERTY_NAME);
  peer.dns_sans = Values(*auth, GRPC_PEER_DNS_PROPERTY_NAME);
  std::vector<std::string> subject = Values(*auth, GRPC_X509_SUBJECT_PROPERTY_NAME);
  if (!subject.empty()) peer.subject = subject.front();
  return peer;
}

std::string PrincipalOf(const authz::Peer& peer) {
  if (!peer.tls || !peer.has_certificate) return "unauthenticated";
  if (!peer.uri_sans.empty()) return peer.uri_sans.front();
  if (!peer.dns_sans.empty()) return peer.dns_sans.front();
  return peer.subject;
}

bool DenialLogLimiter::ShouldLog(absl::string_view principal, absl::string_view method,
                                 absl::Time now, int64_t* suppressed) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto key = std::make_pair(std::string(principal), std::string(method));
  auto found = pairs_.find(key);
  if (found != pairs_.end()) {
    if (now - found->second.logged < kEvery) {
      ++found->second.suppressed;
      return false;
    }
    *suppressed = found->second.suppressed;
    found->second = Entry{now, 0};
    return true;
  }
  if (pairs_.size() >= kMaxPairs) {
    absl::erase_if(pairs_, [now](const auto& pair) { return now - pair.second.logged >= kEvery; });
    if (pairs_.size() >= kMaxPairs) return false;
  }
  *suppressed = 0;
  pairs_.emplace(std::move(key), Entry{now, 0});
  return true;
}

absl::Status Authorizer::Check(const grpc::ServerContextBase& context, const std::string& path) {
  std::shared_ptr<const authz::Policy> policy = policies_.current();
  authz::Peer peer = PeerOf(context);
  const auto& metadata = context.client_metadata();
  authz::Decision decision = policy->Evaluate(
      peer, path, [&metadata](absl::string_view key) -> std::optional<std::string> {
        auto [begin, end] = metadata.equal_range(grpc::string_ref(key.data(), key.size()));
        if (begin == end) return std::nullopt;
        // A43: a header sent several times is one value, its values joined by commas.
        std::string joined;
        for (auto it = begin; it != end; ++it) {
          if (it != begin) joined += ',';
          joined.append(it->second.data(), it->second.size());
        }
        return joined;
      });
  if (decision.allowed) return absl::OkStatus();
  if (metrics_ != nullptr) metrics_->RecordDenied(path);
  std::string principal = PrincipalOf(peer);
  int64_t suppressed = 0;
  if (LogEnabled(LogLevel::kWarning) &&
      limiter_.ShouldLog(principal, path, absl::Now(), &suppressed)) {
    Log(LogLevel::kWarning, "call denied by the authorization policy",
        {{"principal", principal},
         {"method", path},
         {"policy", policy->name()},
         {"rule", decision.Explain()},
         {"denied_unlogged", absl::StrCat(suppressed)}});
  }
  return absl::PermissionDeniedError(absl::StrCat(principal, " may not call ", path));
}

}  // namespace firstsip::transport
