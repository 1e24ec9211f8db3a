// Positional parameters ($1, $2, ...) for a Query, sent in libpq's text format.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace firstsip::db {

class Params {
 public:
  Params() = default;

  Params& Add(absl::string_view value) {
    contains_nul_ |= value.find('\0') != absl::string_view::npos;
    values_.emplace_back(std::string(value));
    return *this;
  }
  Params& Add(const char* value) { return Add(absl::string_view(value)); }
  Params& Add(int64_t value) {
    values_.emplace_back(std::to_string(value));
    return *this;
  }
  Params& Add(int value) { return Add(static_cast<int64_t>(value)); }
  Params& Add(bool value) {
    values_.emplace_back(value ? "t" : "f");
    return *this;
  }
  // Binary data for a bytea parameter, in bytea's hex text form.
  Params& AddBytes(absl::string_view bytes) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string text = "\\x";
    text.reserve(2 + bytes.size() * 2);
    for (unsigned char byte : bytes) {
      text.push_back(kHex[byte >> 4]);
      text.push_back(kHex[byte & 0xf]);
    }
    values_.emplace_back(std::move(text));
    return *this;
  }
  Params& AddNull() {
    values_.emplace_back(std::nullopt);
    return *this;
  }
  template <typename T>
  Params& Add(const std::optional<T>& value) {
    return value.has_value() ? Add(*value) : AddNull();
  }

  int size() const { return static_cast<int>(values_.size()); }

  // libpq's text format ends each value at its first NUL, which would silently truncate it;
  // the pool refuses such parameters instead.
  bool contains_nul() const { return contains_nul_; }

  // Pointers for PQsendQueryPrepared; valid while this object is alive and unchanged.
  std::vector<const char*> ValuePointers() const {
    std::vector<const char*> pointers;
    pointers.reserve(values_.size());
    for (const auto& value : values_) pointers.push_back(value ? value->c_str() : nullptr);
    return pointers;
  }

 private:
  std::vector<std::optional<std::string>> values_;
  bool contains_nul_ = false;
};

}  // namespace firstsip::db
