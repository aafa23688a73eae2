// tests/support/random_map: random but valid platform region sets, for property tests and benchmarks.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "mm/phys_mem_registry.hpp"

namespace teemm::testing {

struct RandomMap {
  std::vector<std::string> names;  // owns the strings the regions point at
  std::vector<mm::Region> regions;
};

// `count` non-overlapping mapped regions of 4 KiB..8 MiB with random physical memory types, laid
// out upward from 1 GiB with random gaps; about a third start 2 MiB aligned so blocks get used.
inline RandomMap make_random_map(uint32_t seed, size_t count, uint64_t max_size = 8u << 20) {
  static constexpr mm::MemoryType kTypes[] = {
      mm::MemoryType::kTeeRamRx, mm::MemoryType::kTeeRamRo,   mm::MemoryType::kTeeRamRw, mm::MemoryType::kTaRam,
      mm::MemoryType::kRamSec,   mm::MemoryType::kRamNsec,    mm::MemoryType::kNsecShm,  mm::MemoryType::kIoSec,
      mm::MemoryType::kIoNsec,   mm::MemoryType::kTeeCoherent};
  std::mt19937_64 random(seed);
  RandomMap map;
  map.names.reserve(count);
  map.regions.reserve(count);
  uint64_t cursor = uint64_t{1} << 30;
  for (size_t i = 0; i < count; ++i) {
    const uint64_t pages = 1 + random() % (max_size / 4096);
    const uint64_t size = pages * 4096;
    cursor += (random() % 4) * 4096;  // a gap of 0..3 pages, sometimes none (same types then merge)
    if (random() % 3 == 0) cursor = (cursor + (2u << 20) - 1) & ~uint64_t{(2u << 20) - 1};
    map.names.push_back("r" + std::to_string(i));
    map.regions.push_back(mm::mapped_region(nullptr, kTypes[random() % std::size(kTypes)], cursor, size));
    cursor += size;
  }
  for (size_t i = 0; i < count; ++i) map.regions[i].name = map.names[i].c_str();
  return map;
}

}  // namespace teemm::testing
