// mm/pa_index: the live runs (a physically contiguous range mapped at a virtual address) indexed
// both ways, so phys_to_virt and virt_to_phys are O(log n).
//
// Owns two B+trees (base/btree) whose blocks share one caller-sized pool. The VA tree is keyed by
// VA; runs never overlap there. The PA tree is keyed by (type, PA, VA) - one PA may be mapped at
// several VAs, even as several types - and is augmented, interval-tree style, with the largest
// (type, end) below each child. Keeping the type in front of both the key and the aggregate
// confines a search to one type's runs, so "the run of type T covering [pa, pa + size)" is one
// O(log n) descent even when runs of other types overlap it. Which run answers when several
// cover: the lowest PA start, then the lowest VA.
//
// Storage: one Node per run; a Node is raw storage for the trees' 512-byte blocks, sized so that
// node_count Nodes hold both trees at their worst fill with node_count runs (see kNodeBytes).
//
// Optional accelerator: a page hash (mm/page_hash) over caller-sized PageSlot storage. For a
// (type, page) it may hold the answer the trees give for that single page; a single-page lookup
// that hits usually reads one cache line instead of descending the PA tree. The trees stay the source of
// truth: a page may be missing (its window was full), never stale or wrong (see pa_index.cpp and
// audit). Without slots the index behaves exactly as with none of this.
//
// Not thread-safe: the owner of the address space serialises calls.
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/address.hpp"
#include "base/block_pool.hpp"
#include "base/btree.hpp"
#include "base/guest_id.hpp"
#include "base/result.hpp"
#include "mm/memory_type.hpp"
#include "mm/page_hash.hpp"

namespace teemm::mm {

struct PhysRun {
  PhysAddr pa;
  VirtAddr va;
  Size size;
  MemoryType type = MemoryType::kNsecShm;
  GuestId owner;
};

struct PaIndexStats {
  size_t runs = 0;
  size_t nodes_in_use = 0;
  size_t node_capacity = 0;
  size_t hashed_pages = 0;  // page-hash slots in use
  size_t hash_slots = 0;    // page-hash slots given to init
};

// The type sits above the 48 address bits so one comparison orders by (type, address).
inline constexpr unsigned kRunTypeShift = 56;
static_assert(kMaxAddressBits < kRunTypeShift, "PA ends (up to kAddressLimit) sit below the type");
static_assert(kMemoryTypeCount <= (uint64_t{1} << (64 - kRunTypeShift)));

// What the VA tree keeps per run (its key is the VA).
struct RunByVa {
  uint64_t pa = 0;
  uint64_t size = 0;
  uint16_t owner = 0;
  uint8_t type = 0;
};

struct NoAggregate {
  bool operator==(const NoAggregate&) const = default;
};

struct RunsByVaTraits {
  using Key = uint64_t;
  using Value = RunByVa;
  using Agg = NoAggregate;
  static constexpr uint32_t kLeafCapacity = 15;   // 15 x (8 + 24) bytes
  static constexpr uint32_t kInnerCapacity = 28;  // 28 x (8 + 1 + 8) bytes
  static constexpr Key kMaxKey = ~uint64_t{0};    // never a VA start: runs are page aligned
  static bool less(Key a, Key b) { return a < b; }
  static Agg entry_agg(Key, const Value&) { return {}; }
  static Agg combine(const Agg&, const Agg&) { return {}; }
};

// The PA tree's key: (type << kRunTypeShift | PA, VA).
struct TypedPaKey {
  uint64_t typed_pa;
  uint64_t va;
};

struct RunsByPaTraits {
  using Key = TypedPaKey;
  using Value = uint64_t;                                       // the typed end: type << kRunTypeShift | (PA + size)
  using Agg = uint64_t;                                         // the largest typed end below a child
  static constexpr uint32_t kLeafCapacity = 21;                 // 21 x (16 + 8) bytes
  static constexpr uint32_t kInnerCapacity = 15;                // 15 x (16 + 8 + 8) bytes
  static constexpr Key kMaxKey = {~uint64_t{0}, ~uint64_t{0}};  // the type field never is 0xff
  static bool less(const Key& a, const Key& b) {
    return (a.typed_pa < b.typed_pa) | ((a.typed_pa == b.typed_pa) & (a.va < b.va));
  }
  static Agg entry_agg(const Key&, const Value& typed_end) { return typed_end; }
  static Agg combine(Agg a, Agg b) { return a > b ? a : b; }
};

class PaIndex {
 public:
  using VaTree = BTree<RunsByVaTraits>;
  using PaTree = BTree<RunsByPaTraits>;

  // Bytes of pool per run: both trees' worst cases (VaTree::max_blocks(n) + PaTree::max_blocks(n)
  // blocks of 512 bytes, under 0.271 n of them) plus 63 bytes of alignment; 144 covers every n
  // (checked by static_assert up to 4096 and by the ratio beyond).
  static constexpr size_t kNodeBytes = 144;

  // Storage for one run. Opaque: the caller only provides storage for these.
  using Node = PoolStorageUnit<kNodeBytes>;

  PaIndex() = default;
  PaIndex(const PaIndex&) = delete;
  PaIndex& operator=(const PaIndex&) = delete;

  // Uses `node_count` nodes at `nodes` and, optionally, `slot_count` page-hash slots at `slots`
  // (both must outlive this); forgets any previous runs. Slots are O(slot_count) to clear here;
  // about two per mapped page keeps nearly every page hashed (docs/PERFORMANCE.md).
  // Error: kInvalidArgument (nodes or slots null while their count is not zero).
  Status init(Node* nodes, size_t node_count, PageSlot* slots = nullptr, size_t slot_count = 0);

  // Adds a run: O(log n), plus with the page hash O(pages) probes, or O(pages log n) when runs of
  // the same type already overlap its PA range. Errors: kZeroSize, kMisaligned (pa, va or size
  // not page aligned), kInvalidArgument (unknown type), kAddressOverflow (the VA range wraps or the PA range passes
  // kAddressLimit), kOverlap (its VA range meets another run's), kOutOfMemory.
  Status insert(const PhysRun& run);

  // Removes the run starting at `va`: O(log n), plus with the page hash O(pages) probes, or
  // O(pages log n) when other runs of its type overlap its PA range. Error: kNotFound.
  Status remove(VirtAddr va);

  // The VA of `pa` when [pa, pa + size) lies wholly in one run of `type` (a zero size asks about
  // the byte at pa). O(kWindow) on a page-hash hit, else O(log n). Errors: kInvalidArgument
  // (unknown type), kNotFound.
  Result<VirtAddr> phys_to_virt(PhysAddr pa, Size size, MemoryType type) const;

  // The PA mapped at `va`. Error: kNotFound.
  Result<PhysAddr> virt_to_phys(VirtAddr va) const;

  // The run containing `va`. Error: kNotFound.
  Result<PhysRun> find_by_va(VirtAddr va) const;

  // Calls visit(const PhysRun&) for each run in VA order.
  template <typename Visitor>
  void for_each(Visitor&& visit) const {
    by_va_.for_each([&](uint64_t va, const RunByVa& run) { visit(run_of(va, run)); });
  }

  PaIndexStats stats() const;

  // Checks both trees (order, balance, aggregates), that they hold the same nodes, that VA ranges
  // are disjoint, and the pool accounting; and that every page-hash slot names a live run of its
  // type covering its page, with that run's page count, and is the trees' answer for the page.
  // O(n + pool + slots + hashed pages * log n).
  bool audit() const;

 private:
  static PhysRun run_of(uint64_t va, const RunByVa& run);
  static Status check_run(const PhysRun& run);
  bool run_containing(uint64_t va, VaTree::Cursor* at) const;
  bool audit_runs() const;
  bool audit_hash() const;
  // The trees' answer for [typed_start, typed_end) of one type (see phys_to_virt).
  bool tree_answer(uint64_t typed_start, uint64_t typed_end, PaTree::Cursor* at) const;
  // Whether a run of the type in typed_start meets [typed_start, typed_end).
  bool type_overlaps(uint64_t typed_start, uint64_t typed_end) const;
  // Sets the hash slot of one typed page to the trees' answer for it, or erases it if none.
  void rehash_page(uint64_t typed_page);
  void hash_inserted(const PhysRun& run, bool shared);
  void unhash_removed(uint64_t va, const RunByVa& run, bool shared);

  VaTree by_va_;
  PaTree by_pa_;
  BlockPool pool_;
  size_t capacity_ = 0;
  PageHash hash_;
};

// Static storage for a PA index's node pool, for freestanding callers and tests.
template <size_t N>
struct PaIndexStorage {
  PaIndex::Node nodes[N];
  static constexpr size_t kCount = N;
};

}  // namespace teemm::mm
