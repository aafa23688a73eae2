// fuzz/fuzz_input: what every fuzz target needs — typed values taken from the fuzzer's bytes (zero
// once they run out) and a check that stops the run loudly.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

namespace teemm::fuzz {

struct Reader {
  const uint8_t* data;
  size_t size;

  template <typename T>
  T take() {
    T value{};
    const size_t n = size < sizeof(T) ? size : sizeof(T);
    std::memcpy(&value, data, n);
    data += n;
    size -= n;
    return value;
  }
};

// The property failed: abort so that libFuzzer saves the input.
inline void check(bool condition) {
  if (!condition) std::abort();
}

}  // namespace teemm::fuzz
