// libFuzzer: the explanation of a malformed request never crashes, never accuses a message
// protobuf accepts, and finds the fault in any message protobuf refuses. The first byte picks
// the request type; the rest is the message's wire bytes.
#include <cstddef>
#include <cstdint>
#include <string>

#include "firstsip/v1/briefing.pb.h"
#include "firstsip/v1/identity.pb.h"
#include "firstsip/v1/user.pb.h"
#include "google/protobuf/stubs/logging.h"
#include "transport/request_parser.h"

namespace {

void Quiet(google::protobuf::LogLevel, const char*, int, const std::string&) {}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool quiet = (google::protobuf::SetLogHandler(&Quiet), true);
  (void)quiet;
  if (size == 0) return 0;
  firstsip::v1::CompleteBriefingRequest complete;
  firstsip::v1::UpdateUserRequest update;
  firstsip::v1::SignInRequest sign_in;
  google::protobuf::Message* requests[] = {&complete, &update, &sign_in};
  google::protobuf::Message& request = *requests[data[0] % 3];
  std::string bytes(reinterpret_cast<const char*>(data + 1), size - 1);

  const bool parsed = request.ParseFromString(bytes);
  const absl::Status why = firstsip::transport::ExplainMalformed(bytes, *request.GetDescriptor());
  if (parsed != why.ok()) __builtin_trap();
  return 0;
}
