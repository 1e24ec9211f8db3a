#include "transport/request_parser.h"

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_replace.h"
#include "firstsip/v1/briefing.pb.h"
#include "firstsip/v1/identity.pb.h"
#include "firstsip/v1/user.pb.h"
#include "grpcpp/support/byte_buffer.h"
#include "gtest/gtest.h"

namespace firstsip::transport {
namespace {

// Proto3 serializers write whatever bytes a string holds, so a valid placeholder of the same
// length is swapped for invalid UTF-8 in the serialized bytes (lengths stay right).
constexpr char kPlaceholder[] = "PLACEHOLDER";
const std::string kNotUtf8(sizeof(kPlaceholder) - 1, '\xff');

std::string WithInvalidUtf8(const google::protobuf::Message& message) {
  return absl::StrReplaceAll(message.SerializeAsString(), {{kPlaceholder, kNotUtf8}});
}

grpc::ByteBuffer BufferOf(const std::string& bytes) {
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

google::protobuf::Struct NestedStruct(int depth, const std::string& leaf) {
  google::protobuf::Struct root;
  google::protobuf::Struct* level = &root;
  for (int i = 0; i < depth; ++i) {
    level = (*level->mutable_fields())["d"].mutable_struct_value();
  }
  (*level->mutable_fields())["leaf"].set_string_value(leaf);
  return root;
}

struct Case {
  std::string what;
  std::string bytes;
  const google::protobuf::Descriptor* type;
  std::string message;  // the expected error message starts with it
};

std::vector<Case> MalformedCases() {
  v1::CreateUserRequest create;
  create.mutable_user()->set_email("a@example.com");
  create.mutable_user()->set_name(kPlaceholder);
  v1::GetUserByEmailRequest by_email;
  by_email.set_email(kPlaceholder);
  v1::SignInRequest sign_in;
  sign_in.set_provider("google");
  sign_in.mutable_tokens()->set_access_token(kPlaceholder);
  v1::CompleteBriefingRequest deep;
  deep.set_id(1);
  *deep.mutable_content() = NestedStruct(1000, "x");
  v1::CompleteBriefingRequest deep_text;
  deep_text.set_id(1);
  *deep_text.mutable_content() = NestedStruct(5, kPlaceholder);
  v1::GetUserRequest get;
  get.set_id(7);
  const std::string get_bytes = get.SerializeAsString();

  return {
      {"top-level string", WithInvalidUtf8(by_email), by_email.GetDescriptor(),
       "email: is not valid UTF-8"},
      {"string in a nested message", WithInvalidUtf8(create), create.GetDescriptor(),
       "user.name: is not valid UTF-8"},
      {"string two messages down", WithInvalidUtf8(sign_in), sign_in.GetDescriptor(),
       "tokens.access_token: is not valid UTF-8"},
      {"string deep inside a Struct", WithInvalidUtf8(deep_text), deep_text.GetDescriptor(),
       "content: is not valid UTF-8"},
      {"Struct 1,000 levels deep", deep.SerializeAsString(), deep.GetDescriptor(),
       "content: nested deeper than 100 message levels"},
      {"truncated varint", get_bytes.substr(0, get_bytes.size() - 1) + "\xff", get.GetDescriptor(),
       "id: is not a well-formed protobuf message"},
      {"length past the end", std::string("\x0a\x7f", 2) + "ab", create.GetDescriptor(),
       "user: is not a well-formed protobuf message"},
      {"field number zero", std::string("\x00\x01", 2), get.GetDescriptor(),
       "request: is not a well-formed protobuf message"},
      // Protobuf reads tags and lengths as varints of at most five bytes.
      // (Padded with continuation bytes, their values would be fine: tag 8, length 2.)
      {"six-byte tag", std::string("\x88\x80\x80\x80\x80\x00\x07", 7), get.GetDescriptor(),
       "request: is not a well-formed protobuf message"},
      {"six-byte length",
       std::string("\x12\x82\x80\x80\x80\x80\x00"
                   "ab",
                   9),
       sign_in.GetDescriptor(), "provider_user_id: is not a well-formed protobuf message"},
      {"unknown field with a six-byte length", std::string("\x1a\x80\x80\x80\x80\x80\x00", 7),
       get.GetDescriptor(), "request: is not a well-formed protobuf message"},
      {"group never closed", std::string("\x1b\x08\x01", 3), get.GetDescriptor(),
       "request: is not a well-formed protobuf message"},
      {"stray end-group", std::string("\x7c", 1), get.GetDescriptor(),
       "request: is not a well-formed protobuf message"},
  };
}

TEST(RequestParserTest, MalformedRequestsNameTheFieldThatBreaksThem) {
  for (const Case& c : MalformedCases()) {
    SCOPED_TRACE(c.what);
    EXPECT_EQ(ExplainMalformed(c.bytes, *c.type).message(), c.message);
  }
}

TEST(RequestParserTest, ParseRequestRefusesWhatProtobufRefusesWithTheExplanation) {
  for (const Case& c : MalformedCases()) {
    SCOPED_TRACE(c.what);
    std::unique_ptr<google::protobuf::Message> request(
        google::protobuf::MessageFactory::generated_factory()->GetPrototype(c.type)->New());
    absl::Status status = ParseRequest(BufferOf(c.bytes), *request);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(status.message(), c.message);
  }
}

TEST(RequestParserTest, ParsesWellFormedRequestsIncludingUnknownFieldsAndSlicedBuffers) {
  v1::UpdateUserRequest update;
  update.mutable_user()->set_id(42);
  update.mutable_user()->set_name("Zoë");
  update.mutable_update_mask()->add_paths("name");
  // Unknown fields, a group among them, are kept as protobuf keeps them.
  const std::string bytes =
      update.SerializeAsString() + std::string("\xf8\x07\x01\x1b\x08\x01\x1c", 7);
  EXPECT_TRUE(ExplainMalformed(bytes, *update.GetDescriptor()).ok());

  // gRPC hands over messages in several slices; split the bytes to prove they are joined.
  std::vector<grpc::Slice> slices;
  for (size_t at = 0; at < bytes.size(); at += 3) slices.emplace_back(bytes.substr(at, 3));
  grpc::ByteBuffer wire(slices.data(), slices.size());
  v1::UpdateUserRequest parsed;
  ASSERT_TRUE(ParseRequest(wire, parsed).ok());
  EXPECT_EQ(parsed.user().id(), 42);
  EXPECT_EQ(parsed.user().name(), "Zoë");
  EXPECT_EQ(parsed.update_mask().paths(0), "name");
}

TEST(RequestParserTest, AStructJustInsideProtobufsLimitParses) {
  v1::CompleteBriefingRequest request;
  // Each Struct level is three messages (Struct, map entry, Value): 33 levels are 99 + leaf.
  *request.mutable_content() = NestedStruct(32, "x");
  v1::CompleteBriefingRequest parsed;
  EXPECT_TRUE(ParseRequest(BufferOf(request.SerializeAsString()), parsed).ok());
  EXPECT_TRUE(ExplainMalformed(request.SerializeAsString(), *request.GetDescriptor()).ok());
}

TEST(RequestParserTest, InvalidUtf8IsFoundInEveryStringOfEveryRequestOfOurs) {
  const google::protobuf::FileDescriptor* files[] = {v1::User::descriptor()->file(),
                                                     v1::AuthIdentity::descriptor()->file(),
                                                     v1::Briefing::descriptor()->file()};
  int checked = 0;
  for (const google::protobuf::FileDescriptor* file : files) {
    for (int s = 0; s < file->service_count(); ++s) {
      for (int m = 0; m < file->service(s)->method_count(); ++m) {
        const google::protobuf::Descriptor* type = file->service(s)->method(m)->input_type();
        for (int f = 0; f < type->field_count(); ++f) {
          const google::protobuf::FieldDescriptor* field = type->field(f);
          if (field->type() != google::protobuf::FieldDescriptor::TYPE_STRING ||
              field->is_repeated()) {
            continue;
          }
          SCOPED_TRACE(field->full_name());
          std::unique_ptr<google::protobuf::Message> request(
              google::protobuf::MessageFactory::generated_factory()->GetPrototype(type)->New());
          request->GetReflection()->SetString(request.get(), field, kPlaceholder);
          EXPECT_EQ(ExplainMalformed(WithInvalidUtf8(*request), *type).message(),
                    field->name() + ": is not valid UTF-8");
          ++checked;
        }
      }
    }
  }
  EXPECT_GE(checked, 6);
}

}  // namespace
}  // namespace firstsip::transport
