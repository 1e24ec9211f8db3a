// libFuzzer: the authorization policy parser (authz/policy.h) never crashes, and what it accepts
// is a policy A43 would accept and that decides as A43 says: valid JSON by another parser
// (protobuf's), a name, allow rules, named rules, matchable header keys; every call is denied if
// a deny rule matches it, else allowed exactly when an allow rule matches it.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "authz/policy.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"

namespace {

using firstsip::authz::Peer;
using firstsip::authz::Policy;
using firstsip::authz::Rule;

bool AnyMatches(const std::vector<Rule>& rules, const Peer& peer, const std::string& path,
                firstsip::authz::HeaderLookup header) {
  for (const Rule& rule : rules) {
    if (firstsip::authz::RuleMatches(rule, peer, path, header)) return true;
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string input(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<Policy> policy = Policy::Parse(input);
  if (!policy.ok()) {
    if (policy.status().code() != absl::StatusCode::kInvalidArgument) __builtin_trap();
    return 0;
  }
  google::protobuf::Struct as_struct;
  if (!google::protobuf::util::JsonStringToMessage(input, &as_struct).ok()) __builtin_trap();
  if (policy->name().empty() || policy->allow_rules().empty()) __builtin_trap();
  for (const auto* rules : {&policy->deny_rules(), &policy->allow_rules()}) {
    for (const Rule& rule : *rules) {
      if (rule.name.empty()) __builtin_trap();
      for (const auto& header : rule.headers) {
        if (header.key.empty() || header.values.empty() || header.key[0] == ':' ||
            header.key.rfind("grpc-", 0) == 0) {
          __builtin_trap();
        }
        for (char c : header.key) {
          if (c >= 'A' && c <= 'Z') __builtin_trap();
        }
      }
    }
  }
  // Decide some calls: paths and peers taken from the policy's own patterns, so that rules
  // match now and then.
  std::vector<Peer> peers(3);
  peers[1].tls = true;
  peers[2].tls = peers[2].has_certificate = true;
  std::vector<std::string> paths = {"/firstsip.v1.UserService/GetUser", ""};
  for (const Rule& rule : policy->allow_rules()) {
    for (const auto& principal : rule.principals) peers[2].uri_sans.push_back(principal.pattern());
    for (const auto& path : rule.paths) paths.push_back(path.pattern());
  }
  auto header = [](absl::string_view key) -> std::optional<std::string> {
    if (key.size() % 2 == 0) return std::nullopt;
    return std::string(key);
  };
  for (const Peer& peer : peers) {
    for (const std::string& path : paths) {
      firstsip::authz::Decision decision = policy->Evaluate(peer, path, header);
      bool denied = AnyMatches(policy->deny_rules(), peer, path, header);
      bool allowed = AnyMatches(policy->allow_rules(), peer, path, header);
      if (decision.allowed != (!denied && allowed)) __builtin_trap();
      if (decision.allowed && decision.rule == nullptr) __builtin_trap();
    }
  }
  return 0;
}
