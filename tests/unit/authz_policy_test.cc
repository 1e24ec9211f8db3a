// The A43 policy parser and evaluator, against the example policy of gRFC A43 itself and the
// cases of grpc-go's authz tests (authz/rbac_translator_test.go, authz/grpc_authz_end2end_test.go),
// so that one policy file means the same to this server and to gRPC's own implementations.
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "authz/policy.h"
#include "authz/policy_watcher.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace firstsip::authz {
namespace {

using Headers = std::map<std::string, std::string>;

Peer Plaintext() { return Peer{}; }

Peer TlsWithoutCertificate() {
  Peer peer;
  peer.tls = true;
  return peer;
}

Peer Certificate(std::vector<std::string> uris, std::vector<std::string> dns = {},
                 std::string subject = "CN=someone") {
  Peer peer;
  peer.tls = true;
  peer.has_certificate = true;
  peer.uri_sans = std::move(uris);
  peer.dns_sans = std::move(dns);
  peer.subject = std::move(subject);
  return peer;
}

bool Allowed(const Policy& policy, const Peer& peer, const std::string& path,
             const Headers& headers = {}) {
  return policy
      .Evaluate(peer, path,
                [&headers](absl::string_view key) -> std::optional<std::string> {
                  auto found = headers.find(std::string(key));
                  if (found == headers.end()) return std::nullopt;
                  return found->second;
                })
      .allowed;
}

Policy MustParse(const std::string& json) {
  absl::StatusOr<Policy> policy = Policy::Parse(json);
  EXPECT_TRUE(policy.ok()) << policy.status() << "\n" << json;
  if (!policy.ok()) std::abort();
  return *std::move(policy);
}

// gRFC A43's own example.
constexpr char kA43Example[] = R"json({
  "name": "example-policy",
  "allow_rules": [
    {
      "name": "admin-access",
      "source": {"principals": ["spiffe://foo.com/sa/admin1", "spiffe://foo.com/sa/admin2"]},
      "request": {"paths": ["/pkg.service/*"]}
    },
    {
      "name": "dev-access",
      "source": {"principals": ["*", ""]},
      "request": {
        "paths": ["/pkg.service/foo", "/pkg.service/bar"],
        "headers": [{"key": "dev-path", "values": ["/dev/path/*"]}]
      }
    }
  ],
  "deny_rules": [
    {"name": "deny-access", "request": {"paths": ["*/secret"]}}
  ]
})json";

TEST(AuthzPolicyA43Example, AdminsCallAnyMethodOfTheServiceButNeverSecret) {
  Policy policy = MustParse(kA43Example);
  EXPECT_EQ(policy.name(), "example-policy");
  Peer admin = Certificate({"spiffe://foo.com/sa/admin2"});
  EXPECT_TRUE(Allowed(policy, admin, "/pkg.service/foo"));
  EXPECT_TRUE(Allowed(policy, admin, "/pkg.service/anything"));
  EXPECT_FALSE(Allowed(policy, admin, "/pkg.service/secret"));
  EXPECT_FALSE(Allowed(policy, admin, "/other.service/foo"));
  authz::Decision secret =
      policy.Evaluate(admin, "/pkg.service/secret", [](absl::string_view) { return std::nullopt; });
  EXPECT_EQ(secret.Explain(), "deny_rules/deny-access");
  authz::Decision foo =
      policy.Evaluate(admin, "/pkg.service/foo", [](absl::string_view) { return std::nullopt; });
  EXPECT_EQ(foo.Explain(), "allow_rules/admin-access");
}

TEST(AuthzPolicyA43Example, AnyAuthenticatedCallerReachesFooAndBarWithTheDevPathHeader) {
  Policy policy = MustParse(kA43Example);
  Peer developer = Certificate({"spiffe://foo.com/sa/dev"});
  Headers dev_path = {{"dev-path", "/dev/path/x"}};
  EXPECT_TRUE(Allowed(policy, developer, "/pkg.service/foo", dev_path));
  EXPECT_TRUE(Allowed(policy, developer, "/pkg.service/bar", dev_path));
  EXPECT_FALSE(Allowed(policy, developer, "/pkg.service/baz", dev_path));
  EXPECT_FALSE(Allowed(policy, developer, "/pkg.service/foo"));
  EXPECT_FALSE(Allowed(policy, developer, "/pkg.service/foo", {{"dev-path", "/prod/x"}}));
  // "" matches a TLS peer without a certificate; plaintext matches no principal at all.
  EXPECT_TRUE(Allowed(policy, TlsWithoutCertificate(), "/pkg.service/foo", dev_path));
  EXPECT_FALSE(Allowed(policy, Plaintext(), "/pkg.service/foo", dev_path));
  authz::Decision none = policy.Evaluate(developer, "/pkg.service/baz",
                                         [](absl::string_view) { return std::nullopt; });
  EXPECT_FALSE(none.allowed);
  EXPECT_EQ(none.Explain(), "no allow rule matched");
}

// grpc-go's authz end-to-end cases (TestStaticPolicyEnd2End and the TLS ones), each a policy,
// the caller's metadata, and its verdict for UnaryCall and StreamingInputCall.
struct EndToEndCase {
  const char* name;
  const char* policy;
  Headers metadata;
  Peer peer;
  bool allowed;
};

TEST(AuthzPolicyGrpcGo, EndToEndCasesDecideAsGrpcGoDoes) {
  const EndToEndCase cases[] = {
      {"DeniesRPCMatchInDenyNoMatchInAllow",
       R"({"name": "authz",
           "allow_rules": [{"name": "allow_StreamingOutputCall",
                            "request": {"paths": ["/grpc.testing.TestService/StreamingOutputCall"]}}],
           "deny_rules": [{"name": "deny_TestServiceCalls",
                           "request": {"paths": ["/grpc.testing.TestService/*"],
                                       "headers": [{"key": "key-abc",
                                                    "values": ["val-abc", "val-def"]}]}}]})",
       {{"key-abc", "val-abc"}},
       Plaintext(),
       false},
      {"DeniesRPCMatchInDenyAndAllow",
       R"({"name": "authz",
           "allow_rules": [{"name": "allow_all", "request": {"paths": ["*"]}}],
           "deny_rules": [{"name": "deny_all", "request": {"paths": ["*"]}}]})",
       {},
       Plaintext(),
       false},
      {"AllowsRPCNoMatchInDenyMatchInAllow",
       R"({"name": "authz",
           "allow_rules": [{"name": "allow_all"}],
           "deny_rules": [{"name": "deny_TestServiceCalls",
                           "request": {"paths": ["/grpc.testing.TestService/UnaryCall",
                                                 "/grpc.testing.TestService/StreamingInputCall"],
                                       "headers": [{"key": "key-abc",
                                                    "values": ["val-abc", "val-def"]}]}}]})",
       {{"key-xyz", "val-xyz"}},
       Plaintext(),
       true},
      {"DeniesRPCNoMatchInDenyAndAllow",
       R"({"name": "authz",
           "allow_rules": [{"name": "allow_some_user", "source": {"principals": ["some_user"]}}],
           "deny_rules": [{"name": "deny_StreamingOutputCall",
                           "request": {"paths": ["/grpc.testing.TestService/StreamingOutputCall"]}}]})",
       {},
       Plaintext(),
       false},
      {"AllowsRPCEmptyDenyMatchInAllow",
       R"({"name": "authz",
           "allow_rules": [
             {"name": "allow_UnaryCall", "request": {"paths": ["/grpc.testing.TestService/UnaryCall"]}},
             {"name": "allow_StreamingInputCall",
              "request": {"paths": ["/grpc.testing.TestService/StreamingInputCall"]}}]})",
       {},
       Plaintext(),
       true},
      {"DeniesRPCEmptyDenyNoMatchInAllow",
       R"({"name": "authz",
           "allow_rules": [{"name": "allow_StreamingOutputCall",
                            "request": {"paths": ["/grpc.testing.TestService/StreamingOutputCall"]}}]})",
       {},
       Plaintext(),
       false},
      {"DeniesRPCRequestWithPrincipalsFieldOnUnauthenticatedConnection",
       R"({"name": "authz",
           "allow_rules": [{"name": "allow_authenticated", "source": {"principals": ["*", ""]}}]})",
       {},
       Plaintext(),
       false},
      {"DeniesRPCRequestNoMatchInAllowFailsPresenceMatch",
       R"({"name": "authz",
           "allow_rules": [{"name": "allow_TestServiceCalls",
                            "request": {"paths": ["/grpc.testing.TestService/*"],
                                        "headers": [{"key": "key-abc", "values": ["*"]}]}}]})",
       {{"key-abc", ""}},
       Plaintext(),
       false},
      {"AllowsRPCRequestWithPrincipalsFieldOnTLSAuthenticatedConnection",
       R"({"name": "authz",
           "allow_rules": [{"name": "allow_authenticated", "source": {"principals": ["*", ""]}}]})",
       {},
       TlsWithoutCertificate(),
       true},
      {"AllowsRPCRequestWithPrincipalsFieldOnMTLSAuthenticatedConnection",
       R"({"name": "authz",
           "allow_rules": [{"name": "allow_authenticated", "source": {"principals": ["*", ""]}}]})",
       {},
       Certificate({}, {"*.test.example.com"}, "CN=test-client1,O=Internet Widgits Pty Ltd"),
       true},
  };
  for (const EndToEndCase& test : cases) {
    SCOPED_TRACE(test.name);
    Policy policy = MustParse(test.policy);
    for (const char* path :
         {"/grpc.testing.TestService/UnaryCall", "/grpc.testing.TestService/StreamingInputCall"}) {
      EXPECT_EQ(Allowed(policy, test.peer, path, test.metadata), test.allowed) << path;
    }
  }
}

// grpc-go's translator test "valid policy": every pattern kind, as it translates them.
TEST(AuthzPolicyGrpcGo, TheValidPolicyOfTheTranslatorTestMatchesAsItsTranslation) {
  Policy policy = MustParse(R"({
    "name": "authz",
    "deny_rules": [{"name": "deny_policy_1",
                    "source": {"principals": ["spiffe://foo.abc", "spiffe://bar*", "*baz",
                                              "spiffe://abc.*.com"]}}],
    "allow_rules": [
      {"name": "allow_policy_1", "source": {"principals": ["*"]},
       "request": {"paths": ["path-foo*"]}},
      {"name": "allow_policy_2",
       "request": {"paths": ["path-bar", "*baz"],
                   "headers": [{"key": "key-1", "values": ["foo", "*bar"]},
                               {"key": "key-2", "values": ["baz*"]}]}}]})");
  ASSERT_EQ(policy.deny_rules().size(), 1u);
  ASSERT_EQ(policy.allow_rules().size(), 2u);
  // Deny: exact, prefix, suffix, and an inner '*' that is a literal (exact).
  for (const char* denied :
       {"spiffe://foo.abc", "spiffe://bar/x", "spiffe://qux/baz", "spiffe://abc.*.com"}) {
    EXPECT_FALSE(Allowed(policy, Certificate({denied}), "path-foo1")) << denied;
  }
  EXPECT_TRUE(Allowed(policy, Certificate({"spiffe://abc.x.com"}), "path-foo1"));
  // allow_policy_1: any authenticated peer ("*" is presence), paths by prefix.
  EXPECT_TRUE(Allowed(policy, Certificate({"spiffe://x"}), "path-foo"));
  EXPECT_FALSE(Allowed(policy, Plaintext(), "path-foo"));
  // allow_policy_2: anyone; a path of the two, and both headers, each by one of its values.
  Headers both = {{"key-1", "xbar"}, {"key-2", "bazooka"}};
  EXPECT_TRUE(Allowed(policy, Plaintext(), "path-bar", both));
  EXPECT_TRUE(Allowed(policy, Plaintext(), "qux-baz", both));
  EXPECT_TRUE(Allowed(policy, Plaintext(), "path-bar", {{"key-1", "foo"}, {"key-2", "baz"}}));
  EXPECT_FALSE(Allowed(policy, Plaintext(), "path-bar", {{"key-1", "foo"}}));
  EXPECT_FALSE(Allowed(policy, Plaintext(), "path-bar", {{"key-1", "food"}, {"key-2", "baz"}}));
  EXPECT_FALSE(Allowed(policy, Plaintext(), "path-qux", both));
}

struct ParseErrorCase {
  const char* name;
  const char* policy;
  const char* error;  // a part of the message
};

TEST(AuthzPolicyParse, RefusesWhatGrpcGoRefusesAndSaysWhere) {
  const ParseErrorCase cases[] = {
      // grpc-go's translator test error cases.
      {"unknown field", R"({"random": 123})", "unknown field \"random\""},
      {"missing name field", R"({})", "\"name\" is missing"},
      {"invalid field type", R"({"name": 123})", "name: must be a string, not a number"},
      {"missing allow rules field", R"({"name": "authz-foo"})", "\"allow_rules\" is missing"},
      {"missing rule name field", R"({"name": "authz-foo", "allow_rules": [{}]})",
       "allow_rules[0]: \"name\" is missing"},
      {"missing header key",
       R"({"name": "authz", "allow_rules": [{"name": "allow_policy_1",
           "request": {"headers": [{"key": "key-a", "values": ["value-a"]}, {}]}}]})",
       "allow_rules[0].request.headers[1]: \"key\" is missing"},
      {"missing header values",
       R"({"name": "authz", "allow_rules": [{"name": "allow_policy_1",
           "request": {"headers": [{"key": "key-a"}]}}]})",
       "allow_rules[0].request.headers[0]: \"values\" is missing"},
      {"unsupported header",
       R"({"name": "authz", "allow_rules": [{"name": "allow_policy_1",
           "request": {"headers": [{"key": ":method", "values": ["GET"]}]}}]})",
       "allow_rules[0].request.headers[0]: header \":method\" cannot be matched"},
      {"audit logging options (A59)",
       R"({"name": "authz", "allow_rules": [{"name": "a"}],
           "audit_logging_options": {"audit_condition": "ON_DENY"}})",
       "\"audit_logging_options\" (gRFC A59) is not supported"},
      // Stricter than grpc-go: what it would accept but mean less than written.
      {"duplicate rule names",
       R"({"name": "p", "allow_rules": [{"name": "a", "request": {"paths": ["/x"]}},
                                        {"name": "a", "request": {"paths": ["/y"]}}]})",
       "allow_rules[1]: another rule in allow_rules is also named \"a\""},
      {"duplicate keys", R"({"name": "p", "name": "q", "allow_rules": [{"name": "a"}]})",
       "\"name\" appears twice"},
      {"empty allow rules", R"({"name": "p", "allow_rules": []})", "\"allow_rules\" is missing"},
      {"null source", R"({"name": "p", "allow_rules": [{"name": "a", "source": null}]})",
       "allow_rules[0].source: must be an object, not null"},
      {"a principal that is not a string",
       R"({"name": "p", "allow_rules": [{"name": "a", "source": {"principals": ["x", 7]}}]})",
       "allow_rules[0].source.principals[1]: must be a string"},
      {"paths not an array",
       R"({"name": "p", "allow_rules": [{"name": "a", "request": {"paths": "/x"}}]})",
       "allow_rules[0].request.paths: must be an array of strings, not a string"},
      {"unknown field in a rule", R"({"name": "p", "allow_rules": [{"name": "a", "sources": {}}]})",
       "allow_rules[0]: unknown field \"sources\""},
      {"unknown field in a source",
       R"({"name": "p", "allow_rules": [{"name": "a", "source": {"principal": ["x"]}}]})",
       "allow_rules[0].source: unknown field \"principal\""},
      {"misspelt case", R"({"Name": "p", "allow_rules": [{"name": "a"}]})",
       "unknown field \"Name\""},
      {"grpc- headers", R"({"name": "p", "allow_rules": [{"name": "a", "request":
           {"headers": [{"key": "GRPC-Timeout", "values": ["1"]}]}}]})",
       "header \"grpc-timeout\" cannot be matched"},
      {"not an object", R"(["name"])", "must be an object, not an array"},
      {"trailing content", R"({"name": "p", "allow_rules": [{"name": "a"}]} {})", "not valid JSON"},
      {"truncated", R"({"name": "p", "allow_rules": [{"name": )", "not valid JSON"},
      {"empty", "", "not valid JSON"},
      {"not UTF-8", "{\"name\": \"\xff\", \"allow_rules\": [{\"name\": \"a\"}]}", "not valid JSON"},
  };
  for (const ParseErrorCase& test : cases) {
    SCOPED_TRACE(test.name);
    absl::StatusOr<Policy> policy = Policy::Parse(test.policy);
    ASSERT_FALSE(policy.ok());
    EXPECT_EQ(policy.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(policy.status().message()), ::testing::HasSubstr(test.error));
  }
}

TEST(AuthzPolicyParse, HeaderKeysAreCaseInsensitiveAndSeveralValuesAreJoinedByCommas) {
  Policy policy = MustParse(R"({"name": "p", "allow_rules": [{"name": "a", "request":
      {"headers": [{"key": "X-Tenant", "values": ["blue,green"]}]}}]})");
  ASSERT_EQ(policy.allow_rules()[0].headers[0].key, "x-tenant");
  EXPECT_TRUE(Allowed(policy, Plaintext(), "/s/m", {{"x-tenant", "blue,green"}}));
  EXPECT_FALSE(Allowed(policy, Plaintext(), "/s/m", {{"x-tenant", "blue"}}));
}

TEST(AuthzPolicyParse, EmptyListsMeanAnyAsA43Says) {
  Policy policy = MustParse(
      R"({"name": "p", "allow_rules": [{"name": "a", "source": {"principals": []},
           "request": {"paths": [], "headers": []}}]})");
  EXPECT_TRUE(Allowed(policy, Plaintext(), "/any/thing"));
}

TEST(AuthzPolicyPrincipals, UriSansThenDnsSansThenTheSubjectAreEachTried) {
  Policy policy = MustParse(R"({"name": "p", "allow_rules": [
      {"name": "by-dns", "source": {"principals": ["worker.firstsip.internal"]}},
      {"name": "by-subject", "source": {"principals": ["CN=operator,O=First Sip"]}}]})");
  // A certificate with a URI SAN is still matched by its DNS SAN (gRPC C++ and A43; grpc-go
  // would look at the URI SANs only).
  EXPECT_TRUE(
      Allowed(policy, Certificate({"spiffe://x/worker"}, {"worker.firstsip.internal"}), "/s/m"));
  EXPECT_TRUE(Allowed(policy, Certificate({}, {}, "CN=operator,O=First Sip"), "/s/m"));
  EXPECT_FALSE(Allowed(policy, Certificate({"spiffe://x/worker"}, {}, "CN=worker"), "/s/m"));
}

TEST(AuthzPolicyParse, RefusesAPolicyLargerThanItReads) {
  std::string huge = absl::StrCat(R"({"name": ")", std::string(kMaxPolicyBytes, 'x'),
                                  R"(", "allow_rules": [{"name": "a"}]})");
  absl::StatusOr<Policy> policy = Policy::Parse(huge);
  ASSERT_FALSE(policy.ok());
  EXPECT_THAT(std::string(policy.status().message()), ::testing::HasSubstr("at most"));
}

class PolicyFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = absl::StrCat("/tmp/firstsip-policy-test-", getpid(), ".json");
    Write(kA43Example);
  }
  void TearDown() override { std::remove(path_.c_str()); }

  // In one rename, as the kubelet updates a ConfigMap: the watcher, re-reading every 10 ms,
  // must never catch a file between its truncation and its write (a refusal the test did not
  // make).
  void Write(const std::string& contents) {
    std::string temporary = path_ + ".tmp";
    std::ofstream(temporary, std::ios::trunc) << contents;
    ASSERT_EQ(std::rename(temporary.c_str(), path_.c_str()), 0) << path_;
  }

  std::string path_;
};

TEST_F(PolicyFileTest, ABadFileAtStartIsAnErrorNamingTheFile) {
  Write(R"({"name": "p"})");
  auto watcher = PolicyWatcher::Create(path_, absl::Seconds(1), nullptr);
  ASSERT_FALSE(watcher.ok());
  EXPECT_THAT(std::string(watcher.status().message()), ::testing::HasSubstr(path_));
  EXPECT_THAT(std::string(watcher.status().message()),
              ::testing::HasSubstr("\"allow_rules\" is missing"));
  auto missing = PolicyWatcher::Create("/nonexistent/policy.json", absl::Seconds(1), nullptr);
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(std::string(missing.status().message()), ::testing::HasSubstr("cannot read"));
}

TEST_F(PolicyFileTest, ChangesAreLoadedAndABrokenFileKeepsTheLastGoodPolicy) {
  // std::mutex, not absl::Mutex: Debian's Abseil is not built for ThreadSanitizer, which then
  // cannot see its locking and reports races on what it guards.
  std::mutex mutex;
  std::vector<std::string> reloads;
  auto watcher = PolicyWatcher::Create(
      path_, absl::Milliseconds(10), [&](const absl::Status& outcome, const Policy* loaded) {
        std::lock_guard<std::mutex> lock(mutex);
        reloads.push_back(outcome.ok() ? loaded->name() : std::string(outcome.message()));
      });
  ASSERT_TRUE(watcher.ok()) << watcher.status();
  EXPECT_EQ((*watcher)->current()->name(), "example-policy");
  auto wait_for = [&](size_t count) {
    for (absl::Time until = absl::Now() + absl::Seconds(5); absl::Now() < until;) {
      {
        std::lock_guard<std::mutex> lock(mutex);
        if (reloads.size() >= count) return true;
      }
      absl::SleepFor(absl::Milliseconds(5));
    }
    return false;
  };
  std::string second = R"({"name": "second", "allow_rules": [{"name": "a"}]})";
  Write(second);
  ASSERT_TRUE(wait_for(1));
  EXPECT_EQ((*watcher)->current()->name(), "second");
  // Half a file: refused once, and the policy in force stays.
  Write(second.substr(0, second.size() / 2));
  ASSERT_TRUE(wait_for(2));
  absl::SleepFor(absl::Milliseconds(50));
  {
    std::lock_guard<std::mutex> lock(mutex);
    ASSERT_EQ(reloads.size(), 2u);
    EXPECT_THAT(reloads[1], ::testing::HasSubstr("not valid JSON"));
    EXPECT_THAT(reloads[1], ::testing::HasSubstr(path_));
  }
  EXPECT_EQ((*watcher)->current()->name(), "second");
  Write(kA43Example);
  ASSERT_TRUE(wait_for(3));
  EXPECT_EQ((*watcher)->current()->name(), "example-policy");
  (*watcher)->Stop();
}

}  // namespace
}  // namespace firstsip::authz
