// mm/va_allocator: the O(log n) allocator of one virtual-address window (a dynamic SHM or IO
// reservation), in the manner of Linux's vmalloc.
//
// Owns the partition of the window into free and used ranges. While the used ranges are few (at
// most kFlatCapacity), they alone sit in one small sorted array inside the allocator
// (base/flat_map) and the free space is the gaps between them: a free needs no merging and an
// allocation adds one entry, so every edit moves the entries after it by one slot, and a first
// fit scans one array of the used ranges. Beyond that, every range, free or used, is one entry of
// a single B+tree (base/btree) keyed by start address, built in one move when a carve finds the
// array full; the ranges move back when the tree shrinks to a quarter of the array (so a size
// near the line cannot make every call move them). In the tree the ranges tile the window
// exactly, and no two free ranges touch (they are coalesced). Each inner node keeps, per child, two
// aggregates over the child's subtree: the largest free range (guides first-fit descents) and a
// 32-bit mask of the owners of used ranges (guides guest teardown). Linux keeps free and used
// ranges in two trees; one tree of both makes a used range's free neighbours its in-order
// neighbours, so free() needs no second search.
//
// Storage comes from a caller-sized pool of Nodes: one Node per range (free or used; while the
// ranges are in the array, per used range or non-empty gap, so the tree always fits). A window
// holding n used ranges needs at most 2n + 1 (see nodes_needed); running out is
// Error::kOutOfMemory and changes nothing. A Node is raw storage: the pool's bytes hold the tree's
// 512-byte blocks, and sizeof(Node) is chosen so that node_count Nodes always hold the blocks of a
// tree of node_count entries at its worst (half-full) fill; see kNodeBytes.
//
// Not thread-safe: the owner of the address space serialises calls (one lock per allocator).
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "base/address.hpp"
#include "base/block_pool.hpp"
#include "base/btree.hpp"
#include "base/flat_map.hpp"
#include "base/guest_id.hpp"
#include "base/result.hpp"

namespace teemm::mm {

// What a used range is for; the allocator only records it.
enum class VaRangeKind : uint8_t {
  kSharedMemory,  // a normal-world buffer (dynamic SHM)
  kDeviceIo,      // device registers (ioremap)
  kOther,
  kSharedMemoryUnindexed,  // a normal-world buffer whose pages the PA index does not list
};
inline constexpr unsigned kVaRangeKindCount = 4;

constexpr const char* va_range_kind_name(VaRangeKind kind) {
  switch (kind) {
    case VaRangeKind::kSharedMemory: return "shm";
    case VaRangeKind::kDeviceIo: return "io";
    case VaRangeKind::kOther: return "other";
    case VaRangeKind::kSharedMemoryUnindexed: return "shm-unindexed";
  }
  return "invalid";
}

struct AllocationRequest {
  uint64_t alignment = kPageSize;  // of the start; a power of two, at least kPageSize
  bool guard_page = false;         // reserve one unmapped page after the range
  GuestId owner;
  VaRangeKind kind = VaRangeKind::kSharedMemory;
  uint64_t backing = 0;  // opaque to the allocator: what backs the range (e.g. an shm cookie)
};

// A used range as the allocator reports it. `size` is the usable part; a guard page, when
// present, follows it and is reserved (never handed out) but not part of the range.
struct VaRange {
  VirtAddr start;
  Size size;
  bool guard_page = false;
  GuestId owner;
  VaRangeKind kind = VaRangeKind::kSharedMemory;
  uint64_t backing = 0;

  constexpr VirtAddr end() const { return start + size; }
  constexpr Size reserved_size() const { return Size(size.bytes + (guard_page ? kPageSize : 0)); }
};

struct VaStats {
  Size window;
  Size in_use;  // used ranges including their guard pages
  size_t used_ranges = 0;
  size_t free_ranges = 0;
  size_t nodes_in_use = 0;
  size_t node_capacity = 0;
  size_t tree_bytes = 0;  // of the node pool the tree occupies now (blocks beyond the inline root)
  Size largest_free;      // the largest free range (an upper bound on what allocate can give)
};

// One range as the tree stores it (the key is its start): 16 bytes, so that a 512-byte leaf holds
// 20 of them. The size is kept in pages (40 bits: windows up to 2^52 bytes, the architecture's
// largest VA), beside the owner and the flags in one word.
class VaEntry {
 public:
  static constexpr uint8_t kKindMask = 0x0f;
  static constexpr uint8_t kGuardFlag = 0x10;
  static constexpr uint8_t kFreeFlag = 0x20;
  static constexpr unsigned kPageBits = 40;
  static constexpr uint64_t kMaxBytes = ((uint64_t{1} << kPageBits) - 1) << kPageShift;

  static VaEntry free_range(uint64_t bytes) { return VaEntry(bytes, 0, kFreeFlag, 0); }
  static VaEntry used_range(uint64_t bytes, uint16_t owner, uint8_t flags, uint64_t backing) {
    return VaEntry(bytes, owner, flags, backing);
  }

  // The whole reservation: usable bytes plus the guard page.
  uint64_t size() const { return (word_ >> kSizeShift) << kPageShift; }
  void set_size(uint64_t bytes) { word_ = (word_ & kLowMask) | ((bytes >> kPageShift) << kSizeShift); }
  uint16_t owner() const { return static_cast<uint16_t>(word_ >> kOwnerShift); }
  uint8_t flags() const { return static_cast<uint8_t>(word_); }
  uint64_t backing() const { return backing_; }
  void set_backing(uint64_t backing) { backing_ = backing; }

  // Free ranges of at least `bytes` are exactly the entries with fit_key() >= fit_threshold(bytes),
  // so a first-fit scan makes one comparison per entry. The word rotated puts the free flag on top
  // (used ranges fall below every threshold) and the size under it; a free range has no owner and
  // no other flag, so nothing below the size counts.
  uint64_t fit_key() const { return (word_ >> kFitRotation) | (word_ << (64 - kFitRotation)); }
  static uint64_t fit_threshold(uint64_t bytes) {
    if (bytes > kMaxBytes) return ~uint64_t{0};  // above every key
    const uint64_t pages = (bytes + kPageSize - 1) >> kPageShift;
    return (uint64_t{1} << 63) | (pages << (kSizeShift - kFitRotation));
  }

  bool is_free() const { return (flags() & kFreeFlag) != 0; }
  bool has_guard() const { return (flags() & kGuardFlag) != 0; }
  VaRangeKind kind() const { return static_cast<VaRangeKind>(flags() & kKindMask); }

  VaEntry() = default;
  bool operator==(const VaEntry&) const = default;

 private:
  static constexpr unsigned kOwnerShift = 8;
  static constexpr unsigned kSizeShift = 24;
  static constexpr uint64_t kLowMask = (uint64_t{1} << kSizeShift) - 1;
  static constexpr unsigned kFitRotation = 6;  // brings the free flag (bit 5) to bit 63
  static_assert(kFreeFlag == uint64_t{1} << (kFitRotation - 1));

  VaEntry(uint64_t bytes, uint16_t owner, uint8_t flags, uint64_t backing)
      : word_(((bytes >> kPageShift) << kSizeShift) | (uint64_t{owner} << kOwnerShift) | flags), backing_(backing) {}

  uint64_t word_ = 0;  // bits 0-7 flags, 8-23 owner, 24-63 size in pages
  uint64_t backing_ = 0;
};
static_assert(sizeof(VaEntry) == 16);

// Per-subtree aggregates: the largest free size and bit (owner % 32) of every used range.
struct VaAggregate {
  uint64_t max_free = 0;
  uint32_t owner_mask = 0;
  bool operator==(const VaAggregate&) const = default;
};

struct VaTreeTraits {
  using Key = uint64_t;
  using Value = VaEntry;
  using Agg = VaAggregate;
  // 20 x (8-byte key + 16-byte entry) and 15 x (8 + 16 + 8) both fit a 512-byte block.
  static constexpr uint32_t kLeafCapacity = 20;
  static constexpr uint32_t kInnerCapacity = 15;
  // First fit carves the window's low end first: most new entries land above every other.
  static constexpr bool kDenseFill = true;
  static constexpr Key kMaxKey = ~uint64_t{0};  // never a start: ranges are page aligned
  static bool less(Key a, Key b) { return a < b; }
  static uint32_t owner_bit(uint16_t owner) { return uint32_t{1} << (owner % 32); }
  static Agg entry_agg(Key, const Value& entry) {
    // Branch-free: leaves fold this over every entry on each update.
    const uint64_t free_mask = 0 - static_cast<uint64_t>(entry.is_free());
    return Agg{entry.size() & free_mask, owner_bit(entry.owner()) & ~static_cast<uint32_t>(free_mask)};
  }
  static Agg combine(const Agg& a, const Agg& b) {
    return Agg{a.max_free > b.max_free ? a.max_free : b.max_free, a.owner_mask | b.owner_mask};
  }
};

class VaAllocator {
 public:
  using Tree = BTree<VaTreeTraits>;
  // Used ranges held inline before the tree takes over (9 KiB). Up to there a first fit that
  // scans the array and edits that move the entries after them with one memmove cost less than
  // the tree's descents and node upkeep, even for a scan that must go to the end (map_shared's 16
  // pages among 100 mappings).
  static constexpr uint32_t kFlatCapacity = 384;
  // A tree of this many entries (free and used) moves back into the array (a quarter, so a size
  // near the line cannot make every call move the ranges).
  static constexpr uint32_t kFlatReturn = kFlatCapacity / 4;
  using Flat = FlatMap<VaTreeTraits, kFlatCapacity>;

  // Bytes of pool per range: the worst case is Tree::max_blocks(n) blocks of 512 bytes for n
  // entries (at most n / 6 of them) plus 63 bytes of alignment; 88 covers it for every n (checked
  // by static_assert up to 4096 and by the ratio beyond).
  static constexpr size_t kNodeBytes = 88;

  // Storage for one range. Opaque: the caller only provides storage for these.
  using Node = PoolStorageUnit<kNodeBytes>;

  // Worst-case pool size for `used_ranges` live ranges: each used range plus a free gap around
  // every one of them.
  static constexpr size_t nodes_needed(size_t used_ranges) { return 2 * used_ranges + 1; }

  VaAllocator() = default;
  VaAllocator(const VaAllocator&) = delete;
  VaAllocator& operator=(const VaAllocator&) = delete;

  // Manages [base, base + size) with `node_count` nodes at `nodes` (which must outlive this).
  // Forgets any previous window. Errors: kZeroSize, kMisaligned (base or size not page aligned),
  // kAddressOverflow (the window wraps), kOutOfMemory (no node at all).
  Status init(VirtAddr base, Size size, Node* nodes, size_t node_count);

  // First fit, lowest address; see va_allocator.cpp for the exact guarantee with alignment.
  // Errors: kZeroSize, kMisaligned (size not page aligned), kInvalidArgument (bad alignment or
  // kind), kNoVirtualSpace, kOutOfMemory.
  Result<VirtAddr> allocate(Size size, const AllocationRequest& request);

  // Reserves exactly [start, start + size) (plus the guard page). Errors as allocate, plus
  // kMisaligned (start not aligned to the request), kAddressOverflow (the range wraps),
  // kInvalidArgument (not inside the window), kOverlap (some part is already reserved).
  Result<VirtAddr> allocate_at(VirtAddr start, Size size, const AllocationRequest& request);

  // Releases the used range starting at `start` (and its guard page). Error: kNotFound.
  Status free(VirtAddr start);

  // Releases every range of `owner`; returns how many. While the ranges are few enough for the
  // inline array, in one sweep of it. When the owner holds a fair share of the ranges
  // (prefers_one_pass), in one pass over the allocator: O(n). Otherwise one at a time,
  // O(k log n) while live owners differ modulo 32 (degrading towards a scan of colliding owners'
  // ranges), turning to the one pass once it has released a 64th of the ranges.
  size_t free_all_of(GuestId owner);

  // Whether one pass over every range is the cheaper way to release `owner`'s: always while the
  // ranges are in the inline array (a sweep of at most kFlatCapacity entries); in the tree, when
  // ranges of owners sharing its aggregate bit lie in at least a 64th as many leaves as there are
  // ranges (about a quarter of the leaves). Costs O(n / B^2) node reads at most, and never reads a
  // leaf.
  bool prefers_one_pass(GuestId owner) const;

  // Releases every range of `owner` in one pass, as free_all_of's one pass: release(const
  // VaRange&) is asked first for each of them, and a range it answers false for stays as it was
  // (the caller could not unmap it). Returns how many were released. O(n + blocks).
  template <typename Release>
  size_t release_all_of(GuestId owner, Release&& release);

  // Teardown a span at a time. A span starts at the first used range of `owner` (with the free
  // range before it, if any) and runs on over every entry that is free or `owner`'s, stopping at
  // another owner's range or after `budget` of `owner`'s ranges. plan_span_of only looks: it says
  // where the span's used ranges lie ([first, last) of the VA they cover) and how many there are, so
  // the caller can unmap them with one table call. release_span_of then frees exactly that span,
  // from its last entry back (so no erase shifts its leaf):
  // visit(const VaRange&) for each used range, one erase each, and a single free range in place of
  // the whole span. O(log n + k) for k ranges, against O(k log n) for freeing them one by one.
  // A span that went stale since it was planned releases only what is still the owner's: nothing
  // unless its last range still ends it, and never past another owner's range.
  struct OwnerSpan {
    VirtAddr first;
    VirtAddr last;
    size_t ranges = 0;
  };
  OwnerSpan plan_span_of(GuestId owner, size_t budget) const;
  template <typename Visitor>
  size_t release_span_of(GuestId owner, const OwnerSpan& span, Visitor&& visit);

  // The first used range of `owner` that starts at or above `from`: O(log n) while live owners
  // differ modulo 32 (the same aggregate free_all_of descends by). Error: kNotFound.
  Result<VaRange> first_of(GuestId owner, VirtAddr from) const;

  // Replaces the backing tag of the used range starting at `start` (e.g. a reference count).
  // Error: kNotFound.
  Status set_backing(VirtAddr start, uint64_t backing);
  // The used range whose usable part contains `address` (a guard page is not part of it).
  Result<VaRange> find(VirtAddr address) const;

  // Calls visit(const VaRange&) for each used range in address order.
  template <typename Visitor>
  void for_each_used(Visitor&& visit) const {
    auto visit_used = [&](uint64_t start, const VaEntry& entry) {
      if (!entry.is_free()) visit(range_of(start, entry));
    };
    if (small_) {
      flat_.for_each(visit_used);
    } else {
      tree_.for_each(visit_used);
    }
  }

  VaStats stats() const;
  bool uses_tree() const { return !small_; }  // false while the ranges fit the inline array
  VirtAddr base() const { return base_; }
  Size window_size() const { return window_; }

  // Checks the store: the tree (order, balance, aggregates, the ranges tiling the window with free
  // ranges coalesced) or the array (used ranges in order, apart, inside the window, the gap count
  // kept), and the node and byte accounting. O(n + pool).
  bool audit() const;

 private:
  // Where an allocation goes in the tree: the free range that will hold it, and where in it.
  struct Placement {
    bool found = false;
    uint64_t block_start = 0;
    uint64_t block_end = 0;
    uint64_t start = 0;
    Tree::Cursor at;  // the block's entry, so carving needs no second search
  };

  static VaRange range_of(uint64_t start, const VaEntry& entry);
  static Status check_request(Size size, const AllocationRequest& request);
  static VaEntry used_entry(uint64_t span, const AllocationRequest& request) {
    const uint8_t guard = request.guard_page ? VaEntry::kGuardFlag : 0;
    return VaEntry::used_range(span, request.owner.value,
                               static_cast<uint8_t>(static_cast<uint8_t>(request.kind) | guard), request.backing);
  }

  // The tree's side.
  Placement lowest_fit(uint64_t span, uint64_t alignment) const;
  Placement exact_first_fit(uint64_t span, uint64_t alignment) const;
  Result<VirtAddr> allocate_in_tree(uint64_t span, const AllocationRequest& request);
  Result<VirtAddr> allocate_at_in_tree(uint64_t start, uint64_t span, const AllocationRequest& request);
  bool used_range_at(uint64_t start, Tree::Cursor* at) const;
  Result<VirtAddr> carve(Placement& where, uint64_t span, const AllocationRequest& request);
  void release_range(Tree::Cursor& at);
  bool first_used_of(GuestId owner, Tree::Cursor* at) const;
  OwnerSpan plan_span_in_tree(GuestId owner, size_t budget) const;
  bool audit_tiling() const;
  template <typename Release>
  size_t release_all_in_one_pass(GuestId owner, Release& release);
  template <typename Visitor>
  size_t release_span_in_tree(GuestId owner, const OwnerSpan& span, Visitor& visit);
  // Whether the range is still the last of the span (it may be stale): else nothing is released.
  static bool ends_span(uint64_t start, const VaEntry& entry, GuestId owner, const OwnerSpan& span) {
    return !entry.is_free() && entry.owner() == owner.value && start + entry.size() == span.last.value;
  }

  // The array's side (va_allocator_array.cpp): used ranges only, gap i lying before used range i
  // (gap size() after the last). A gap may be empty; free_gaps_ counts the others, which are the
  // free ranges the tree would hold.
  uint64_t window_end() const { return base_.value + window_.bytes; }
  uint64_t end_in_array(uint32_t index) const {
    return flat_.key(Flat::Cursor{index}) + flat_.value(Flat::Cursor{index}).size();
  }
  uint64_t gap_start(uint32_t gap) const { return gap == 0 ? base_.value : end_in_array(gap - 1); }
  uint64_t gap_end(uint32_t gap) const { return gap < flat_.size() ? flat_.key(Flat::Cursor{gap}) : window_end(); }
  // The non-empty gaps among gaps first..last (inclusive).
  uint32_t count_free_gaps(uint32_t first, uint32_t last) const;
  Result<VirtAddr> allocate_in_array(uint64_t span, const AllocationRequest& request);
  Result<VirtAddr> allocate_at_in_array(uint64_t start, uint64_t span, const AllocationRequest& request);
  Result<VirtAddr> carve_in_array(uint32_t gap, uint64_t low, uint64_t high, uint64_t start, uint64_t span,
                                  const AllocationRequest& request);
  bool index_in_array(uint64_t start, uint32_t* index) const;
  bool free_in_array(uint64_t start);
  OwnerSpan plan_span_in_array(GuestId owner, size_t budget) const;
  bool audit_array() const;
  template <typename Release>
  size_t release_all_in_array(GuestId owner, Release& release);
  template <typename Visitor>
  size_t release_span_in_array(GuestId owner, const OwnerSpan& span, Visitor& visit);

  // The tree takes over when a carve finds the array full (before it changes anything); the array
  // takes back a tree that has shrunk to a quarter of its capacity. Both keep every range as it was.
  void settle();
  // What a release pass has done so far, and, in the tree, the free range it is building: the next
  // free or released entry joins that range while it is open (the last entry output), else starts
  // one. The array's sweep only counts (its free space is gaps: a released range just goes).
  struct ReleasePass {
    size_t released = 0;
    uint64_t bytes_released = 0;
    bool open = false;
    uint64_t bytes = 0;
    // Whether the entry becomes free space: a free one does, a used one when release() lets it go.
    template <typename Release>
    bool frees(uint64_t start, const VaEntry& entry, Release& release) {
      if (entry.is_free()) return true;
      if (!release(range_of(start, entry))) return false;
      bytes_released += entry.size();
      ++released;
      return true;
    }
    template <typename Out>
    void join(uint64_t start, uint64_t size, Out& out) {
      if (open) {
        bytes += size;
        out.amend_last(VaEntry::free_range(bytes));
      } else {
        bytes = size;
        (void)out.put(start, VaEntry::free_range(bytes));
        open = true;
      }
    }
  };
  size_t account(const ReleasePass& pass) {
    bytes_in_use_ -= pass.bytes_released;
    used_ranges_ -= pass.released;
    return pass.released;
  }
  static constexpr size_t kOnePassShare = 64;
  void move_to_tree();
  void move_to_flat();

  // Entries the tree holds, or would hold for the array's ranges (a used range or a free gap each).
  size_t entries() const { return small_ ? used_ranges_ + free_gaps_ : tree_.size(); }
  size_t available_nodes() const { return capacity_ - entries(); }

  Flat flat_;
  Tree tree_;
  BlockPool pool_;
  Node* nodes_ = nullptr;
  VirtAddr base_;
  Size window_;
  uint64_t bytes_in_use_ = 0;
  size_t used_ranges_ = 0;
  size_t free_gaps_ = 0;  // while small_: the gaps that are not empty
  size_t capacity_ = 0;   // ranges the pool may hold (node_count)
  bool small_ = true;     // the ranges live in flat_ (else in tree_)
  bool initialised_ = false;
};

template <typename Visitor>
size_t VaAllocator::release_span_of(GuestId owner, const OwnerSpan& span, Visitor&& visit) {
  if (!initialised_ || span.ranges == 0) return 0;
  if (small_) return release_span_in_array(owner, span, visit);
  const size_t released = release_span_in_tree(owner, span, visit);
  settle();
  return released;
}

template <typename Visitor>
size_t VaAllocator::release_span_in_tree(GuestId owner, const OwnerSpan& span, Visitor& visit) {
  Tree::Cursor at;
  if (!tree_.find_le(span.last.value - 1, &at) || !ends_span(tree_.key(at), tree_.value(at), owner, span)) return 0;
  // Erased from the last entry back, each erase takes its leaf's last entry: nothing shifts.
  uint64_t span_end = span.last.value;
  auto after = at;
  if (tree_.next(&after) && tree_.value(after).is_free()) {
    at = after;
    span_end = tree_.key(after) + tree_.value(after).size();
  }
  uint64_t span_start = span_end;
  size_t count = 0;
  for (bool more = true; more;) {
    const uint64_t key = tree_.key(at);
    const VaEntry entry = tree_.value(at);
    const bool mine = !entry.is_free() && entry.owner() == owner.value;
    if (!entry.is_free() && !mine) break;  // before the span: another owner's range
    if (key < span.first.value && mine) break;
    if (mine) {
      visit(range_of(key, entry));
      bytes_in_use_ -= entry.size();
      --used_ranges_;
      ++count;
    }
    span_start = key;
    const bool rebalanced = tree_.erase(at);
    // The free range before the first used one joins the span, and ends it.
    more = key > span.first.value || (key == span.first.value && key > base_.value);
    if (more) more = rebalanced ? tree_.find_le(key - 1, &at) : tree_.prev(&at);
    if (more && key <= span.first.value) {
      if (!tree_.value(at).is_free()) break;
      span_start = tree_.key(at);
      (void)tree_.erase(at);
      break;
    }
  }
  // The span's entries came out, so there is room (a block, or a slot) for this one.
  (void)tree_.insert(span_start, VaEntry::free_range(span_end - span_start));
  return count;
}

// In the array the span is a run of `owner`'s entries (the free space between them is gaps):
// visited from the last back, then erased with one move of the entries after them.
template <typename Visitor>
size_t VaAllocator::release_span_in_array(GuestId owner, const OwnerSpan& span, Visitor& visit) {
  Flat::Cursor at;
  if (!flat_.find_le(span.last.value - 1, &at) || !ends_span(flat_.key(at), flat_.value(at), owner, span)) return 0;
  const uint32_t end = at.index + 1;
  uint32_t first = end;
  for (; first > 0; --first) {
    const Flat::Cursor before{first - 1};
    if (flat_.value(before).owner() != owner.value || flat_.key(before) < span.first.value) break;
  }
  for (uint32_t i = end; i > first; --i) {
    const Flat::Cursor range{i - 1};
    visit(range_of(flat_.key(range), flat_.value(range)));
    bytes_in_use_ -= flat_.value(range).size();
  }
  // Gaps first..end, those about the ranges going, become one (not empty: ranges went).
  free_gaps_ = free_gaps_ + 1 - count_free_gaps(first, end);
  used_ranges_ -= end - first;
  (void)flat_.replace(Flat::Cursor{first}, end - first, nullptr, nullptr, 0);
  return end - first;
}

template <typename Release>
size_t VaAllocator::release_all_of(GuestId owner, Release&& release) {
  if (!initialised_) return 0;
  if (small_) return release_all_in_array(owner, release);
  const size_t released = release_all_in_one_pass(owner, release);
  settle();
  return released;
}

// The array's pass: the owner's ranges that release() lets go are dropped and the others close up,
// in one sweep (FlatMap::keep_if), where releasing them one by one would move the entries after
// each of them.
template <typename Release>
size_t VaAllocator::release_all_in_array(GuestId owner, Release& release) {
  ReleasePass pass;
  uint64_t kept_end = base_.value;  // of the last range kept: the gaps are counted as they close
  size_t gaps = 0;
  flat_.keep_if([&](uint64_t start, const VaEntry& entry) {
    if (entry.owner() == owner.value && pass.frees(start, entry, release)) return false;
    gaps += start > kept_end ? 1 : 0;
    kept_end = start + entry.size();
    return true;
  });
  free_gaps_ = gaps + (window_end() > kept_end ? 1 : 0);
  return account(pass);
}

// Every range of `owner` that release() lets go becomes free space, merged with the free ranges
// around it, in one pass that edits each leaf in place: runs of other entries are kept where they
// are, and a free run is put once and then amended as it grows, so only what changes is written.
template <typename Release>
size_t VaAllocator::release_all_in_one_pass(GuestId owner, Release& release) {
  ReleasePass pass;
  tree_.edit_leaves([&](const uint64_t* starts, const VaEntry* entries, uint32_t count, auto& out) {
    for (uint32_t i = 0; i < count; ++i) {
      uint32_t end = i;
      VaAggregate kept;  // of the run of other owners' ranges, summed as the scan reads them
      for (; end < count && !entries[end].is_free() && entries[end].owner() != owner.value; ++end)
        kept.owner_mask |= VaTreeTraits::owner_bit(entries[end].owner());
      if (end > i) {  // kept as they are
        out.keep(i, end - i, kept);
        pass.open = false;
        i = end;
        if (i == count) break;
      }
      const uint64_t start = starts[i];  // read before the output can reach slot i
      const VaEntry entry = entries[i];
      if (pass.frees(start, entry, release)) {
        pass.join(start, entry.size(), out);
      } else {
        out.keep(i, 1);
        pass.open = false;
      }
    }
  });
  return account(pass);
}

// Static storage for an allocator's node pool, for freestanding callers and tests.
template <size_t N>
struct VaAllocatorStorage {
  VaAllocator::Node nodes[N];
  static constexpr size_t kCount = N;
};

}  // namespace teemm::mm
