// libFuzzer: the input validators never crash; what they accept is well-formed.
#include <cstddef>
#include <cstdint>
#include <string>

#include "logic/validators.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string input(reinterpret_cast<const char*>(data), size);
  using namespace firstsip::logic;
  if (ValidateEmail(input, "email").ok() &&
      (input.find('\0') != std::string::npos || input.find('@') == std::string::npos ||
       input.find("\xEF\xBF\xBD") != std::string::npos ||
       input.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.",
                               input.rfind('@') + 1) != std::string::npos)) {
    __builtin_trap();
  }
  if (ValidateText(input, "text", 256).ok() &&
      (input.size() > 256 || input.find('\0') != std::string::npos)) {
    __builtin_trap();
  }
  if (ValidateClockTime(input, "time").ok() && input.size() != 5) __builtin_trap();
  if (size <= 64) (void)ValidateTimezone(input, "timezone");
  return 0;
}
