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
// Every call is all-or-nothing: input, policy and capacity (PA-index nodes, VA, table pages) are
// checked, or the partial work undone, before an error is returned. The rules are this class's
// own, whoever calls it: only non-secure DDR becomes shared memory, only declared devices are
// ioremapped, and only an object's owner may unmap it.
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
#include "mm/page_policy.hpp"
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
  // The physical-page policy: PagePolicy::ranges_needed(registry) entries.
  PolicyRange* policy_ranges = nullptr;
  size_t policy_range_count = 0;
  // Secure memory for the one copy map_shared makes of a caller's page list: as many pages as one
  // call may map (scratch_pages_for(map) allows any list the SHM reservation can hold). Must not
  // be memory the normal world can write.
  PhysAddr* page_scratch = nullptr;
  size_t page_scratch_count = 0;
};

struct ReservationUsage {
  const char* name = nullptr;
  MemoryType type = MemoryType::kShmVaspace;
  VirtAddr base;
  Size size;
  Size in_use;  // including guard pages
  size_t ranges = 0;
  size_t tree_bytes = 0;  // bookkeeping: the allocator's tree blocks in use
};

// What release_guest did: ranges released, and ranges it could not release (their tables need a
// page the pool does not have to split a block that reaches outside them: only possible when the
// tables were edited behind the address space's back). Those stay owned and are retried next time.
struct TeardownResult {
  size_t released = 0;
  size_t failed = 0;
};

// What every dynamic mapping of its kind gets: privileged read-write, never executable, no EL0
// access; shared memory non-secure, cached; device registers Device-nGnRE of their security.
arm64::MappingAttributes shared_memory_attributes();
arm64::MappingAttributes device_attributes(bool secure);

class AddressSpace {
 public:
  AddressSpace() = default;
  AddressSpace(const AddressSpace&) = delete;
  AddressSpace& operator=(const AddressSpace&) = delete;

  // A page-hash size for AddressSpaceStorage::pa_slots: two slots per page of the SHM and IO
  // reservations of `map`, so the hash stays at most half full even with both reservations fully
  // mapped (16 bytes per slot: 32 bytes per reserved page).
  static size_t page_slots_for(const MemoryMap& map);

  // Most pages one map_shared call can map: the SHM reservation's pages less the guard page.
  static size_t scratch_pages_for(const MemoryMap& map);

  // Takes over `table` (already holding the static map) and the SHM_VASPACE and RES_VASPACE
  // reservations of `map`; which physical pages may be mapped, and as what, comes from `registry`
  // (see mm/page_policy.hpp). Errors: kNotFound (the map has no SHM_VASPACE), kForbiddenMemory
  // (the table pool lies in memory that could be shared with the normal world), pool errors.
  Status init(arm64::Stage1Table& table, const MemoryMap& map, const PhysMemRegistry& registry,
              const AddressSpaceStorage& storage);

  // Maps `count` normal-world pages (in this order) at a fresh VA of the SHM reservation, followed
  // by an unmapped guard page, non-secure, read-write, cached, never executable, never EL0.
  // `pages` may lie in memory the normal world can change during the call: it is read exactly
  // once, into the page scratch (secure), and only that copy is checked and mapped.
  // Errors, all leaving everything as it was: kZeroSize; kInvalidArgument (no list, not
  // initialised); kNoVirtualSpace (more pages than the reservation can ever hold, or no free range
  // now); kLimitReached (more pages than the page scratch holds); kMisaligned (a page not 4 KiB
  // aligned); kForbiddenMemory (a page outside non-secure DDR, or secure, SDP, device, static-map
  // or beyond the tables' output size); kOutOfMemory (PA-index nodes, VA nodes or table pages).
  //
  // `indexing`: kIndexed puts every physically contiguous run in the PA index (phys_to_virt finds
  // it); kNotIndexed leaves the index alone, which is what a registry of buffers that looks them up
  // by cookie wants: a 1 GiB list of scattered pages then costs no index node per page (virt_to_phys
  // still answers, by a walk of the tables). The policy checks and the audit are the same for both.
  enum class Indexing : uint8_t { kIndexed, kNotIndexed };
  Result<VirtAddr> map_shared(GuestId owner, const PhysAddr* pages, PageCount count, uint64_t cookie,
                              Indexing indexing = Indexing::kIndexed);
  // Unmaps and frees the SHM range of `owner` that starts at `va`. Errors: kNotFound,
  // kPermissionDenied (the range belongs to another guest; nothing changes).
  Status unmap_shared(GuestId owner, VirtAddr va);
  // Unmaps and frees every dynamic range (SHM and IO) of `owner`. Every range is visited once, so
  // the call always ends; ranges `owner` maps concurrently may survive. An owner holding a fair
  // share of an allocator's ranges, or any owner while the allocator's ranges fit its inline array
  // (VaAllocator::prefers_one_pass), is released in one pass over that allocator under one lock
  // hold: O(n) for n live ranges, 2-5 ns each, where one descent per range would cost more.
  // Otherwise the lock is held for at most kTeardownBatch ranges at a time, so other CPUs make
  // progress during a large teardown.
  TeardownResult release_guest(GuestId owner);
  static constexpr size_t kTeardownBatch = 128;

  // Maps device registers [pa, pa + size) for `owner` from the IO reservation (or answers with the
  // static map's VA when a static IO region of that security covers them). Only devices the
  // platform declares (kDeviceIo regions, static IO) of the same security may be mapped: RAM of any
  // kind is kForbiddenMemory. Repeated calls of one owner for a range a live mapping of theirs
  // covers share it, counted; iounmap drops one reference.
  Result<VirtAddr> ioremap(GuestId owner, PhysAddr pa, Size size, bool secure);
  // Errors: kNotFound, kPermissionDenied (another owner's mapping; nothing changes).
  Status iounmap(GuestId owner, VirtAddr va);

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

  // The live SHM range that holds `va` (its owner, cookie and size). Error: kNotFound.
  Result<VaRange> shm_range(VirtAddr va) const;

  ReservationUsage shm_usage() const;
  ReservationUsage io_usage() const;
  PaIndexStats pa_index_stats() const;
  // Checks, both ways and against the policy: both allocators and the PA index on their own; every
  // PA-index run is what the walker sees, with exactly the attributes its kind gets, at PAs the
  // page policy allows; every leaf the walker finds in the SHM and IO reservations lies in a used
  // range (never a guard page) and is in the PA index; and used ranges are mapped in full.
  bool audit() const;

 private:
  Result<VirtAddr> ioremap_locked(GuestId owner, PhysAddr pa, Size size, bool secure);
  Result<VirtAddr> own_io_mapping_locked(GuestId owner, PhysAddr first, Size span, MemoryType type) const;
  const PhysAddr* copy_page_list(const PhysAddr* pages, uint64_t count);
  Result<uint64_t> check_shared_pages(const PhysAddr* pages, uint64_t count);
  Result<uint64_t> check_runs(const PhysAddr* pages, uint64_t count) const;
  static bool is_indexed(const VaRange& range) { return range.kind != VaRangeKind::kSharedMemoryUnindexed; }
  arm64::WalkResult walk_locked(VirtAddr va) const;
  Status insert_runs_locked(GuestId owner, VirtAddr va, const PhysAddr* pages, uint64_t count);
  Status unmap_range_locked(const VaRange& range, VaAllocator& allocator);
  Status unmap_tables_locked(const VaRange& range, arm64::TranslationTable::UnmapBatch& batch);
  void release_all_locked(GuestId owner, VaAllocator& allocator, TeardownResult& result);
  void remove_runs_locked(VirtAddr start, Size size);
  size_t release_batch_locked(GuestId owner, VaAllocator& allocator, VirtAddr& from, TeardownResult& result);
  enum class SpanOutcome : uint8_t { kReleased, kNothingLeft, kUnmapFailed };
  SpanOutcome release_span_locked(GuestId owner, VaAllocator& allocator, TeardownResult& result);
  bool audit_runs_locked() const;
  bool audit_leaves_locked(const VaAllocator& allocator, const MapEntry* entry) const;
  ReservationUsage usage_of(const VaAllocator& allocator, const MapEntry* entry) const;
  // The static-map entry of `type` that holds all of [pa, pa + size), if any.
  const MapEntry* static_entry_covering(PhysAddr pa, Size size, MemoryType type) const;

  mutable SpinLock lock_;
  arm64::Stage1Table* table_ = nullptr;
  const MemoryMap* map_ = nullptr;
  const MapEntry* shm_entry_ = nullptr;
  const MapEntry* io_entry_ = nullptr;
  PagePolicy policy_;
  PhysAddr* scratch_ = nullptr;
  size_t scratch_count_ = 0;
  // Fixed at init, so that map_shared looks neither the reservation up nor encodes per call.
  size_t shm_pages_max_ = 0;
  uint64_t shm_attribute_bits_ = 0;
  PolicyRange last_allowed_;  // the shared-memory range the last list fell in (the policy is fixed)
  VaAllocator shm_;
  VaAllocator io_;
  PaIndex pa_index_;
};

}  // namespace teemm::mm
