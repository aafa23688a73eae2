// Allocation from the table-page pool: a bump pointer over never-used pages, then a free list.
#include "arch/arm64/table_pool.hpp"

namespace teemm::arm64 {
namespace {

// A list link kept in entry 0 of a free or pending page. Bit 0 (the descriptor's valid bit) is
// always clear, so a walk that still reaches the page through a stale cached table descriptor
// reads an invalid descriptor and faults, never a page of someone else's memory.
constexpr uint64_t encode_link(size_t next) { return next == SIZE_MAX ? 0 : (uint64_t{next} + 1) << 1; }
constexpr size_t decode_link(uint64_t entry) { return entry == 0 ? SIZE_MAX : static_cast<size_t>((entry >> 1) - 1); }
static_assert((encode_link(0) & kDescriptorValid) == 0 && decode_link(encode_link(12345)) == 12345);
static_assert(decode_link(encode_link(SIZE_MAX)) == SIZE_MAX);

}  // namespace

Result<PhysAddr> TablePool::allocate() {
  size_t index;
  if (free_list_ != kNoPage) {
    index = free_list_;
    free_list_ = decode_link(pages_[index].entries[0]);
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
  pages_[index].entries[0] = encode_link(free_list_);
  free_list_ = index;
  --used_;
}

void TablePool::release_after_invalidation(PhysAddr table) {
  const size_t index = index_of(table);
  pages_[index].entries[0] = encode_link(pending_list_);
  pending_list_ = index;
  ++pending_count_;
}

void TablePool::reclaim_pending() {
  while (pending_list_ != kNoPage) {
    const size_t index = pending_list_;
    pending_list_ = decode_link(pages_[index].entries[0]);
    release(PhysAddr(base_.value + (uint64_t{index} << kPageShift)));
  }
  pending_count_ = 0;
}

bool TablePool::is_pending(PhysAddr table) const {
  for (size_t index = pending_list_; index != kNoPage; index = decode_link(pages_[index].entries[0]))
    if (index == index_of(table)) return true;
  return false;
}

}  // namespace teemm::arm64
