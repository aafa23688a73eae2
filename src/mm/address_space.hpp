// mm/address_space: the run-time half of the memory manager for one stage-1 address space.
//
// Owns what makes the static map's VA reservations live: the dynamic-SHM and IO reservations
// (a VA allocator each), the mapper edits of the shared stage-1 table, and the PA index that
// answers phys_to_virt / virt_to_phys. Every dynamic range belongs to exactly one guest.
//
// Locking: one spin lock per address space. The table, both allocators and the PA index are
// reached only through this class, and every public call holds the lock for its whole duration,
// so calls from several CPUs are linearisable. Nothing inside sleeps or allocates.
//
// Every call is all-or-nothing: capacity (PA-index nodes, VA, table pages) is checked, or the
// partial work undone, before an error is returned.
#pragma once

#include <cstddef>
#include <cstdint>

#include "arch/arm64/translation_table.hpp"
#include "arch/arm64/walker.hpp"
#include "base/address.hpp"
#include "base/guest_id.hpp"
#include "base/result.hpp"
#include "base/spinlock.hpp"
#include "mm/memory_map.hpp"
#include "mm/pa_index.hpp"
#include "mm/va_allocator.hpp"

namespace teemm::mm {

struct AddressSpaceStorage {
  VaAllocator::Node* shm_nodes = nullptr;
  size_t shm_node_count = 0;
  VaAllocator::Node* io_nodes = nullptr;
  size_t io_node_count = 0;
  PaIndex::Node* pa_nodes = nullptr;
  size_t pa_node_count = 0;
  // Optional page hash of the PA index (single-page phys_to_virt without a tree descent): about
  // two slots per page that may be mapped at once, e.g. 2 x the pages of the SHM and IO
  // reservations. None: every lookup descends the tree.
  PageSlot* pa_slots = nullptr;
  size_t pa_slot_count = 0;
};

struct ReservationUsage {
  const char* name = nullptr;
  MemoryType type = MemoryType::kShmVaspace;
  VirtAddr base;
  Size size;
  Size in_use;  // including guard pages
  size_t ranges = 0;
};

class AddressSpace {
 public:
  AddressSpace() = default;
  AddressSpace(const AddressSpace&) = delete;
  AddressSpace& operator=(const AddressSpace&) = delete;

  // A page-hash size for AddressSpaceStorage::pa_slots: two slots per page of the SHM and IO
  // reservations of `map`, so the hash stays at most half full even with both reservations fully
  // mapped (16 bytes per slot: 32 bytes per reserved page).
  static size_t page_slots_for(const MemoryMap& map);

  // Takes over `table` (already holding the static map) and the SHM_VASPACE and RES_VASPACE
  // reservations of `map`. Errors: kNotFound (the map has no SHM_VASPACE), pool errors.
  Status init(arm64::Stage1Table& table, const MemoryMap& map, const AddressSpaceStorage& storage);

  // Maps `count` normal-world pages (in this order) at a fresh VA of the SHM reservation, followed
  // by an unmapped guard page, non-secure, read-write, cached, never executable.
  Result<VirtAddr> map_shared(GuestId owner, const PhysAddr* pages, PageCount count, uint64_t cookie);
  // Unmaps and frees the SHM range that starts at `va`. Errors: kNotFound.
  Status unmap_shared(VirtAddr va);
  // Unmaps and frees every dynamic range of `owner`; returns how many.
  size_t release_guest(GuestId owner);

  // Maps device registers [pa, pa + size) from the IO reservation (or answers with the static
  // map's VA when a static IO region of that security covers them). Repeated calls for a range a
  // live mapping covers share it, counted; iounmap drops one reference.
  Result<VirtAddr> ioremap(PhysAddr pa, Size size, bool secure);
  Status iounmap(VirtAddr va);

  // O(log n) lookups (phys_to_virt of one page O(1) on a page-hash hit) that answer exactly as a
  // walk of the tables would.
  Result<VirtAddr> phys_to_virt(PhysAddr pa, Size size, MemoryType type) const;
  Result<PhysAddr> virt_to_phys(VirtAddr va) const;
  // A walk of the live tables, under the lock (for tests and diagnostics).
  arm64::WalkResult translate(VirtAddr va) const;

  // Calls visit(const VaRange&) for every live dynamic range, SHM first, each in VA order.
  template <typename Visitor>
  void for_each_range(Visitor&& visit) const {
    LockGuard guard(lock_);
    shm_.for_each_used(visit);
    if (io_entry_ != nullptr) io_.for_each_used(visit);
  }

  ReservationUsage shm_usage() const;
  ReservationUsage io_usage() const;
  PaIndexStats pa_index_stats() const;
  // Checks both allocators and the PA index, and that every PA-index run is what the walker sees.
  bool audit() const;

 private:
  Result<VirtAddr> ioremap_locked(PhysAddr pa, Size size, bool secure);
  Status unmap_range_locked(const VaRange& range, VaAllocator& allocator);
  Status remove_runs_locked(VirtAddr start, Size size);
  ReservationUsage usage_of(const VaAllocator& allocator, const MapEntry* entry) const;
  // The static-map entry of `type` that holds all of [pa, pa + size), if any.
  const MapEntry* static_entry_covering(PhysAddr pa, Size size, MemoryType type) const;

  mutable SpinLock lock_;
  arm64::Stage1Table* table_ = nullptr;
  const MemoryMap* map_ = nullptr;
  const MapEntry* shm_entry_ = nullptr;
  const MapEntry* io_entry_ = nullptr;
  VaAllocator shm_;
  VaAllocator io_;
  PaIndex pa_index_;
};

}  // namespace teemm::mm
