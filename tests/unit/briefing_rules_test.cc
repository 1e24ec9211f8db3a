#include "logic/briefing_rules.h"

#include <cmath>
#include <limits>

#include "absl/strings/match.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "logic/content_json.h"

namespace firstsip::logic {
namespace {

google::protobuf::Struct Parse(const std::string& json) {
  google::protobuf::Struct content;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(json, &content).ok());
  return content;
}

TEST(Status, MapsEveryStatusBothWaysAndRefusesTheRest) {
  for (auto status : {v1::BRIEFING_STATUS_PENDING, v1::BRIEFING_STATUS_PROCESSING,
                      v1::BRIEFING_STATUS_COMPLETED, v1::BRIEFING_STATUS_FAILED}) {
    EXPECT_EQ(*StatusFromStored(*StatusToStored(status, "s")), status);
  }
  EXPECT_FALSE(StatusToStored(v1::BRIEFING_STATUS_UNSPECIFIED, "s").ok());
  EXPECT_FALSE(StatusToStored(static_cast<v1::BriefingStatus>(17), "s").ok());
  EXPECT_FALSE(StatusFromStored("archived").ok());
  EXPECT_EQ(StatusName(v1::BRIEFING_STATUS_FAILED), "BRIEFING_STATUS_FAILED");
}

TEST(Content, RoundTripsThroughJson) {
  auto content = Parse(R"({"a": [1, "two", true, null, {"b": -0.5}], "ü": "☕"})");
  absl::StatusOr<std::string> json = ContentToJson(content, "content");
  ASSERT_TRUE(json.ok()) << json.status();
  auto back = ContentFromJson(*json);
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(*back, content));
}

TEST(Content, RefusesWhatJsonbCannotHoldOrIsTooLarge) {
  google::protobuf::Struct nan;
  (*nan.mutable_fields())["x"].set_number_value(std::nan(""));
  google::protobuf::Struct infinite;
  (*infinite.mutable_fields())["x"].mutable_list_value()->add_values()->set_number_value(
      std::numeric_limits<double>::infinity());
  google::protobuf::Struct nul;
  (*nul.mutable_fields())["x"].set_string_value(std::string("a\0b", 3));
  google::protobuf::Struct big;
  (*big.mutable_fields())["x"].set_string_value(std::string(kMaxContentBytes, 'x'));
  google::protobuf::Struct deep;
  google::protobuf::Struct* level = &deep;
  for (int i = 0; i < kMaxContentDepth + 1; ++i) {
    level = (*level->mutable_fields())["d"].mutable_struct_value();
  }
  for (const auto* content : {&nan, &infinite, &nul, &big, &deep}) {
    absl::Status status = ContentToJson(*content, "content").status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(absl::StartsWith(status.message(), "content:")) << status;
  }
}

TEST(Lease, DefaultsToFiveMinutesAndIsBounded) {
  google::protobuf::Duration lease;
  EXPECT_EQ(*LeaseFrom(lease, false, "lease"), absl::Minutes(5));
  EXPECT_EQ(*LeaseFrom(lease, true, "lease"), absl::Minutes(5));
  lease.set_seconds(30);
  EXPECT_EQ(*LeaseFrom(lease, true, "lease"), absl::Seconds(30));
  lease.set_seconds(-1);
  EXPECT_FALSE(LeaseFrom(lease, true, "lease").ok());
  lease.set_seconds(25 * 3600);
  EXPECT_FALSE(LeaseFrom(lease, true, "lease").ok());
}

TEST(RequestId, EmptyMeansNoneAndOtherwiseBoundedText) {
  EXPECT_FALSE(RequestIdFrom("", "request_id")->has_value());
  EXPECT_EQ(**RequestIdFrom("abc-123", "request_id"), "abc-123");
  EXPECT_FALSE(RequestIdFrom(std::string(129, 'r'), "request_id").ok());
  EXPECT_FALSE(RequestIdFrom(std::string("a\0b", 3), "request_id").ok());
}

}  // namespace
}  // namespace firstsip::logic
