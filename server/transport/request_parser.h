// Turns a request's wire bytes into its message. gRPC's own parser answers a message protobuf
// refuses (a proto3 string that is not UTF-8, a message nested past protobuf's recursion limit,
// truncated bytes) with a bare UNIMPLEMENTED; ours answers INVALID_ARGUMENT naming the field.
#pragma once

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "grpcpp/support/byte_buffer.h"

namespace firstsip::transport {

// Parses `wire` into `request` (cleared first). Returns OK, or INVALID_ARGUMENT with a message
// that starts with the field at fault ("user.name: is not valid UTF-8"), or with "request:" when
// the bytes are not a protobuf message at all.
absl::Status ParseRequest(const grpc::ByteBuffer& wire, google::protobuf::Message& request);

// Why protobuf refuses `bytes` as a message of `type`: walks the wire format field by field
// with the checks protobuf's parser applies, and names the first field that fails one. Returns
// OK when it finds nothing wrong. Runs only after a parse failed, so it favours clarity over
// speed; it never trusts a length without checking it against the bytes that remain.
absl::Status ExplainMalformed(absl::string_view bytes, const google::protobuf::Descriptor& type);

}  // namespace firstsip::transport
