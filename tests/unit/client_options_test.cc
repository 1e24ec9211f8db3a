#include <set>
#include <string>

#include "firstsip/client/client.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"

namespace firstsip::client {
namespace {

std::set<std::string> RetriedMethods(const std::string& config) {
  google::protobuf::Struct parsed;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(config, &parsed).ok()) << config;
  std::set<std::string> methods;
  for (const auto& method_config : parsed.fields().at("methodConfig").list_value().values()) {
    const auto& fields = method_config.struct_value().fields();
    const auto& policy = fields.at("retryPolicy").struct_value().fields();
    EXPECT_EQ(policy.at("retryableStatusCodes").list_value().values(0).string_value(),
              "UNAVAILABLE");
    for (const auto& name : fields.at("name").list_value().values()) {
      const auto& n = name.struct_value().fields();
      methods.insert(n.at("service").string_value() + "/" + n.at("method").string_value());
    }
  }
  return methods;
}

TEST(RetryServiceConfig, RetriesReadsOnUnavailableButNeverCreatesOrTransitions) {
  std::set<std::string> methods = RetriedMethods(RetryServiceConfig(4));
  for (const char* idempotent :
       {"firstsip.v1.UserService/GetUser", "firstsip.v1.UserService/ListUsers",
        "firstsip.v1.IdentityService/GetTokens", "firstsip.v1.BriefingService/ListBriefings",
        "grpc.health.v1.Health/Check"}) {
    EXPECT_TRUE(methods.count(idempotent)) << idempotent;
  }
  for (const char* unsafe :
       {"firstsip.v1.UserService/CreateUser", "firstsip.v1.IdentityService/SignIn",
        "firstsip.v1.BriefingService/CreateBriefing", "firstsip.v1.BriefingService/StartBriefing",
        "firstsip.v1.BriefingService/ClaimNextBriefing", "firstsip.v1.UserService/DeleteUser"}) {
    EXPECT_FALSE(methods.count(unsafe)) << unsafe;
  }
  EXPECT_EQ(RetryServiceConfig(1), "{}");
}

TEST(Client, RefusesUnusableOptions) {
  ClientOptions empty;
  empty.target = "";
  EXPECT_EQ(Client::Create(empty).status().code(), absl::StatusCode::kInvalidArgument);
  ClientOptions zero;
  zero.timeout = absl::ZeroDuration();
  EXPECT_EQ(Client::Create(zero).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Client::Create(ClientOptions()).ok());
}

}  // namespace
}  // namespace firstsip::client
