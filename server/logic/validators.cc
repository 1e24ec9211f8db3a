#include "logic/validators.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace firstsip::logic {
namespace {

absl::Status Invalid(absl::string_view field, absl::string_view rule) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", rule));
}

// Length of the UTF-8 sequence starting at s[i], or 0 when it is malformed (overlong forms,
// surrogates and code points above U+10FFFF included).
size_t Utf8SequenceLength(absl::string_view s, size_t i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char lead = byte(i);
  if (lead < 0x80) return 1;
  size_t length = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 0;
  if (length == 0 || lead > 0xF4 || lead == 0xC0 || lead == 0xC1 || i + length > s.size()) {
    return 0;
  }
  for (size_t k = 1; k < length; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
  }
  unsigned char second = byte(i + 1);
  if (lead == 0xE0 && second < 0xA0) return 0;  // overlong
  if (lead == 0xED && second > 0x9F) return 0;  // surrogates
  if (lead == 0xF0 && second < 0x90) return 0;  // overlong
  if (lead == 0xF4 && second > 0x8F) return 0;  // above U+10FFFF
  return length;
}

// U+FFFD REPLACEMENT CHARACTER in UTF-8.
constexpr absl::string_view kReplacementCharacter = "\xEF\xBF\xBD";

// The domain of an email address as a hostname (see ValidateEmail).
absl::Status ValidateEmailDomain(absl::string_view domain, absl::string_view field) {
  if (domain.empty() || domain.find('.') == absl::string_view::npos) {
    return Invalid(field, "needs a domain such as example.com after the '@'");
  }
  for (absl::string_view label : absl::StrSplit(domain, '.')) {
    if (label.empty()) {
      return Invalid(field, "needs a domain such as example.com after the '@' (an empty label)");
    }
    if (label.size() > kMaxDomainLabelLength) {
      return Invalid(field, absl::StrCat("each part of the domain must be at most ",
                                         kMaxDomainLabelLength, " bytes"));
    }
    bool ldh = std::all_of(label.begin(), label.end(),
                           [](char c) { return absl::ascii_isalnum(c) || c == '-'; });
    if (!ldh) {
      return Invalid(field,
                     "the domain must be ASCII letters, digits, hyphens and dots "
                     "(an internationalized domain in its xn-- form)");
    }
    if (label.front() == '-' || label.back() == '-') {
      return Invalid(field, "no part of the domain may start or end with a hyphen");
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateText(absl::string_view value, absl::string_view field, size_t max_bytes) {
  if (value.size() > max_bytes) {
    return Invalid(field, absl::StrCat("must be at most ", max_bytes, " bytes"));
  }
  for (size_t i = 0; i < value.size();) {
    if (value[i] == '\0') return Invalid(field, "must not contain NUL bytes");
    size_t length = Utf8SequenceLength(value, i);
    if (length == 0) return Invalid(field, "must be valid UTF-8");
    i += length;
  }
  return absl::OkStatus();
}

absl::Status ValidateIdentifier(absl::string_view value, absl::string_view field,
                                size_t max_bytes) {
  if (absl::Status text = ValidateText(value, field, max_bytes); !text.ok()) return text;
  if (absl::StrContains(value, kReplacementCharacter)) {
    return Invalid(field,
                   "must not contain U+FFFD, the replacement character: the text was damaged "
                   "before it arrived; send the original");
  }
  return absl::OkStatus();
}

absl::Status ValidateEmail(absl::string_view email, absl::string_view field) {
  if (email.empty()) return Invalid(field, "is required");
  if (absl::Status text = ValidateIdentifier(email, field, kMaxEmailLength); !text.ok()) {
    return text;
  }
  auto bad_char = [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u <= 0x20 || u == 0x7F || c == '<' || c == '>' || c == ',' || c == ';' || c == '"' ||
           c == '(' || c == ')' || c == '[' || c == ']' || c == '\\';
  };
  if (std::any_of(email.begin(), email.end(), bad_char)) {
    return Invalid(field, "must be a single address without spaces, quotes or brackets");
  }
  size_t at = email.find('@');
  if (at == absl::string_view::npos || email.find('@', at + 1) != absl::string_view::npos) {
    return Invalid(field, "must contain exactly one '@'");
  }
  absl::string_view local = email.substr(0, at);
  absl::string_view domain = email.substr(at + 1);
  if (local.empty() || local.size() > 64) {
    return Invalid(field, "needs 1 to 64 characters before the '@'");
  }
  if (local.front() == '.' || local.back() == '.' || local.find("..") != absl::string_view::npos) {
    return Invalid(field, "must not start, end or repeat dots before the '@'");
  }
  return ValidateEmailDomain(domain, field);
}

absl::Status ValidateTimezone(absl::string_view name, absl::string_view field) {
  // cctz also loads file paths and "Fixed/UTC+hh:mm"; only plain IANA names are accepted.
  bool plain = !name.empty() && name.size() <= 64 && name.front() != '/' &&
               name.find("..") == absl::string_view::npos && name.substr(0, 6) != "Fixed/" &&
               std::all_of(name.begin(), name.end(), [](char c) {
                 return absl::ascii_isalnum(c) || c == '/' || c == '_' || c == '-' || c == '+';
               });
  absl::TimeZone zone;
  if (!plain || !absl::LoadTimeZone(std::string(name), &zone)) {
    return Invalid(field, absl::StrCat("\"", plain ? name : "(not shown)",
                                       "\" is not an IANA time zone name such as Europe/Berlin"));
  }
  return absl::OkStatus();
}

absl::Status ValidateClockTime(absl::string_view hhmm, absl::string_view field) {
  bool shape = hhmm.size() == 5 && hhmm[2] == ':' && absl::ascii_isdigit(hhmm[0]) &&
               absl::ascii_isdigit(hhmm[1]) && absl::ascii_isdigit(hhmm[3]) &&
               absl::ascii_isdigit(hhmm[4]);
  if (shape) {
    int hours = (hhmm[0] - '0') * 10 + (hhmm[1] - '0');
    int minutes = (hhmm[3] - '0') * 10 + (hhmm[4] - '0');
    if (hours < 24 && minutes < 60) return absl::OkStatus();
  }
  return Invalid(field, "must be HH:MM in 24-hour time, from 00:00 to 23:59");
}

absl::Status ValidateId(int64_t id, absl::string_view field) {
  if (id <= 0) return Invalid(field, "must be a positive id");
  return absl::OkStatus();
}

}  // namespace firstsip::logic
