// Input rules shared by every service. Each returns INVALID_ARGUMENT whose message starts with
// the offending field's path (as given in `field`) and states the rule, e.g.
// "user.timezone: \"Mars/Olympus\" is not an IANA time zone name".
#pragma once

#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace firstsip::logic {

inline constexpr size_t kMaxEmailLength = 254;
inline constexpr size_t kMaxNameLength = 256;

inline constexpr size_t kMaxDomainLabelLength = 63;

// Well-formed UTF-8 with no NUL bytes, at most `max_bytes` long.
absl::Status ValidateText(absl::string_view value, absl::string_view field, size_t max_bytes);

// Text that identifies something (an email, a provider's user id, a request id): ValidateText's
// rules and no U+FFFD. The replacement character is the mark of text already damaged on its way
// in (a lossy decoding replaced bytes it could not read); two different ids damaged the same way
// would become one, so such an id is refused rather than stored.
absl::Status ValidateIdentifier(absl::string_view value, absl::string_view field, size_t max_bytes);

// A single address "local@domain": no spaces or control characters, local part up to 64 bytes,
// whole address up to 254 (RFC 5321 limits), no U+FFFD, and a domain that is a hostname: two or
// more dot-separated labels of ASCII letters, digits and hyphens, none starting or ending with
// a hyphen, each at most 63 bytes. Internationalized domains are accepted in their ASCII
// ("xn--") form, the form DNS itself uses.
absl::Status ValidateEmail(absl::string_view email, absl::string_view field);

// An IANA zone name known to this machine's tz database ("Europe/Berlin", "UTC").
absl::Status ValidateTimezone(absl::string_view name, absl::string_view field);

// "HH:MM", 24 h, two digits each: "06:00" and "23:59" pass, "6:00" and "24:00" do not.
absl::Status ValidateClockTime(absl::string_view hhmm, absl::string_view field);

// A resource id: positive.
absl::Status ValidateId(int64_t id, absl::string_view field);

}  // namespace firstsip::logic
