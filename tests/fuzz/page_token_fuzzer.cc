// libFuzzer: page-token decoding never crashes, and accepts only tokens bound to its filter.
#include <cstddef>
#include <cstdint>
#include <string>

#include "logic/page_token.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string token(reinterpret_cast<const char*>(data), size);
  auto key = firstsip::logic::DecodePageToken(token, "users", "show_deleted=0;role=0");
  if (key.ok()) {
    // Whatever decoded must be the key of a token for this very filter, and no other.
    std::string again = firstsip::logic::EncodePageToken("users", "show_deleted=0;role=0", *key);
    if (!firstsip::logic::DecodePageToken(again, "users", "show_deleted=0;role=0").ok()) {
      __builtin_trap();
    }
    if (firstsip::logic::DecodePageToken(token, "users", "show_deleted=1;role=0").ok()) {
      __builtin_trap();
    }
  }
  return 0;
}
