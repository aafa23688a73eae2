// fuzz/fuzz_input: what every fuzz target needs — typed values taken from the fuzzer's bytes (zero
// once they run out) and checks that stop the run loudly, saying which property failed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
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
  // A value in [0, bound) (bound > 0) from one byte, or two when bound exceeds 256.
  uint32_t below(uint32_t bound) { return (bound <= 256 ? take<uint8_t>() : take<uint16_t>()) % bound; }
};

// The property failed: abort so that libFuzzer saves the input.
inline void check(bool condition) {
  if (!condition) std::abort();
}

[[noreturn]] inline void fail(const char* file, int line, const char* what) {
  std::fprintf(stderr, "\nfuzz check failed: %s:%d: %s\n", file, line, what);
  std::abort();
}

}  // namespace teemm::fuzz

// Like check(), naming the property (and where) on stderr before the abort.
#define FUZZ_CHECK(condition) ((condition) ? void(0) : ::teemm::fuzz::fail(__FILE__, __LINE__, #condition))
