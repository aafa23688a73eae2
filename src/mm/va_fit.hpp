// mm/va_fit: the arithmetic of placing a range in free space, shared by the VA allocator's array
// and tree sides (va_allocator.cpp, va_allocator_array.cpp). Internal to mm.
#pragma once

#include <cstdint>
#include <limits>

#include "base/result.hpp"
#include "mm/va_allocator.hpp"

namespace teemm::mm::va_fit {

inline constexpr uint64_t kMaxU64 = std::numeric_limits<uint64_t>::max();

// Said by a carve in the inline array that has no room for its new entry; allocate then moves
// the ranges to the tree and carves there, so this never reaches a caller.
inline constexpr Error kFlatIsFull = Error::kLimitReached;

constexpr uint64_t saturating_add(uint64_t a, uint64_t b) { return a > kMaxU64 - b ? kMaxU64 : a + b; }

// Where an aligned slot of `span` bytes starts in the free range [start, end), or false if none.
inline bool aligned_slot(uint64_t start, uint64_t end, uint64_t span, uint64_t alignment, uint64_t* slot) {
  const uint64_t misalignment = start & (alignment - 1);
  const uint64_t skip = misalignment ? alignment - misalignment : 0;
  if (skip > end - start) return false;
  const uint64_t aligned = start + skip;
  if (span > end - aligned) return false;
  *slot = aligned;
  return true;
}

// What a used range's entry may hold: a known kind, and room for its guard page beside a page.
inline bool valid_used_entry(const VaEntry& entry) {
  return !entry.is_free() && static_cast<unsigned>(entry.kind()) < kVaRangeKindCount &&
         (!entry.has_guard() || entry.size() >= 2 * kPageSize);
}

}  // namespace teemm::mm::va_fit
