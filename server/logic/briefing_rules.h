// BriefingService rules that need no database: statuses, content, leases, request ids.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "firstsip/v1/briefing.pb.h"
#include "google/protobuf/duration.pb.h"
#include "google/protobuf/struct.pb.h"

namespace firstsip::logic {

inline constexpr size_t kMaxContentBytes = 1 << 20;  // 1 MiB of JSON
// gRPC's protobuf parser already refuses messages nested deeper than 100 (about 33 JSON
// levels of a Struct) before the service sees them; this limit is the one callers meet.
inline constexpr int kMaxContentDepth = 24;
inline constexpr size_t kMaxRequestIdLength = 128;
inline constexpr size_t kMaxErrorMessageLength = 4096;
inline constexpr absl::Duration kDefaultLease = absl::Minutes(5);
inline constexpr absl::Duration kMaxLease = absl::Hours(24);
inline constexpr absl::Duration kMaxClaimWait = absl::Minutes(5);

// Stored status text <-> enum. StatusToStored fails on UNSPECIFIED and unknown numbers.
absl::StatusOr<std::string> StatusToStored(v1::BriefingStatus status, absl::string_view field);
absl::StatusOr<v1::BriefingStatus> StatusFromStored(absl::string_view stored);

// The enum's name, for messages ("BRIEFING_STATUS_COMPLETED").
std::string StatusName(v1::BriefingStatus status);

// The content as JSON text for a jsonb column, through protobuf's own JSON mapping. At most
// 1 MiB and kMaxContentDepth levels deep, finite numbers, no NUL characters (jsonb cannot hold
// \u0000).
absl::StatusOr<std::string> ContentToJson(const google::protobuf::Struct& content,
                                          absl::string_view field);
// Reading it back: logic/content_json.h.

// Unset or zero: 5 minutes. Negative or above 24 h: INVALID_ARGUMENT.
absl::StatusOr<absl::Duration> LeaseFrom(const google::protobuf::Duration& lease, bool has_lease,
                                         absl::string_view field);

// How long ClaimNextBriefing waits for work: unset or zero answers at once; negative or above
// 5 minutes: INVALID_ARGUMENT.
absl::StatusOr<absl::Duration> ClaimWaitFrom(const google::protobuf::Duration& wait, bool has_wait,
                                             absl::string_view field);

// Empty means "no idempotency key"; otherwise 1 to 128 bytes of text.
absl::StatusOr<std::optional<std::string>> RequestIdFrom(absl::string_view request_id,
                                                         absl::string_view field);

}  // namespace firstsip::logic
