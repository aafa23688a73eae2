// Allocation from the table-page pool: a bump pointer over never-used pages, then a free list.
#include "arch/arm64/table_pool.hpp"

namespace teemm::arm64 {

Result<PhysAddr> TablePool::allocate() {
  size_t index;
  if (free_list_ != kNoPage) {
    index = free_list_;
    free_list_ = static_cast<size_t>(pages_[index].entries[0]);
  } else if (never_used_from_ < capacity_) {
    index = never_used_from_++;
  } else {
    return Error::kOutOfMemory;
  }
  // Zeroing here, per page, is what lets a pool of any size start without a whole-pool memset.
  uint64_t* entries = pages_[index].entries;
  for (unsigned i = 0; i < kEntriesPerTable; ++i) entries[i] = 0;
  live_counts_[index] = 0;
  ++used_;
  return PhysAddr(base_.value + (uint64_t{index} << kPageShift));
}

void TablePool::release(PhysAddr table) {
  const size_t index = index_of(table);
  pages_[index].entries[0] = free_list_;
  free_list_ = index;
  --used_;
}

}  // namespace teemm::arm64
