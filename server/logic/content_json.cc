#include "logic/content_json.h"

#include <locale.h>
#include <simdjson.h>
#include <stdlib.h>

#include <cmath>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace firstsip::logic {
namespace {

namespace ondemand = simdjson::ondemand;
using google::protobuf::ListValue;
using google::protobuf::Struct;
using google::protobuf::Value;

// One parser per thread, reused: it keeps its buffers between documents, so a row costs no
// allocation beyond the Struct itself. simdjson reads up to SIMDJSON_PADDING bytes past the
// text, which libpq's buffer does not promise, so the text is copied into `text` first.
struct ThreadParser {
  ondemand::parser parser;
  std::vector<char> text;
};

ThreadParser& ThisThreadsParser() {
  thread_local ThreadParser parser;
  return parser;
}

absl::Status NotJson(simdjson::error_code error) {
  return absl::InternalError(absl::StrCat("stored briefing content is not valid JSON (",
                                          simdjson::error_message(error), ")"));
}

absl::Status TooDeep() {
  return absl::InternalError(absl::StrCat("stored briefing content nests deeper than protobuf's ",
                                          "recursion limit of ", kMaxContentMessageDepth,
                                          " messages"));
}

// `depth` is the message depth of the message being filled, as protobuf's parser counts it
// when it reads the serialized Struct: the root Struct is 0, each map entry, Value, Struct
// and ListValue inside it one more than its parent. Checked before descending, so the
// recursion never goes deeper than kMaxContentMessageDepth frames whatever the text nests.
absl::Status ReadStruct(ondemand::object object, int depth, Struct* out);
absl::Status ReadList(ondemand::array array, int depth, ListValue* out);

// Every number as a double, as protobuf's JSON parser reads them: integers through int64 or
// uint64 (so "-0" is 0, not -0), everything else with strtod, correctly rounded to the nearest
// double; zero below double's range, an error beyond it.
//
// get_double() does that, except where simdjson 3.0.1 has bugs: with more than 19 significant
// digits after "0." ("0.12345678901234567890123") it overflows its 64-bit mantissa without
// noticing and returns garbage (get_number() returns 0 there instead). Fixed upstream later.
// So numbers of more than 19 significant digits (rare: the service writes at most 17, and
// jsonb prints what it was given) are validated by get_double() and then read with strtod.
absl::Status ReadNumber(ondemand::value& value, double* out) {
  if (auto error = value.get_double().get(*out)) return NotJson(error);
  if (!std::isfinite(*out)) return NotJson(simdjson::NUMBER_ERROR);
  // Valid JSON from here: -?digits[.digits][(e|E)[+-]digits], then maybe white space.
  std::string_view token = value.raw_json_token();
  auto is_digit = [&](size_t i) { return i < token.size() && token[i] >= '0' && token[i] <= '9'; };
  size_t end = token.starts_with('-') ? 1 : 0;
  int significant = 0;  // digits from the first that is not 0
  bool integer = true;
  for (; is_digit(end) || (end < token.size() && token[end] == '.'); ++end) {
    if (token[end] == '.') {
      integer = false;
    } else if (significant > 0 || token[end] != '0') {
      ++significant;
    }
  }
  if (end < token.size() && (token[end] == 'e' || token[end] == 'E')) {
    integer = false;
    ++end;
    if (end < token.size() && (token[end] == '+' || token[end] == '-')) ++end;
    while (is_digit(end)) ++end;
  }
  if (significant > 19) {
    static const locale_t c_locale = newlocale(LC_ALL_MASK, "C", locale_t{});
    if (c_locale == locale_t{}) return absl::InternalError("no C locale to parse numbers in");
    std::string text(token.substr(0, end));
    char* parsed_to = nullptr;
    *out = strtod_l(text.c_str(), &parsed_to, c_locale);
    if (parsed_to != text.c_str() + text.size() || !std::isfinite(*out)) {
      return NotJson(simdjson::NUMBER_ERROR);
    }
  } else if (integer && *out == 0) {
    *out = 0;  // "-0"
  }
  return absl::OkStatus();
}

absl::Status ReadValue(ondemand::value value, int depth, Value* out) {
  ondemand::json_type type;
  if (auto error = value.type().get(type)) return NotJson(error);
  switch (type) {
    case ondemand::json_type::object: {
      if (depth + 1 > kMaxContentMessageDepth) return TooDeep();
      ondemand::object object;
      if (auto error = value.get_object().get(object)) return NotJson(error);
      return ReadStruct(object, depth + 1, out->mutable_struct_value());
    }
    case ondemand::json_type::array: {
      if (depth + 1 > kMaxContentMessageDepth) return TooDeep();
      ondemand::array array;
      if (auto error = value.get_array().get(array)) return NotJson(error);
      return ReadList(array, depth + 1, out->mutable_list_value());
    }
    case ondemand::json_type::number: {
      double number = 0;
      FIRSTSIP_RETURN_IF_ERROR(ReadNumber(value, &number));
      out->set_number_value(number);
      return absl::OkStatus();
    }
    case ondemand::json_type::string: {
      std::string_view text;
      if (auto error = value.get_string().get(text)) return NotJson(error);
      out->mutable_string_value()->assign(text.data(), text.size());
      return absl::OkStatus();
    }
    case ondemand::json_type::boolean: {
      bool flag;
      if (auto error = value.get_bool().get(flag)) return NotJson(error);
      out->set_bool_value(flag);
      return absl::OkStatus();
    }
    case ondemand::json_type::null: {
      bool is_null;
      if (auto error = value.is_null().get(is_null)) return NotJson(error);
      if (!is_null) return NotJson(simdjson::N_ATOM_ERROR);
      out->set_null_value(google::protobuf::NULL_VALUE);
      return absl::OkStatus();
    }
  }
  return NotJson(simdjson::INCORRECT_TYPE);
}

absl::Status ReadStruct(ondemand::object object, int depth, Struct* out) {
  for (auto maybe_field : object) {
    ondemand::field field;
    if (auto error = std::move(maybe_field).get(field)) return NotJson(error);
    std::string_view key;
    if (auto error = field.unescaped_key().get(key)) return NotJson(error);
    // The map entry sits at depth + 1 and its Value at depth + 2.
    if (depth + 2 > kMaxContentMessageDepth) return TooDeep();
    auto [entry, inserted] = out->mutable_fields()->try_emplace(std::string(key));
    if (!inserted) {
      // jsonb keeps one of each key, so only hand-made text gets here; protobuf refuses it.
      return absl::InternalError("stored briefing content repeats a key in one object");
    }
    FIRSTSIP_RETURN_IF_ERROR(ReadValue(field.value(), depth + 2, &entry->second));
  }
  return absl::OkStatus();
}

absl::Status ReadList(ondemand::array array, int depth, ListValue* out) {
  for (auto maybe_element : array) {
    ondemand::value element;
    if (auto error = std::move(maybe_element).get(element)) return NotJson(error);
    if (depth + 1 > kMaxContentMessageDepth) return TooDeep();
    FIRSTSIP_RETURN_IF_ERROR(ReadValue(element, depth + 1, out->add_values()));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ParseContentJson(absl::string_view json, Struct* content) {
  content->Clear();
  ThreadParser& thread = ThisThreadsParser();
  if (thread.text.size() < json.size() + simdjson::SIMDJSON_PADDING) {
    thread.text.resize(json.size() + simdjson::SIMDJSON_PADDING);
  }
  std::memcpy(thread.text.data(), json.data(), json.size());
  std::memset(thread.text.data() + json.size(), 0, simdjson::SIMDJSON_PADDING);
  ondemand::document document;
  if (auto error = thread.parser.iterate(thread.text.data(), json.size(), thread.text.size())
                       .get(document)) {
    return NotJson(error);
  }
  ondemand::object root;
  if (auto error = document.get_object().get(root)) {
    if (error == simdjson::INCORRECT_TYPE) {
      return absl::InternalError("stored briefing content is not a JSON object");
    }
    return NotJson(error);
  }
  FIRSTSIP_RETURN_IF_ERROR(ReadStruct(root, 0, content));
  // On-Demand reads lazily: what follows the object has not been looked at yet. Past the last
  // token there is no location to give.
  if (document.current_location().error() != simdjson::OUT_OF_BOUNDS) {
    return NotJson(simdjson::TRAILING_CONTENT);
  }
  return absl::OkStatus();
}

absl::StatusOr<Struct> ContentFromJson(absl::string_view json) {
  Struct content;
  FIRSTSIP_RETURN_IF_ERROR(ParseContentJson(json, &content));
  return content;
}

}  // namespace firstsip::logic
