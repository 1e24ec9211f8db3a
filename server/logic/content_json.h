// Briefing content read from the jsonb column: JSON text straight into google.protobuf.Struct,
// with simdjson instead of protobuf's JSON utilities (7 to 10 times slower; see
// bench/content_json_benchmark.cc).
#pragma once

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/struct.pb.h"

namespace firstsip::logic {

// protobuf's default recursion limit: how deeply messages may nest inside the Struct. An
// object level costs three (Struct, map entry, Value), an array level two (ListValue, Value),
// so about 33 levels of objects or 50 of arrays fit.
inline constexpr int kMaxContentMessageDepth = 100;

// Parses JSON text (the text form of the jsonb column) into `content`, which it clears first.
// Gives the Struct that google::protobuf::util::JsonStringToMessage gives for the same text:
// objects become Structs, arrays ListValues, numbers doubles (integers too long for 64 bits
// included, rounded as protobuf rounds them), strings with escapes decoded to UTF-8. Refuses
// what protobuf refuses: a root that is not an object, a key twice in one object, numbers
// beyond the range of double, lone surrogates, invalid UTF-8, and nesting deeper than
// kMaxContentMessageDepth (an error, never deep recursion). Unlike protobuf it also refuses
// the non-standard JSON protobuf lets through (trailing commas, single quotes, bare keys,
// "1.", raw control characters and unknown escapes such as \q in strings), none of which
// jsonb ever prints.
// Errors are INTERNAL: the text came from our own database. Uses one simdjson parser per
// thread; safe to call from any number of threads.
absl::Status ParseContentJson(absl::string_view json, google::protobuf::Struct* content);

// The same, returning the Struct.
absl::StatusOr<google::protobuf::Struct> ContentFromJson(absl::string_view json);

}  // namespace firstsip::logic
