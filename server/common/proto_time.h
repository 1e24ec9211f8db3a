// Timestamps between PostgreSQL and protobuf. Queries select timestamptz columns as integer
// microseconds since the Unix epoch (exact, and independent of the session's TimeZone).
#pragma once

#include <cstdint>

#include "google/protobuf/timestamp.pb.h"
#include "google/protobuf/util/time_util.h"

namespace firstsip {

inline void SetTimestampMicros(int64_t micros, google::protobuf::Timestamp* field) {
  *field = google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(micros);
}

}  // namespace firstsip
