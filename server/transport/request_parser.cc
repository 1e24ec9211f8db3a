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

absl::Status TooDeep(const std::string& path) {
  return absl::InvalidArgumentError(
      absl::StrCat(path.empty() ? kWholeRequest : path, ": nested deeper than ",
                   CodedInputStream::GetDefaultRecursionLimit(), " message levels"));
}

// Walks the fields of one message of `type` up to the current limit or, inside a group (which
// `type` null stands for, as protobuf parses groups only as unknown fields), up to the group's
// end tag. Fields are read the way protobuf's parser reads them, known or not: a field whose
// wire type does not match its declaration is an unknown field to protobuf, and so here.
absl::Status Walk(CodedInputStream& input, const Descriptor* type, const std::string& path,
                  int depth, int group_number = 0) {
  while (input.BytesUntilLimit() > 0) {
    uint64_t wide_tag = 0;
    if (!ReadShortVarint(input, &wide_tag)) return Malformed(path);
    const auto tag = static_cast<uint32_t>(wide_tag);  // the fifth byte's excess bits dropped
    const int number = WireFormatLite::GetTagFieldNumber(tag);
    if (number == 0) return Malformed(path);
    const FieldDescriptor* field = type == nullptr ? nullptr : type->FindFieldByNumber(number);
    const std::string here = field == nullptr ? path : PathTo(path, *type, *field);
    switch (WireFormatLite::GetTagWireType(tag)) {
      case WireFormatLite::WIRETYPE_VARINT: {
        uint64_t value = 0;
        if (!input.ReadVarint64(&value)) return Malformed(here);
        break;
      }
      case WireFormatLite::WIRETYPE_FIXED64: {
        uint64_t value = 0;
        if (!input.ReadLittleEndian64(&value)) return Malformed(here);
        break;
      }
      case WireFormatLite::WIRETYPE_FIXED32: {
        uint32_t value = 0;
        if (!input.ReadLittleEndian32(&value)) return Malformed(here);
        break;
      }
      case WireFormatLite::WIRETYPE_LENGTH_DELIMITED: {
        uint64_t length = 0;
        if (!ReadShortVarint(input, &length) ||
            length > static_cast<uint64_t>(input.BytesUntilLimit())) {
          return Malformed(here);
        }
        const int size = static_cast<int>(length);
        if (field != nullptr && field->type() == FieldDescriptor::TYPE_MESSAGE) {
          if (depth + 1 > CodedInputStream::GetDefaultRecursionLimit()) return TooDeep(here);
          const CodedInputStream::Limit outer = input.PushLimit(size);
          if (absl::Status inner = Walk(input, field->message_type(), here, depth + 1);
              !inner.ok()) {
            return inner;
          }
          input.PopLimit(outer);
        } else if (field != nullptr && ParserChecksUtf8(*field)) {
          std::string value;
          if (!input.ReadString(&value, size)) return Malformed(here);
          // The very check protobuf's parser applies, so the two never disagree.
          if (!google::protobuf::internal::IsStructurallyValidUTF8(value.data(), size)) {
            return absl::InvalidArgumentError(absl::StrCat(here, ": is not valid UTF-8"));
          }
        } else if (!input.Skip(size)) {
          return Malformed(here);
        }
        break;
      }
      case WireFormatLite::WIRETYPE_START_GROUP:
        if (depth + 1 > CodedInputStream::GetDefaultRecursionLimit()) return TooDeep(here);
        if (absl::Status inner = Walk(input, nullptr, here, depth + 1, number); !inner.ok()) {
          return inner;
        }
        break;
      case WireFormatLite::WIRETYPE_END_GROUP:
        if (number == group_number) return absl::OkStatus();
        return Malformed(path);
      default:  // wire types 6 and 7 do not exist
        return Malformed(here);
    }
  }
  // A group must end with its end tag before its message does.
  return group_number == 0 ? absl::OkStatus() : Malformed(path);
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
    // The reader only reads the buffer (through its own grpc_byte_buffer_reader), though its
    // constructor takes a non-const pointer; copying the buffer instead costs a malloc a call.
    grpc::ProtoBufferReader reader(const_cast<grpc::ByteBuffer*>(&wire));
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
  return Walk(input, &type, "", 0);
}

}  // namespace firstsip::transport
