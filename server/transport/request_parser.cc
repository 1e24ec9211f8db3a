#include "transport/request_parser.h"

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/stubs/common.h"
#include "google/protobuf/wire_format_lite.h"
#include "grpcpp/support/proto_buffer_reader.h"

namespace firstsip::transport {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::FileDescriptor;
using google::protobuf::internal::WireFormatLite;
using google::protobuf::io::CodedInputStream;

constexpr char kWholeRequest[] = "request";

// Paths stop at the first well-known type: "content" tells a caller more than
// "content.fields.value.struct_value.fields.value…".
std::string PathTo(const std::string& parent, const Descriptor& type,
                   const FieldDescriptor& field) {
  if (parent.empty()) return field.name();
  if (type.file()->package() == "google.protobuf") return parent;
  return absl::StrCat(parent, ".", field.name());
}

absl::Status Malformed(const std::string& path) {
  return absl::InvalidArgumentError(
      absl::StrCat(path.empty() ? kWholeRequest : path, ": is not a well-formed protobuf message"));
}

// Proto3 parsers refuse a `string` that is not UTF-8; proto2 and `bytes` fields take any bytes.
bool ParserChecksUtf8(const FieldDescriptor& field) {
  return field.type() == FieldDescriptor::TYPE_STRING &&
         field.file()->syntax() == FileDescriptor::SYNTAX_PROTO3;
}

// Tags and lengths as protobuf's parser reads them: a varint of at most five bytes. (The
// stream's own readers accept ten and drop the high bits, which would pass what protobuf
// refuses.)
bool ReadShortVarint(CodedInputStream& input, uint64_t* value) {
  const int start = input.CurrentPosition();
  return input.ReadVarint64(value) && input.CurrentPosition() - start <= 5;
}

absl::Status Walk(CodedInputStream& input, const Descriptor& type, const std::string& path,
                  int depth) {
  while (input.BytesUntilLimit() > 0) {
    uint64_t wide_tag = 0;
    if (!ReadShortVarint(input, &wide_tag)) return Malformed(path);
    const auto tag = static_cast<uint32_t>(wide_tag);  // the fifth byte's excess bits dropped
    if (WireFormatLite::GetTagFieldNumber(tag) == 0) return Malformed(path);
    const FieldDescriptor* field = type.FindFieldByNumber(WireFormatLite::GetTagFieldNumber(tag));
    const bool delimited =
        WireFormatLite::GetTagWireType(tag) == WireFormatLite::WIRETYPE_LENGTH_DELIMITED;
    if (field == nullptr || !delimited ||
        (field->type() != FieldDescriptor::TYPE_STRING &&
         field->type() != FieldDescriptor::TYPE_MESSAGE)) {
      if (WireFormatLite::GetTagWireType(tag) == WireFormatLite::WIRETYPE_END_GROUP ||
          !WireFormatLite::SkipField(&input, tag)) {
        return Malformed(field == nullptr ? path : PathTo(path, type, *field));
      }
      continue;
    }
    const std::string here = PathTo(path, type, *field);
    uint64_t length = 0;
    if (!ReadShortVarint(input, &length) ||
        length > static_cast<uint64_t>(input.BytesUntilLimit())) {
      return Malformed(here);
    }
    if (field->type() == FieldDescriptor::TYPE_STRING) {
      std::string value;
      if (!input.ReadString(&value, static_cast<int>(length))) return Malformed(here);
      // The very check protobuf's parser applies, so the two never disagree.
      if (ParserChecksUtf8(*field) && !google::protobuf::internal::IsStructurallyValidUTF8(
                                          value.data(), static_cast<int>(value.size()))) {
        return absl::InvalidArgumentError(absl::StrCat(here, ": is not valid UTF-8"));
      }
      continue;
    }
    if (depth + 1 > CodedInputStream::GetDefaultRecursionLimit()) {
      return absl::InvalidArgumentError(absl::StrCat(here, ": nested deeper than ",
                                                     CodedInputStream::GetDefaultRecursionLimit(),
                                                     " message levels"));
    }
    const CodedInputStream::Limit outer = input.PushLimit(static_cast<int>(length));
    if (absl::Status inner = Walk(input, *field->message_type(), here, depth + 1); !inner.ok()) {
      return inner;
    }
    input.PopLimit(outer);
  }
  return absl::OkStatus();
}

std::string Flatten(const grpc::ByteBuffer& wire) {
  std::vector<grpc::Slice> slices;
  std::string bytes;
  if (!wire.Dump(&slices).ok()) return bytes;
  for (const grpc::Slice& slice : slices) {
    bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  return bytes;
}

}  // namespace

absl::Status ParseRequest(const grpc::ByteBuffer& wire, google::protobuf::Message& request) {
  {
    grpc::ByteBuffer shared(wire);  // shares the slices; the reader consumes its own buffer
    grpc::ProtoBufferReader reader(&shared);
    if (reader.status().ok() && request.ParseFromZeroCopyStream(&reader)) {
      return absl::OkStatus();
    }
  }
  request.Clear();
  if (absl::Status why = ExplainMalformed(Flatten(wire), *request.GetDescriptor()); !why.ok()) {
    return why;
  }
  return absl::InvalidArgumentError(absl::StrCat(kWholeRequest, ": is not a valid ",
                                                 request.GetDescriptor()->full_name(), " message"));
}

absl::Status ExplainMalformed(absl::string_view bytes, const Descriptor& type) {
  CodedInputStream input(reinterpret_cast<const uint8_t*>(bytes.data()),
                         static_cast<int>(bytes.size()));
  input.PushLimit(static_cast<int>(bytes.size()));
  return Walk(input, type, "", 0);
}

}  // namespace firstsip::transport
