// The simdjson content codec against the parser it replaces: for every input, the Struct (or
// the refusal) that google::protobuf::util::JsonStringToMessage gives.
#include "logic/content_json.h"

#include <cmath>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"

namespace firstsip::logic {
namespace {

using google::protobuf::Struct;

struct Reference {
  bool ok = false;
  Struct content;
};

Reference Protobuf(const std::string& json) {
  Reference reference;
  reference.ok = google::protobuf::util::JsonStringToMessage(json, &reference.content).ok();
  return reference;
}

std::string Deterministic(const Struct& content) {
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    content.SerializeToCodedStream(&coded);
  }
  return bytes;
}

// Same verdict, and when both accept, the same Struct: equal as messages and byte for byte
// once serialized deterministically (which also tells -0 from 0).
void ExpectSameAsProtobuf(const std::string& json) {
  SCOPED_TRACE(json.size() > 200 ? absl::StrCat(json.substr(0, 200), "…") : json);
  Reference expected = Protobuf(json);
  absl::StatusOr<Struct> actual = ContentFromJson(json);
  ASSERT_EQ(actual.ok(), expected.ok) << "simdjson: " << actual.status();
  if (!expected.ok) {
    EXPECT_EQ(actual.status().code(), absl::StatusCode::kInternal);
    return;
  }
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(*actual, expected.content))
      << "simdjson: " << actual->DebugString() << "\nprotobuf: " << expected.content.DebugString();
  EXPECT_EQ(Deterministic(*actual), Deterministic(expected.content));
}

// `levels` objects, each the value of key "a" in the one outside it, around `leaf`.
std::string NestedObjects(int levels, const std::string& leaf) {
  std::string json;
  for (int i = 0; i < levels; ++i) json += R"({"a":)";
  json += leaf;
  json += std::string(levels, '}');
  return json;
}

// `levels` arrays around `leaf`, as the value of "a" in a root object.
std::string NestedArrays(int levels, const std::string& leaf) {
  return absl::StrCat(R"({"a":)", std::string(levels, '['), leaf, std::string(levels, ']'), "}");
}

TEST(ContentJson, AgreesWithProtobufOnOrdinaryDocuments) {
  const char* documents[] = {
      R"({})",
      R"(  { }  )",
      "{\n\t\"a\" :\r\n 1 }\n",
      R"({"news": [{"title": "Rain", "rank": 1}], "weather": {"high_c": 9}, "work": {}})",
      R"({"a": [1, "two", true, false, null, {"b": -0.5}, [], {}]})",
      R"({"done": true, "late": false, "note": null, "empty": {}, "none": []})",
      R"({"": "empty key", "keys with spaces": 1, "a": {"": {"": []}}})",
      // What jsonb prints: keys sorted by length, then bytes; ", " and ": " between.
      R"({"work": {"meetings": 2}, "weather": {"high_c": 9}, "news": [{"title": "Headline"}]})",
  };
  for (const char* document : documents) ExpectSameAsProtobuf(document);
}

TEST(ContentJson, AgreesWithProtobufOnStrings) {
  const char* documents[] = {
      // Non-ASCII as raw UTF-8 (how jsonb prints it) and as escapes, in keys and values.
      R"({"news": "Café ☕ 东京 🌧️", "ключ": "значение"})",
      R"({"a": "\u00e9\u2028\u4e1c\ud83c\udf27", "\u00e9": "\u0041"})",
      R"({"a": "quote \" backslash \\ slash \/ \b\f\n\r\t"})",
      R"({"a": "\u0000 NUL and \u001f"})",  // protobuf keeps NUL; jsonb cannot hold it
      R"({"a": "\ud800"})",                 // lone high surrogate
      R"({"a": "\udc00x"})",                // lone low surrogate
      R"({"a": "\ud800\u0041"})",           // high surrogate without its low half
      R"({"a": "\u00g0"})",                 // bad escape
      "{\"a\": \"\xff\"}",                  // invalid UTF-8
      "{\"a\": \"\xc3\"}",                  // truncated UTF-8
      "{\"a\": \"\xed\xa0\x80\"}",          // an encoded surrogate
      R"({"a": "unterminated})",
  };
  for (const char* document : documents) ExpectSameAsProtobuf(document);
}

TEST(ContentJson, AgreesWithProtobufOnNumbers) {
  std::vector<std::string> numbers = {
      "0",
      "-0",
      "1",
      "-1",
      "1.5",
      "-3.5",
      "0.1",
      "1e2",
      "1E2",
      "1e+2",
      "1.5e-3",
      "0.3333333333333333",
      "9007199254740991",
      "9007199254740993",
      "-9007199254740993",  // 2^53 ± 1: rounding
      "9223372036854775807",
      "9223372036854775808",
      "-9223372036854775808",
      "-9223372036854775809",
      "18446744073709551615",
      "18446744073709551616",
      "123456789012345678901234567890",
      "1.7976931348623157e308",
      "2.2250738585072014e-308",
      "4.9e-324",
      "2.4e-324",
      "1e-300",
      "1e-400",
      "1e308",
      "1e309",
      "1e400",
      "-1e400",
      "0.1000000000000000055511151231257827021181583404541015625",
      // jsonb prints numeric without exponent: these are 1e308, 1.79…e308 and 1e-300.
      absl::StrCat("1", std::string(308, '0')),
      absl::StrCat("17976931348623157", std::string(292, '0')),
      absl::StrCat("0.", std::string(299, '0'), "1"),
      absl::StrCat("0.", std::string(400, '0'), "1"),
      absl::StrCat("1", std::string(309, '0')),  // 1e309: beyond double
      "1.8e308",
      "9e308",
      "-9e308",
      "1.7976931348623158e308",
      "1.7976931348623159e308",
      "-0.0",
      "-0e0",
      "-0.0e5",
      "-1e-400",
      "-4.9e-324",
      // More than 19 digits after "0.": simdjson 3.0.1's get_double() gets these wrong.
      "0.12345678901234567890123",
      "-0.12345678901234567890123e-5",
      "0.30000000000000004441",
      "0.000000000000000000001234567890123456789012",
      "0.99999999999999999999999999",
      "0.1234567890123456789012e400",
      "12345678901234567890.123456789",
      "01",
      "-",
      "+1",
      ".5",
      "1e",
      "0x10",
      "NaN",
      "Infinity",
      "-Infinity",
      "1.5.5",
  };
  for (const std::string& number : numbers) {
    ExpectSameAsProtobuf(absl::StrCat(R"({"n": )", number, "}"));
    ExpectSameAsProtobuf(absl::StrCat(R"({"n": [)", number, "]}"));
  }
}

TEST(ContentJson, AgreesWithProtobufOnWhatIsNotAStructAtAll) {
  const char* documents[] = {
      "",
      " ",
      "[]",
      "[{}]",
      "\"text\"",
      "1",
      "true",
      "null",
      "{",
      "}",
      R"({"a": 1)",
      R"({"a": [1, 2})",
      R"({"a" 1})",
      R"({"a": })",
      R"({1: 2})",
      "{} x",
      "{}{}",
      "{} []",
      R"({"a": 1, "a": 2})",  // a key twice (jsonb never prints it)
      R"({"a": {"b": 1, "b": 1}})",
      R"({"a": tru})",
      R"({"a": nul})",
      R"({"a": falsey})",
  };
  for (const char* document : documents) ExpectSameAsProtobuf(document);
}

// protobuf counts message nesting when it reads the Struct: an object level costs three
// messages, an array level two, and more than 100 is refused. Every case around the limit.
TEST(ContentJson, AgreesWithProtobufOnTheRecursionLimit) {
  for (int levels = 1; levels <= 40; ++levels) {
    for (const char* leaf : {"1", "{}", "[]", "[1]", "[[]]", R"({"b":1})", R"({"b":[]})", "[{}]"}) {
      ExpectSameAsProtobuf(NestedObjects(levels, leaf));
    }
  }
  for (int levels = 1; levels <= 60; ++levels) {
    for (const char* leaf : {"1", "{}", "[]", R"({"b":1})", R"({"b":{}})"}) {
      ExpectSameAsProtobuf(NestedArrays(levels, leaf));
    }
  }
  // Mixed: [{"a":[{"a":…}]}], and the limit met in a later sibling rather than the first.
  for (int levels = 10; levels <= 25; ++levels) {
    std::string json = "1";
    for (int i = 0; i < levels; ++i) json = absl::StrCat(R"([{"a":)", json, "}]");
    ExpectSameAsProtobuf(absl::StrCat(R"({"x":)", json, "}"));
    ExpectSameAsProtobuf(absl::StrCat(R"({"first": 1, "x":)", json, R"(, "last": [1]})"));
  }
}

TEST(ContentJson, RefusesNestingFarBeyondTheLimitWithoutRecursingIntoIt) {
  // Deep enough to overflow the stack if every level were a frame.
  Struct content;
  for (int levels : {34, 1000, 100000}) {
    absl::Status status = ParseContentJson(NestedObjects(levels, "1"), &content);
    EXPECT_EQ(status.code(), absl::StatusCode::kInternal) << levels;
    EXPECT_NE(status.message().find("recursion limit"), absl::string_view::npos) << status;
  }
  for (int levels : {50, 1000, 100000}) {
    absl::Status status = ParseContentJson(NestedArrays(levels, "1"), &content);
    EXPECT_EQ(status.code(), absl::StatusCode::kInternal) << levels;
    EXPECT_NE(status.message().find("recursion limit"), absl::string_view::npos) << status;
  }
}

// protobuf's JSON parser also takes some text that is not JSON. PostgreSQL never prints any of
// it (jsonb's output is always standard JSON), so the codec need not, and does not.
TEST(ContentJson, RefusesTheNonStandardJsonProtobufLetsThrough) {
  const char* documents[] = {
      R"({"a": [1,]})", R"({"a": 1,})",   R"({'a': 1})",       R"({a: 1})",
      R"({"a": 1.})",   R"({"a": [1.]})", "{\"a\": \"x\ty\"}",  // a raw tab in a string
      R"({"a": "\q"})",                                         // an escape JSON does not have
  };
  for (const char* document : documents) {
    SCOPED_TRACE(document);
    ASSERT_TRUE(Protobuf(document).ok) << "protobuf changed: this case may move to the table";
    EXPECT_EQ(ContentFromJson(document).status().code(), absl::StatusCode::kInternal);
  }
}

TEST(ContentJson, ClearsTheStructItFillsAndReusesTheParser) {
  Struct content;
  ASSERT_TRUE(ParseContentJson(R"({"old": 1})", &content).ok());
  // A long document, then a short one: the buffer the parser keeps holds the long one's tail.
  std::string long_text = absl::StrCat(R"({"s": ")", std::string(10000, 'x'), R"("})");
  ASSERT_TRUE(ParseContentJson(long_text, &content).ok());
  ASSERT_TRUE(ParseContentJson(R"({"new": true})", &content).ok());
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(
      content, Protobuf(R"({"new": true})").content));
  EXPECT_FALSE(ParseContentJson(R"({"bad": })", &content).ok());
  ASSERT_TRUE(ParseContentJson("{}", &content).ok()) << "a failure leaves the parser usable";
  EXPECT_EQ(content.fields_size(), 0);
}

TEST(ContentJson, EachThreadHasItsOwnParser) {
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([t, &mismatches] {
      for (int i = 0; i < 2000; ++i) {
        std::string json = absl::StrCat(R"({"thread": )", t, R"(, "i": )", i, R"(, "pad": ")",
                                        std::string((i * 37) % 300, 'p'), R"("})");
        absl::StatusOr<Struct> content = ContentFromJson(json);
        if (!content.ok() || content->fields().at("thread").number_value() != t ||
            content->fields().at("i").number_value() != i) {
          ++mismatches[t];
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(mismatches, std::vector<int>(4, 0));
}

}  // namespace
}  // namespace firstsip::logic
