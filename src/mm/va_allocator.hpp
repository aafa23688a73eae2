// mm/va_allocator: the O(log n) allocator of one virtual-address window (a dynamic SHM or IO
// reservation), in the manner of Linux's vmalloc.
//
// Owns the partition of the window into free and used ranges. Every range, free or used, is one
// node of a single AVL tree ordered by address; together they tile the window exactly, and no two
// free ranges touch (they are coalesced). Each node carries two aggregates over its subtree: the
// largest free range (guides first-fit descents) and a 32-bit mask of the owners of used ranges
// (guides guest teardown). Linux keeps free and used ranges in two trees; one tree of both makes a
// used range's free neighbours its in-order neighbours, so free() needs no second search.
//
// Nodes come from a caller-sized pool. A window holding n used ranges needs at most 2n + 1 nodes
// (see nodes_needed); running out is Error::kOutOfMemory and changes nothing.
//
// Not thread-safe: the owner of the address space serialises calls (one lock per allocator).
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/address.hpp"
#include "base/guest_id.hpp"
#include "base/intrusive_tree.hpp"
#include "base/result.hpp"

namespace teemm::mm {

// What a used range is for; the allocator only records it.
enum class VaRangeKind : uint8_t {
  kSharedMemory,  // a normal-world buffer (dynamic SHM)
  kDeviceIo,      // device registers (ioremap)
  kOther,
};
inline constexpr unsigned kVaRangeKindCount = 3;

constexpr const char* va_range_kind_name(VaRangeKind kind) {
  switch (kind) {
    case VaRangeKind::kSharedMemory: return "shm";
    case VaRangeKind::kDeviceIo: return "io";
    case VaRangeKind::kOther: return "other";
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
  Size largest_free;  // the largest free range (an upper bound on what allocate can give)
};

struct VaTreePolicy;

class VaAllocator {
 public:
  // One range of the window. Opaque: the caller only provides storage for these.
  class Node {
   public:
    Node() = default;

   private:
    friend class VaAllocator;
    friend struct VaTreePolicy;

    static constexpr uint8_t kKindMask = 0x0f;
    static constexpr uint8_t kGuardFlag = 0x10;
    static constexpr uint8_t kFreeFlag = 0x20;

    bool is_free() const { return (flags_ & kFreeFlag) != 0; }
    bool has_guard() const { return (flags_ & kGuardFlag) != 0; }
    VaRangeKind kind() const { return static_cast<VaRangeKind>(flags_ & kKindMask); }
    uint64_t end() const { return start_ + size_; }

    // Kept to one 64-byte cache line: descents touch one line per level.
    TreeLink<Node> link_;  // also the pool's free-list link (parent) while unused
    uint64_t start_ = 0;
    uint64_t size_ = 0;      // the whole reservation: usable bytes plus the guard page
    uint64_t max_free_ = 0;  // subtree aggregate: largest free size
    uint64_t backing_ = 0;
    uint32_t owner_mask_ = 0;  // subtree aggregate: bit (owner % 32) of every used range
    uint16_t owner_ = 0;
    uint8_t height_ = 0;
    uint8_t flags_ = 0;
  };

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

  // Releases every range of `owner`; returns how many. O(k log n) while live owners differ
  // modulo 32, degrading towards a scan of colliding owners' ranges otherwise.
  size_t free_all_of(GuestId owner);

  // Replaces the backing tag of the used range starting at `start` (e.g. a reference count).
  // Error: kNotFound.
  Status set_backing(VirtAddr start, uint64_t backing);
  // The used range whose usable part contains `address` (a guard page is not part of it).
  Result<VaRange> find(VirtAddr address) const;

  // Calls visit(const VaRange&) for each used range in address order.
  template <typename Visitor>
  void for_each_used(Visitor&& visit) const {
    tree_.for_each([&](const Node& node) {
      if (!node.is_free()) visit(range_of(node));
    });
  }

  VaStats stats() const;
  VirtAddr base() const { return base_; }
  Size window_size() const { return window_; }

  // Checks the tree (order, balance, aggregates), that the ranges tile the window with free
  // ranges coalesced, and the node and byte accounting. O(n + pool).
  bool audit() const;

 private:
  using Tree = IntrusiveTree<Node, VaTreePolicy>;

  struct Placement {
    Node* block = nullptr;  // the free range that will hold the allocation
    uint64_t start = 0;     // where in it
  };

  static VaRange range_of(const Node& node);
  static Status check_request(Size size, const AllocationRequest& request);

  Placement lowest_fit(uint64_t span, uint64_t alignment) const;
  Placement exact_first_fit(uint64_t span, uint64_t alignment) const;
  Node* node_at_or_before(uint64_t address) const;
  Node* first_used_of(GuestId owner) const;
  Result<VirtAddr> carve(Placement where, uint64_t span, const AllocationRequest& request);
  void release_range(Node* used);

  size_t available_nodes() const { return capacity_ - nodes_in_use_; }
  Node* take_node();
  void give_back(Node* node);
  bool audit_tiling() const;
  bool audit_pool() const;

  Tree tree_;
  VirtAddr base_;
  Size window_;
  uint64_t bytes_in_use_ = 0;
  size_t used_ranges_ = 0;

  Node* nodes_ = nullptr;
  size_t capacity_ = 0;
  size_t nodes_in_use_ = 0;
  size_t never_used_from_ = 0;  // nodes at or above this index were never handed out
  Node* free_list_ = nullptr;   // released nodes, linked through link_.parent
};

// How the allocator's tree reaches and aggregates its nodes.
struct VaTreePolicy {
  using Node = VaAllocator::Node;
  static TreeLink<Node>& link(Node& node) { return node.link_; }
  static const TreeLink<Node>& link(const Node& node) { return node.link_; }
  static uint8_t& height(Node& node) { return node.height_; }
  static uint8_t height(const Node& node) { return node.height_; }
  static bool less(const Node& a, const Node& b) { return a.start_ < b.start_; }

  static uint32_t owner_bit(uint16_t owner) { return uint32_t{1} << (owner % 32); }
  static uint64_t max_free_of(const Node* node) { return node ? node->max_free_ : 0; }
  static uint32_t owner_mask_of(const Node* node) { return node ? node->owner_mask_ : 0; }

  static void aggregate(const Node& node, uint64_t* max_free, uint32_t* owner_mask) {
    uint64_t largest = node.is_free() ? node.size_ : 0;
    const uint64_t left = max_free_of(node.link_.left);
    const uint64_t right = max_free_of(node.link_.right);
    if (left > largest) largest = left;
    if (right > largest) largest = right;
    *max_free = largest;
    *owner_mask = (node.is_free() ? 0 : owner_bit(node.owner_)) | owner_mask_of(node.link_.left) |
                  owner_mask_of(node.link_.right);
  }
  static bool update(Node& node) {
    uint64_t max_free = 0;
    uint32_t owner_mask = 0;
    aggregate(node, &max_free, &owner_mask);
    const bool changed = max_free != node.max_free_ || owner_mask != node.owner_mask_;
    node.max_free_ = max_free;
    node.owner_mask_ = owner_mask;
    return changed;
  }
  static bool augmentation_ok(const Node& node) {
    uint64_t max_free = 0;
    uint32_t owner_mask = 0;
    aggregate(node, &max_free, &owner_mask);
    return max_free == node.max_free_ && owner_mask == node.owner_mask_;
  }
};

// Static storage for an allocator's node pool, for freestanding callers and tests.
template <size_t N>
struct VaAllocatorStorage {
  VaAllocator::Node nodes[N];
  static constexpr size_t kCount = N;
};

}  // namespace teemm::mm
