// firmware/qemu-virt/rng: a small deterministic PRNG (SplitMix64) for the random samples, so that a
// failing run can be replayed exactly (the seed is printed and can be set with `seed=N`).
#pragma once

#include <cstdint>

namespace teemm::fw::conf {

class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}

  uint64_t next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, bound) (bound > 0; the modulo bias is irrelevant here).
  uint64_t below(uint64_t bound) { return next() % bound; }
  // Uniform in [low, high] (inclusive).
  uint64_t between(uint64_t low, uint64_t high) { return low + below(high - low + 1); }
  bool chance(unsigned percent) { return below(100) < percent; }

 private:
  uint64_t state_;
};

}  // namespace teemm::fw::conf
