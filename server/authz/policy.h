// gRPC authorization policies (gRFC A43), the JSON that grpc-go's `authz` package, grpc-java
// and gRPC C++ read: a policy names who (the peer's certificate identity) may call what (method
// paths, request headers). Deny rules are checked first, then allow rules; a call no allow rule
// matches is denied.
//
// The parser is strict: an unknown field, a value of the wrong type, a missing name, an empty
// allow list or a header gRPC forbids is an error naming where it is, never skipped. (grpc-go
// would also refuse all of these, except duplicate rule names, which it lets overwrite each
// other silently.) A parsed Policy is immutable; policy_watcher.h swaps whole policies.
//
// Matching follows A43 where the implementations differ: a principal is tried against every URI
// SAN, then every DNS SAN, then the subject (gRPC C++'s order; grpc-go tries only the first of
// those the certificate has).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace firstsip::authz {

// The largest policy file read: a policy is a few KiB; anything near this is a mistake.
inline constexpr size_t kMaxPolicyBytes = 1 << 20;

// An A43 value pattern: "abc" exactly, "abc*" by prefix, "*abc" by suffix, "*" any non-empty
// value. Only a leading or trailing '*' is special ("a*b" is exact).
class Matcher {
 public:
  static Matcher FromPattern(absl::string_view pattern);
  bool Matches(absl::string_view value) const;
  const std::string& pattern() const { return pattern_; }

 private:
  enum class Kind { kExact, kPrefix, kSuffix, kPresence };
  Matcher(Kind kind, std::string text, std::string pattern)
      : kind_(kind), text_(std::move(text)), pattern_(std::move(pattern)) {}

  Kind kind_;
  std::string text_;     // what is compared, without the '*'
  std::string pattern_;  // as written, for messages
};

// Who is calling, as the TLS handshake established it.
struct Peer {
  // The connection is TLS (plaintext peers match no principal, not even "").
  bool tls = false;
  // The peer presented a verified certificate; without one only the principal "" matches.
  bool has_certificate = false;
  std::vector<std::string> uri_sans;  // e.g. "spiffe://firstsip.example/ns/prod/sa/web"
  std::vector<std::string> dns_sans;
  std::string subject;  // RFC 2253, e.g. "CN=web,O=First Sip"
};

// A request header's value as A43 matches it: absent, or every value of the key joined by ",".
using HeaderLookup = absl::FunctionRef<std::optional<std::string>(absl::string_view key)>;

struct HeaderRule {
  std::string key;              // lowercase
  std::vector<Matcher> values;  // any one matches
};

struct Rule {
  std::string name;
  std::vector<Matcher> principals;  // any one matches; empty: any peer
  std::vector<Matcher> paths;       // any one matches; empty: any method
  std::vector<HeaderRule> headers;  // all must match
};

// What a policy said about one call.
struct Decision {
  bool allowed = false;
  // The rule that decided (a deny rule when !allowed), owned by the policy; null when no allow
  // rule matched (A43's default deny).
  const Rule* rule = nullptr;

  // "deny_rules/NAME", "allow_rules/NAME", or "no allow rule matched", for logs.
  std::string Explain() const;
};

class Policy {
 public:
  // The policy in `json`, or INVALID_ARGUMENT saying what is wrong and where (e.g.
  // `allow_rules[1].request.headers[0]: "values" is missing`).
  static absl::StatusOr<Policy> Parse(absl::string_view json);

  const std::string& name() const { return name_; }
  const std::vector<Rule>& deny_rules() const { return deny_rules_; }
  const std::vector<Rule>& allow_rules() const { return allow_rules_; }

  // Deny rules first, then allow rules, then deny. `path` is "/package.Service/Method".
  Decision Evaluate(const Peer& peer, absl::string_view path, HeaderLookup header) const;

 private:
  Policy() = default;

  std::string name_;
  std::vector<Rule> deny_rules_;
  std::vector<Rule> allow_rules_;
};

// True when `rule` matches the call (A43: its source and its request both match).
bool RuleMatches(const Rule& rule, const Peer& peer, absl::string_view path, HeaderLookup header);

}  // namespace firstsip::authz
