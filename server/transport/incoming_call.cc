#include "transport/incoming_call.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/reflection.h"
#include "transport/authorizer.h"

namespace firstsip::transport {

absl::Status IncomingCall::Authorize() {
  if (method_.authorizer == nullptr) return absl::OkStatus();
  absl::Status allowed = method_.authorizer->Check(context_, method_.path());
  denied_ = !allowed.ok();
  return allowed;
}

void IncomingCall::AddRequestIds(const google::protobuf::Message& request) {
  const google::protobuf::Descriptor& descriptor = *request.GetDescriptor();
  const google::protobuf::Reflection& reflection = *request.GetReflection();
  for (int i = 0; i < descriptor.field_count(); ++i) {
    const google::protobuf::FieldDescriptor& field = *descriptor.field(i);
    if (field.is_repeated() || (field.name() != "id" && !absl::EndsWith(field.name(), "_id"))) {
      continue;
    }
    if (field.cpp_type() == google::protobuf::FieldDescriptor::CPPTYPE_INT64) {
      audit_fields_.emplace_back(field.name(), absl::StrCat(reflection.GetInt64(request, &field)));
    }
  }
}

}  // namespace firstsip::transport
