#include "app/check_policy_command.h"

#include <cstdio>
#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "authz/policy.h"
#include "authz/policy_watcher.h"
#include "google/protobuf/descriptor.h"

namespace firstsip::app {
namespace {

// What the server serves: our services, health, and reflection.
constexpr const char* kServices[] = {
    "firstsip.v1.UserService",
    "firstsip.v1.IdentityService",
    "firstsip.v1.BriefingService",
    "grpc.health.v1.Health",
    "grpc.reflection.v1.ServerReflection",
    "grpc.reflection.v1alpha.ServerReflection",
};

}  // namespace

int RunCheckPolicyCommand(const std::vector<std::string>& args) {
  if (args.empty()) {
    std::fprintf(stderr, "usage: firstsip-server check-policy FILE [PRINCIPAL...]\n");
    return 2;
  }
  absl::StatusOr<authz::Policy> policy = authz::ReadPolicyFile(args[0]);
  if (!policy.ok()) {
    std::fprintf(stderr, "%s\n", std::string(policy.status().message()).c_str());
    return 2;
  }
  std::printf("policy \"%s\": %zu deny rules, %zu allow rules\n", policy->name().c_str(),
              policy->deny_rules().size(), policy->allow_rules().size());
  bool uses_headers = false;
  for (const auto* rules : {&policy->deny_rules(), &policy->allow_rules()}) {
    for (const authz::Rule& rule : *rules) uses_headers = uses_headers || !rule.headers.empty();
  }
  for (size_t i = 1; i < args.size(); ++i) {
    authz::Peer peer;
    peer.tls = true;
    peer.has_certificate = true;
    if (absl::StrContains(args[i], "://")) {
      peer.uri_sans.push_back(args[i]);
    } else {
      peer.dns_sans.push_back(args[i]);
    }
    std::printf("\n%s\n", args[i].c_str());
    for (const char* service : kServices) {
      const google::protobuf::ServiceDescriptor* descriptor =
          google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(service);
      if (descriptor == nullptr) continue;
      for (int m = 0; m < descriptor->method_count(); ++m) {
        std::string path = absl::StrCat("/", service, "/", descriptor->method(m)->name());
        authz::Decision decision =
            policy->Evaluate(peer, path, [](absl::string_view) { return std::nullopt; });
        std::printf("  %-6s %-64s %s\n", decision.allowed ? "allow" : "deny", path.c_str(),
                    decision.Explain().c_str());
      }
    }
  }
  if (uses_headers && args.size() > 1) {
    std::printf("\n(rules that match request headers were evaluated for calls without them)\n");
  }
  return 0;
}

}  // namespace firstsip::app
