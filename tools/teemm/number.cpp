// The command line's number grammar (see number.hpp).
#include "number.hpp"

namespace teemm::tool {
namespace {

int digit_value(char c, unsigned base) {
  int value = -1;
  if (c >= '0' && c <= '9')
    value = c - '0';
  else if (c >= 'a' && c <= 'f')
    value = c - 'a' + 10;
  else if (c >= 'A' && c <= 'F')
    value = c - 'A' + 10;
  return value >= 0 && static_cast<unsigned>(value) < base ? value : -1;
}

}  // namespace

NumberError parse_number(std::string_view text, uint64_t* value) {
  unsigned base = 10;
  if (text.size() >= 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
    base = 16;
    text.remove_prefix(2);
  }
  if (text.empty()) return NumberError::kInvalid;
  uint64_t result = 0;
  bool too_large = false;
  for (char c : text) {
    const int digit = digit_value(c, base);
    if (digit < 0) return NumberError::kInvalid;  // a bad digit outranks an overflow before it
    if (result > (UINT64_MAX - static_cast<uint64_t>(digit)) / base) too_large = true;
    result = result * base + static_cast<uint64_t>(digit);
  }
  if (too_large) return NumberError::kTooLarge;
  *value = result;
  return NumberError::kNone;
}

std::string number_refusal(std::string_view what, std::string_view text, NumberError error) {
  const char* problem = error == NumberError::kTooLarge ? "number too large" : "invalid number";
  return std::string(what) + ": " + problem + " '" + std::string(text) + "'";
}

}  // namespace teemm::tool
