// The content codec on the text PostgreSQL itself prints for jsonb (keys reordered, numbers as
// numeric without exponents, escapes decoded): for every document, the same Struct as
// protobuf's JSON parser, or the same refusal.
#include <bit>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "db/blocking_connection.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "logic/content_json.h"
#include "support/test_database.h"

namespace firstsip::logic {
namespace {

using google::protobuf::Struct;

class ContentJsonOnJsonbTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto database = testing::TestDatabase::Create();
    ASSERT_TRUE(database.ok()) << database.status();
    database_ = std::move(*database);
    auto connection = db::BlockingConnection::Open(database_->dsn());
    ASSERT_TRUE(connection.ok()) << connection.status();
    connection_ = std::move(*connection);
  }

  // What the service reads back after storing `json` in a jsonb column.
  absl::StatusOr<std::string> AsJsonb(const std::string& json) {
    db::Params params;
    params.Add(json);
    auto result = connection_->Exec("SELECT $1::jsonb::text", params);
    if (!result.ok()) return result.status();
    return std::string(result->Text(0, 0));
  }

  void ExpectSameAsProtobuf(const std::string& json) {
    absl::StatusOr<std::string> stored = AsJsonb(json);
    ASSERT_TRUE(stored.ok()) << stored.status() << "\n" << json;
    SCOPED_TRACE(stored->size() > 300 ? absl::StrCat(stored->substr(0, 300), "…") : *stored);
    Struct expected;
    bool expected_ok = google::protobuf::util::JsonStringToMessage(*stored, &expected).ok();
    absl::StatusOr<Struct> actual = ContentFromJson(*stored);
    ASSERT_EQ(actual.ok(), expected_ok) << actual.status();
    if (expected_ok) {
      EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(*actual, expected))
          << "simdjson: " << actual->DebugString() << "\nprotobuf: " << expected.DebugString();
    }
  }

  std::unique_ptr<testing::TestDatabase> database_;
  std::unique_ptr<db::BlockingConnection> connection_;
};

TEST_F(ContentJsonOnJsonbTest, AgreesWithProtobufOnEdgeCasesAsJsonbPrintsThem) {
  std::vector<std::string> documents = {
      R"({})",
      R"({"news": [{"title": "Café ☕ 东京 🌧️"}], "ключ": "\u00e9\u2028\ud83c\udf27"})",
      R"({"a": "quote \" backslash \\ slash \/ \b\f\n\r\t \u001f"})",
      R"({"b": 2, "a": 1, "b": 3})",  // jsonb keeps the last "b"
      R"({"n": [0, -0, 1.5e-3, 1e-300, 1e-400, 1e308, 1.7976931348623157e308, 4.9e-324]})",
      R"({"n": [9007199254740993, 18446744073709551616, 123456789012345678901234567890]})",
      R"({"n": 1e309})",  // numeric holds it; a double cannot: both refuse
      R"({"n": 1e400})",  // likewise
      R"({"n": 1.000})",  // numeric keeps the trailing zeros
      R"([1, 2])",        // not an object: both refuse
      R"("text")",
      R"(null)",
  };
  for (int levels : {30, 33, 34, 40, 200}) {
    std::string json;
    for (int i = 0; i < levels; ++i) json += R"({"a": )";
    documents.push_back(json + "1" + std::string(levels, '}'));
    documents.push_back(absl::StrCat(R"({"a": )", std::string(levels + 17, '['), "1",
                                     std::string(levels + 17, ']'), "}"));
  }
  for (const std::string& document : documents) ExpectSameAsProtobuf(document);
}

// Random documents of every JSON kind, through jsonb.
class RandomJson {
 public:
  explicit RandomJson(uint32_t seed) : random_(seed) {}

  std::string Object(int depth) {
    std::string json = "{";
    int fields = Below(depth > 4 ? 2 : 6);
    for (int i = 0; i < fields; ++i) {
      if (i > 0) json += ", ";
      json += String() + ": " + Value(depth + 1);
    }
    return json + "}";
  }

 private:
  int Below(int n) { return std::uniform_int_distribution<int>(0, n - 1)(random_); }

  std::string Value(int depth) {
    switch (Below(depth > 5 ? 4 : 6)) {
      case 0:
        return Number();
      case 1:
        return String();
      case 2: {
        const char* atoms[] = {"true", "false", "null"};
        return atoms[Below(3)];
      }
      case 3:
        return Number();
      case 4:
        return Object(depth);
      default: {
        std::string json = "[";
        int elements = Below(5);
        for (int i = 0; i < elements; ++i) json += (i > 0 ? ", " : "") + Value(depth + 1);
        return json + "]";
      }
    }
  }

  std::string Number() {
    switch (Below(6)) {
      case 0:  // any finite double, to 17 significant digits
        return absl::StrFormat("%.17g",
                               std::bit_cast<double>(std::uniform_int_distribution<uint64_t>(
                                   0, 0x7fefffffffffffffULL)(random_)) *
                                   (Below(2) ? 1 : -1));
      case 1:  // an integer of up to 41 digits
      {
        std::string digits = std::to_string(1 + Below(9));
        int more = Below(40);
        for (int i = 0; i < more; ++i) digits += static_cast<char>('0' + Below(10));
        return (Below(2) ? "-" : "") + digits;
      }
      case 2:
        return absl::StrFormat("%d.%de%d", Below(1000), Below(1000), Below(600) - 300);
      case 3: {  // a fraction of up to 30 digits (simdjson 3.0.1 misreads these alone)
        std::string digits = Below(2) ? "-0." : "0.";
        int count = 1 + Below(30);
        for (int i = 0; i < count; ++i) digits += static_cast<char>('0' + Below(10));
        return digits;
      }
      default:
        return std::to_string(Below(100));
    }
  }

  std::string String() {
    std::string json = "\"";
    int length = Below(12);
    for (int i = 0; i < length; ++i) {
      switch (Below(6)) {
        case 0: {  // an escape of a BMP code point other than NUL and the surrogates
          int code = 1 + Below(0xd7ff);
          json += absl::StrFormat("\\u%04x", code);
          break;
        }
        case 1:  // an astral code point as a surrogate pair
        {
          int code = 0x10000 + Below(0x100000);
          json += absl::StrFormat("\\u%04x\\u%04x", 0xd800 + ((code - 0x10000) >> 10),
                                  0xdc00 + ((code - 0x10000) & 0x3ff));
          break;
        }
        case 2: {
          const char* escapes[] = {"\\\"", "\\\\", "\\/", "\\b", "\\f", "\\n", "\\r", "\\t"};
          json += escapes[Below(8)];
          break;
        }
        case 3: {
          const char* raw[] = {"é", "☕", "东", "🌧", "ß"};
          json += raw[Below(5)];
          break;
        }
        default:
          json += static_cast<char>('a' + Below(26));
      }
    }
    return json + "\"";
  }

  std::mt19937 random_;
};

TEST_F(ContentJsonOnJsonbTest, AgreesWithProtobufOnRandomDocumentsAsJsonbPrintsThem) {
  RandomJson random(20261125);
  for (int i = 0; i < 400; ++i) {
    ExpectSameAsProtobuf(random.Object(0));
    if (HasFatalFailure()) return;
  }
}

}  // namespace
}  // namespace firstsip::logic
