// tools/teemm/number: the one grammar for every number on the command line.
//
//   number := decimal-digit+ | ("0x" | "0X") hex-digit+
//
// No sign, no whitespace, no octal (a leading 0 is just a decimal digit: "010" is ten), no empty
// string, and nothing past 2^64-1 (refused, never wrapped).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace teemm::tool {

enum class NumberError { kNone, kInvalid, kTooLarge };

// Parses all of `text`; on success stores the value in `*value` and returns kNone, otherwise leaves
// `*value` alone.
NumberError parse_number(std::string_view text, uint64_t* value);

// The one-line refusal for a number given to `what`: "--va-bits: invalid number '0x'",
// "--va-offset: number too large '0x10000000000000000'".
std::string number_refusal(std::string_view what, std::string_view text, NumberError error);

}  // namespace teemm::tool
