// mm/pa_index: the live runs (a physically contiguous range mapped at a virtual address) indexed
// both ways, so phys_to_virt and virt_to_phys are O(log n).
//
// Owns two AVL trees over the same caller-pooled nodes. The VA tree is ordered by VA; runs never
// overlap there. The PA tree is ordered by (type, PA, VA) - one PA may be mapped at several VAs,
// even as several types - and is augmented, interval-tree style, with the largest (type, end) in
// each subtree. Keeping the type in front of both the key and the aggregate confines a search to
// one type's runs, so "the run of type T covering [pa, pa + size)" is one O(log n) descent even
// when runs of other types overlap it. Which run answers when several cover: the lowest PA start,
// then the lowest VA.
//
// Not thread-safe: the owner of the address space serialises calls.
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/address.hpp"
#include "base/guest_id.hpp"
#include "base/intrusive_tree.hpp"
#include "base/result.hpp"
#include "mm/memory_type.hpp"

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
};

struct PaTreePolicy;
struct VaTreeOfRunsPolicy;

class PaIndex {
 public:
  // One run. Opaque: the caller only provides storage for these.
  class Node {
   public:
    Node() = default;

   private:
    friend class PaIndex;
    friend struct PaTreePolicy;
    friend struct VaTreeOfRunsPolicy;

    // The type sits above the 48 address bits so one comparison orders by (type, address).
    static constexpr unsigned kTypeShift = 56;
    static_assert(kMaxAddressBits < kTypeShift, "PA ends (up to kAddressLimit) sit below the type");
    static_assert(kMemoryTypeCount <= (uint64_t{1} << (64 - kTypeShift)));
    uint64_t typed_pa() const { return (uint64_t{type_} << kTypeShift) | pa_; }
    uint64_t typed_pa_end() const { return (uint64_t{type_} << kTypeShift) | (pa_ + size_); }
    uint64_t va_end() const { return va_ + size_; }

    TreeLink<Node> by_pa_;  // also the pool's free-list link (parent) while unused
    TreeLink<Node> by_va_;
    uint64_t pa_ = 0;
    uint64_t va_ = 0;
    uint64_t size_ = 0;
    uint64_t max_typed_end_ = 0;  // PA-tree aggregate: largest typed_pa_end() in the subtree
    uint16_t owner_ = 0;
    uint8_t type_ = 0;
    uint8_t pa_height_ = 0;
    uint8_t va_height_ = 0;
  };

  PaIndex() = default;
  PaIndex(const PaIndex&) = delete;
  PaIndex& operator=(const PaIndex&) = delete;

  // Uses `node_count` nodes at `nodes` (which must outlive this); forgets any previous runs.
  // Error: kInvalidArgument (nodes is null while node_count is not zero).
  Status init(Node* nodes, size_t node_count);

  // Adds a run. Errors: kZeroSize, kMisaligned (pa, va or size not page aligned),
  // kInvalidArgument (unknown type), kAddressOverflow (the VA range wraps or the PA range passes
  // kAddressLimit), kOverlap (its VA range meets another run's), kOutOfMemory.
  Status insert(const PhysRun& run);

  // Removes the run starting at `va`. Error: kNotFound.
  Status remove(VirtAddr va);

  // The VA of `pa` when [pa, pa + size) lies wholly in one run of `type` (a zero size asks about
  // the byte at pa). Errors: kInvalidArgument (unknown type), kNotFound.
  Result<VirtAddr> phys_to_virt(PhysAddr pa, Size size, MemoryType type) const;

  // The PA mapped at `va`. Error: kNotFound.
  Result<PhysAddr> virt_to_phys(VirtAddr va) const;

  // The run containing `va`. Error: kNotFound.
  Result<PhysRun> find_by_va(VirtAddr va) const;

  // Calls visit(const PhysRun&) for each run in VA order.
  template <typename Visitor>
  void for_each(Visitor&& visit) const {
    by_va_.for_each([&](const Node& node) { visit(run_of(node)); });
  }

  PaIndexStats stats() const;

  // Checks both trees (order, balance, aggregates), that they hold the same nodes, that VA ranges
  // are disjoint, and the pool accounting. O(n + pool).
  bool audit() const;

 private:
  using PaTree = IntrusiveTree<Node, PaTreePolicy>;
  using VaTree = IntrusiveTree<Node, VaTreeOfRunsPolicy>;

  static PhysRun run_of(const Node& node);
  static Status check_run(const PhysRun& run);
  const Node* run_containing(uint64_t va) const;
  const Node* lowest_covering(uint64_t typed_start, uint64_t typed_end) const;

  Node* take_node();
  void give_back(Node* node);
  bool audit_runs() const;
  bool audit_pool() const;

  PaTree by_pa_;
  VaTree by_va_;
  Node* nodes_ = nullptr;
  size_t capacity_ = 0;
  size_t nodes_in_use_ = 0;
  size_t never_used_from_ = 0;  // nodes at or above this index were never handed out
  Node* free_list_ = nullptr;   // released nodes, linked through by_pa_.parent
};

struct PaTreePolicy {
  using Node = PaIndex::Node;
  static TreeLink<Node>& link(Node& node) { return node.by_pa_; }
  static const TreeLink<Node>& link(const Node& node) { return node.by_pa_; }
  static uint8_t& height(Node& node) { return node.pa_height_; }
  static uint8_t height(const Node& node) { return node.pa_height_; }
  static bool less(const Node& a, const Node& b) {
    return a.typed_pa() != b.typed_pa() ? a.typed_pa() < b.typed_pa() : a.va_ < b.va_;
  }
  static uint64_t max_end_of(const Node* node) { return node ? node->max_typed_end_ : 0; }
  static uint64_t aggregate(const Node& node) {
    uint64_t largest = node.typed_pa_end();
    const uint64_t left = max_end_of(node.by_pa_.left);
    const uint64_t right = max_end_of(node.by_pa_.right);
    if (left > largest) largest = left;
    if (right > largest) largest = right;
    return largest;
  }
  static bool update(Node& node) {
    const uint64_t fresh = aggregate(node);
    const bool changed = fresh != node.max_typed_end_;
    node.max_typed_end_ = fresh;
    return changed;
  }
  static bool augmentation_ok(const Node& node) { return aggregate(node) == node.max_typed_end_; }
};

struct VaTreeOfRunsPolicy {
  using Node = PaIndex::Node;
  static TreeLink<Node>& link(Node& node) { return node.by_va_; }
  static const TreeLink<Node>& link(const Node& node) { return node.by_va_; }
  static uint8_t& height(Node& node) { return node.va_height_; }
  static uint8_t height(const Node& node) { return node.va_height_; }
  static bool less(const Node& a, const Node& b) { return a.va_ < b.va_; }
  static bool update(Node&) { return false; }  // no aggregate
  static bool augmentation_ok(const Node&) { return true; }
};

// Static storage for a PA index's node pool, for freestanding callers and tests.
template <size_t N>
struct PaIndexStorage {
  PaIndex::Node nodes[N];
  static constexpr size_t kCount = N;
};

}  // namespace teemm::mm
