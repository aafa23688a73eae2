// arch/arm64/table_pool: the caller-sized pool of 4 KiB translation-table pages.
//
// Owns table pages and, for each, the count of its valid entries (so a table whose entries are
// all invalid again can go back to the pool). Pages are addressed by the physical address the MMU
// sees; the pool translates that to a pointer, which makes the same code run over simulated RAM on
// the host (any PA base) and over real RAM on bare metal (pointer == PA).
#pragma once

#include <cstddef>
#include <cstdint>

#include "arch/arm64/descriptor.hpp"
#include "base/address.hpp"
#include "base/result.hpp"

namespace teemm::arm64 {

struct alignas(kPageSize) TablePage {
  uint64_t entries[kEntriesPerTable];
};
static_assert(sizeof(TablePage) == kPageSize);

class TablePool {
 public:
  TablePool() = default;
  // `pages` and `live_counts` hold `page_count` elements each and outlive the pool; `base` is the
  // physical address of pages[0] and must be page aligned.
  TablePool(TablePage* pages, uint16_t* live_counts, size_t page_count, PhysAddr base)
      : pages_(pages), live_counts_(live_counts), capacity_(page_count), base_(base) {}

  TablePool(const TablePool&) = delete;
  TablePool& operator=(const TablePool&) = delete;

  // A zeroed page, or kOutOfMemory.
  Result<PhysAddr> allocate();
  // Returns a page obtained from allocate() that no walk can reach any more (never published, or
  // its regime is not live). Its entries stay invalid descriptors: the free-list link is encoded
  // with bit 0 clear.
  void release(PhysAddr table);

  // Deferred release, for a page just unlinked from live tables: a TLB may still hold a walk
  // through it until the invalidation of its range completes, so it must neither be reused nor
  // written with anything a walk could take as valid until then. The page (all entries invalid)
  // joins a pending list that allocate() does not take from; reclaim_pending() moves the whole list
  // to the free list once the invalidation has completed (Linux's mmu_gather does the same).
  void release_after_invalidation(PhysAddr table);
  void reclaim_pending();
  size_t pending() const { return pending_count_; }
  // True when `table` waits on the pending list (for tests of the ordering).
  bool is_pending(PhysAddr table) const;

  // The entries of the table page at `table`, or nullptr when `table` is not a page of this pool.
  uint64_t* entries(PhysAddr table) const {
    const size_t index = index_of(table);
    return index < capacity_ ? pages_[index].entries : nullptr;
  }
  // Number of valid entries in the table page at `table` (which must be a pool page).
  uint16_t& live_entries(PhysAddr table) { return live_counts_[index_of(table)]; }

  bool contains(PhysAddr address) const { return index_of(address) < capacity_; }
  size_t capacity() const { return capacity_; }
  size_t used() const { return used_; }
  size_t available() const { return capacity_ - used_; }
  PhysAddr base() const { return base_; }

 private:
  size_t index_of(PhysAddr address) const {
    return address.value >= base_.value ? (address.value - base_.value) >> kPageShift : SIZE_MAX;
  }

  static constexpr size_t kNoPage = SIZE_MAX;
  TablePage* pages_ = nullptr;
  uint16_t* live_counts_ = nullptr;
  size_t capacity_ = 0;
  PhysAddr base_;
  size_t used_ = 0;
  size_t never_used_from_ = 0;     // pages at or above this index were never handed out
  size_t free_list_ = kNoPage;     // index of the first released page; each links to the next in entries[0]
  size_t pending_list_ = kNoPage;  // pages awaiting TLB invalidation, linked the same way
  size_t pending_count_ = 0;
};

// Static storage for a pool of N pages, for freestanding callers and tests.
template <size_t N>
struct TablePoolStorage {
  TablePage pages[N];
  uint16_t live_counts[N];
};

}  // namespace teemm::arm64
