#include "authz/policy.h"

#include <simdjson.h>

#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace firstsip::authz {
namespace {

namespace dom = simdjson::dom;

// Headers A43 (and every gRPC implementation) refuses to match: the host, hop-by-hop headers,
// HTTP/2 pseudo-headers and gRPC's own.
bool UnsupportedHeader(absl::string_view key) {
  static constexpr absl::string_view kUnsupported[] = {"host",
                                                       "connection",
                                                       "keep-alive",
                                                       "proxy-authenticate",
                                                       "proxy-authorization",
                                                       "te",
                                                       "trailer",
                                                       "transfer-encoding",
                                                       "upgrade"};
  if (absl::StartsWith(key, ":") || absl::StartsWith(key, "grpc-")) return true;
  for (absl::string_view unsupported : kUnsupported) {
    if (key == unsupported) return true;
  }
  return false;
}

// simdjson's std::string_view as Abseil's (Debian's Abseil has its own string_view type).
absl::string_view View(std::string_view text) {
  return absl::string_view(text.data(), text.size());
}

absl::Status Invalid(absl::string_view where, absl::string_view what) {
  return absl::InvalidArgumentError(where.empty() ? std::string(what)
                                                  : absl::StrCat(where, ": ", what));
}

const char* TypeName(dom::element_type type) {
  switch (type) {
    case dom::element_type::ARRAY:
      return "an array";
    case dom::element_type::OBJECT:
      return "an object";
    case dom::element_type::STRING:
      return "a string";
    case dom::element_type::BOOL:
      return "a boolean";
    case dom::element_type::NULL_VALUE:
      return "null";
    default:
      return "a number";
  }
}

absl::Status WrongType(absl::string_view where, dom::element value, absl::string_view wanted) {
  return Invalid(where, absl::StrCat("must be ", wanted, ", not ", TypeName(value.type())));
}

// The fields of the object `value`, each once, all of them among `known`; INVALID_ARGUMENT
// otherwise. `where` names the object in messages.
absl::StatusOr<std::vector<std::pair<absl::string_view, dom::element>>> Fields(
    dom::element value, absl::string_view where, std::initializer_list<absl::string_view> known) {
  dom::object object;
  if (value.get_object().get(object) != simdjson::SUCCESS) {
    return WrongType(where, value, "an object");
  }
  std::vector<std::pair<absl::string_view, dom::element>> fields;
  std::set<absl::string_view> seen;
  for (dom::key_value_pair field : object) {
    absl::string_view key = View(field.key);
    if (!seen.insert(key).second) {
      return Invalid(where, absl::StrCat("\"", key, "\" appears twice"));
    }
    bool is_known = false;
    for (absl::string_view name : known) is_known = is_known || name == key;
    if (!is_known) {
      if (key == "audit_logging_options") {
        return Invalid(where,
                       "\"audit_logging_options\" (gRFC A59) is not supported here; remove it "
                       "(this server writes its own audit lines: docs/OPERATIONS.md)");
      }
      return Invalid(where, absl::StrCat("unknown field \"", key,
                                         "\" (known: ", absl::StrJoin(known, ", "), ")"));
    }
    fields.emplace_back(key, field.value);
  }
  return fields;
}

absl::StatusOr<std::string> String(dom::element value, absl::string_view where) {
  std::string_view text;
  if (value.get_string().get(text) != simdjson::SUCCESS) {
    return WrongType(where, value, "a string");
  }
  return std::string(text);
}

// An array of strings, each made a Matcher.
absl::StatusOr<std::vector<Matcher>> Patterns(dom::element value, absl::string_view where) {
  dom::array array;
  if (value.get_array().get(array) != simdjson::SUCCESS) {
    return WrongType(where, value, "an array of strings");
  }
  std::vector<Matcher> matchers;
  size_t index = 0;
  for (dom::element item : array) {
    absl::StatusOr<std::string> pattern = String(item, absl::StrCat(where, "[", index++, "]"));
    if (!pattern.ok()) return pattern.status();
    matchers.push_back(Matcher::FromPattern(*pattern));
  }
  return matchers;
}

absl::StatusOr<HeaderRule> ParseHeader(dom::element value, const std::string& where) {
  auto fields = Fields(value, where, {"key", "values"});
  if (!fields.ok()) return fields.status();
  HeaderRule header;
  bool has_key = false;
  bool has_values = false;
  for (const auto& [name, field] : *fields) {
    if (name == "key") {
      absl::StatusOr<std::string> key = String(field, absl::StrCat(where, ".key"));
      if (!key.ok()) return key.status();
      header.key = absl::AsciiStrToLower(*key);
      has_key = true;
    } else {
      absl::StatusOr<std::vector<Matcher>> values = Patterns(field, absl::StrCat(where, ".values"));
      if (!values.ok()) return values.status();
      header.values = *std::move(values);
      has_values = true;
    }
  }
  if (!has_key || header.key.empty()) return Invalid(where, "\"key\" is missing");
  if (UnsupportedHeader(header.key)) {
    return Invalid(where, absl::StrCat("header \"", header.key,
                                       "\" cannot be matched (host, hop-by-hop, pseudo and grpc- "
                                       "headers are not supported)"));
  }
  if (!has_values || header.values.empty()) {
    return Invalid(where, "\"values\" is missing (a header needs at least one value)");
  }
  return header;
}

absl::StatusOr<Rule> ParseRule(dom::element value, const std::string& where) {
  auto fields = Fields(value, where, {"name", "source", "request"});
  if (!fields.ok()) return fields.status();
  Rule rule;
  for (const auto& [name, field] : *fields) {
    if (name == "name") {
      absl::StatusOr<std::string> rule_name = String(field, absl::StrCat(where, ".name"));
      if (!rule_name.ok()) return rule_name.status();
      rule.name = *std::move(rule_name);
    } else if (name == "source") {
      std::string source = absl::StrCat(where, ".source");
      auto source_fields = Fields(field, source, {"principals"});
      if (!source_fields.ok()) return source_fields.status();
      for (const auto& [unused, principals] : *source_fields) {
        auto matchers = Patterns(principals, absl::StrCat(source, ".principals"));
        if (!matchers.ok()) return matchers.status();
        rule.principals = *std::move(matchers);
      }
    } else {
      std::string request = absl::StrCat(where, ".request");
      auto request_fields = Fields(field, request, {"paths", "headers"});
      if (!request_fields.ok()) return request_fields.status();
      for (const auto& [request_name, request_field] : *request_fields) {
        if (request_name == "paths") {
          auto paths = Patterns(request_field, absl::StrCat(request, ".paths"));
          if (!paths.ok()) return paths.status();
          rule.paths = *std::move(paths);
          continue;
        }
        std::string headers_where = absl::StrCat(request, ".headers");
        dom::array headers;
        if (request_field.get_array().get(headers) != simdjson::SUCCESS) {
          return WrongType(headers_where, request_field, "an array of objects");
        }
        size_t index = 0;
        for (dom::element header : headers) {
          auto parsed = ParseHeader(header, absl::StrCat(headers_where, "[", index++, "]"));
          if (!parsed.ok()) return parsed.status();
          rule.headers.push_back(*std::move(parsed));
        }
      }
    }
  }
  if (rule.name.empty()) return Invalid(where, "\"name\" is missing");
  return rule;
}

absl::StatusOr<std::vector<Rule>> ParseRules(dom::element value, absl::string_view list) {
  dom::array array;
  if (value.get_array().get(array) != simdjson::SUCCESS) {
    return WrongType(list, value, "an array of rules");
  }
  std::vector<Rule> rules;
  std::set<std::string> names;
  for (dom::element item : array) {
    std::string where = absl::StrCat(list, "[", rules.size(), "]");
    absl::StatusOr<Rule> rule = ParseRule(item, where);
    if (!rule.ok()) return rule.status();
    // grpc-go keys rules by name, so a second rule of the same name silently replaces the
    // first; refused here, so a policy never means less than it says.
    if (!names.insert(rule->name).second) {
      return Invalid(where,
                     absl::StrCat("another rule in ", list, " is also named \"", rule->name, "\""));
    }
    rules.push_back(*std::move(rule));
  }
  return rules;
}

bool AnyMatches(const std::vector<Matcher>& matchers, absl::string_view value) {
  for (const Matcher& matcher : matchers) {
    if (matcher.Matches(value)) return true;
  }
  return false;
}

// A43: plaintext matches nothing; no certificate matches only ""; otherwise the URI SANs, then
// the DNS SANs, then the subject.
bool PrincipalMatches(const Matcher& principal, const Peer& peer) {
  if (!peer.tls) return false;
  if (!peer.has_certificate) return principal.Matches("");
  for (const std::string& uri : peer.uri_sans) {
    if (principal.Matches(uri)) return true;
  }
  for (const std::string& dns : peer.dns_sans) {
    if (principal.Matches(dns)) return true;
  }
  return principal.Matches(peer.subject);
}

}  // namespace

Matcher Matcher::FromPattern(absl::string_view pattern) {
  std::string written(pattern);
  if (pattern == "*") return Matcher(Kind::kPresence, "", std::move(written));
  if (absl::EndsWith(pattern, "*")) {
    return Matcher(Kind::kPrefix, std::string(pattern.substr(0, pattern.size() - 1)),
                   std::move(written));
  }
  if (absl::StartsWith(pattern, "*")) {
    return Matcher(Kind::kSuffix, std::string(pattern.substr(1)), std::move(written));
  }
  return Matcher(Kind::kExact, std::string(pattern), std::move(written));
}

bool Matcher::Matches(absl::string_view value) const {
  switch (kind_) {
    case Kind::kExact:
      return value == text_;
    case Kind::kPrefix:
      return absl::StartsWith(value, text_);
    case Kind::kSuffix:
      return absl::EndsWith(value, text_);
    case Kind::kPresence:
      return !value.empty();
  }
  return false;
}

bool RuleMatches(const Rule& rule, const Peer& peer, absl::string_view path, HeaderLookup header) {
  if (!rule.paths.empty() && !AnyMatches(rule.paths, path)) return false;
  for (const HeaderRule& wanted : rule.headers) {
    std::optional<std::string> value = header(wanted.key);
    if (!value.has_value() || !AnyMatches(wanted.values, *value)) return false;
  }
  if (rule.principals.empty()) return true;
  for (const Matcher& principal : rule.principals) {
    if (PrincipalMatches(principal, peer)) return true;
  }
  return false;
}

absl::StatusOr<Policy> Policy::Parse(absl::string_view json) {
  if (json.size() > kMaxPolicyBytes) {
    return Invalid("", absl::StrCat("the policy is ", json.size(), " bytes; at most ",
                                    kMaxPolicyBytes, " are read"));
  }
  dom::parser parser;
  simdjson::padded_string padded(json.data(), json.size());
  dom::element root;
  if (simdjson::error_code error = parser.parse(padded).get(root); error != simdjson::SUCCESS) {
    return Invalid(
        "", absl::StrCat("the policy is not valid JSON (", simdjson::error_message(error), ")"));
  }
  auto fields = Fields(root, "the policy", {"name", "deny_rules", "allow_rules"});
  if (!fields.ok()) return fields.status();
  Policy policy;
  bool has_allow_rules = false;
  for (const auto& [name, field] : *fields) {
    if (name == "name") {
      absl::StatusOr<std::string> policy_name = String(field, "name");
      if (!policy_name.ok()) return policy_name.status();
      policy.name_ = *std::move(policy_name);
    } else {
      absl::StatusOr<std::vector<Rule>> rules = ParseRules(field, name);
      if (!rules.ok()) return rules.status();
      if (name == "allow_rules") {
        policy.allow_rules_ = *std::move(rules);
        has_allow_rules = true;
      } else {
        policy.deny_rules_ = *std::move(rules);
      }
    }
  }
  if (policy.name_.empty()) return Invalid("the policy", "\"name\" is missing");
  if (!has_allow_rules || policy.allow_rules_.empty()) {
    return Invalid("the policy",
                   "\"allow_rules\" is missing or empty (A43 denies what no rule allows, so a "
                   "policy without allow rules would deny every call)");
  }
  return policy;
}

Decision Policy::Evaluate(const Peer& peer, absl::string_view path, HeaderLookup header) const {
  for (const Rule& rule : deny_rules_) {
    if (RuleMatches(rule, peer, path, header)) return {false, &rule};
  }
  for (const Rule& rule : allow_rules_) {
    if (RuleMatches(rule, peer, path, header)) return {true, &rule};
  }
  return {false, nullptr};
}

std::string Decision::Explain() const {
  if (rule == nullptr) return "no allow rule matched";
  return absl::StrCat(allowed ? "allow_rules/" : "deny_rules/", rule->name);
}

}  // namespace firstsip::authz
