// bench/gap_array_reference: the least an array allocator has to do per call at a few live areas,
// as a reference for what the list baseline's figure at that size leaves to beat. Used areas only,
// sorted, in one array; the free space is the gaps between them, so a free needs no merging and
// an allocation is a first-fit scan of the gaps from the low end and one shift. No owners, no
// checks, a fixed capacity, the shifts element by element (at this size a loop the compiler
// keeps inline beats a call to memmove). Not an allocator anyone should use: it exists so that
// docs/PERFORMANCE.md can say where the floor lies at 10 live areas.
#pragma once

#include <cstdint>

namespace teemm::bench {

class GapArrayReference {
 public:
  static constexpr uint32_t kCapacity = 64;

  GapArrayReference(uint64_t base, uint64_t size) : base_(base), end_(base + size) {}

  // First fit from the low end; 0 when nothing fits or the array is full.
  uint64_t allocate(uint64_t size) {
    if (count_ == kCapacity) return 0;
    uint64_t cursor = base_;
    uint32_t at = 0;
    for (; at < count_ && areas_[at].start - cursor < size; ++at) cursor = areas_[at].end;
    if (at == count_ && end_ - cursor < size) return 0;
    for (uint32_t i = count_; i > at; --i) areas_[i] = areas_[i - 1];
    areas_[at] = Area{cursor, cursor + size};
    ++count_;
    return cursor;
  }

  bool free(uint64_t start) {
    uint32_t below = 0;  // counted without a branch per area
    for (uint32_t i = 0; i < count_; ++i) below += areas_[i].start < start ? 1 : 0;
    if (below == count_ || areas_[below].start != start) return false;
    for (uint32_t i = below; i + 1 < count_; ++i) areas_[i] = areas_[i + 1];
    --count_;
    return true;
  }

 private:
  struct Area {
    uint64_t start;
    uint64_t end;
  };
  uint64_t base_;
  uint64_t end_;
  uint32_t count_ = 0;
  Area areas_[kCapacity]{};
};

}  // namespace teemm::bench
