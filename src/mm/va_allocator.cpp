// mm/va_allocator: first-fit search, carving, coalescing and the audit of the VA allocator.
//
// First fit with alignment. A free range of `size` bytes whose start is page aligned surely holds
// an aligned slot of `span` bytes when size >= span + alignment - kPageSize (the worst start wastes
// alignment - kPageSize bytes). The descent looks for the lowest range passing that conservative
// test, guided by the subtree maxima, so it is O(log n). On the way down, every free range it
// passes on its left (lower than anything it could still reach) is also checked exactly and taken
// when it fits. The result is therefore never above the lowest range of size >= span + alignment -
// kPageSize; with page alignment (the common case) that test is exact and the result is the true
// first fit. Where it deviates: with larger alignment, a lower range smaller than that bound which
// happens to hold an aligned slot is skipped unless the descent passes over it. Only when no range
// passes the conservative test does a pruned in-order scan look for the true first exact fit, so
// an allocation is refused only when nothing fits; that scan costs O((k + 1) log n), k being the
// ranges of size in [span, span + alignment - kPageSize), and runs only near exhaustion.
#include "mm/va_allocator.hpp"

#include <limits>

namespace teemm::mm {
namespace {

constexpr uint64_t kMaxU64 = std::numeric_limits<uint64_t>::max();

constexpr bool is_power_of_two(uint64_t value) { return value != 0 && (value & (value - 1)) == 0; }

constexpr uint64_t saturating_add(uint64_t a, uint64_t b) { return a > kMaxU64 - b ? kMaxU64 : a + b; }

// Where an aligned slot of `span` bytes starts in the free range [start, end), or false if none.
bool aligned_slot(uint64_t start, uint64_t end, uint64_t span, uint64_t alignment, uint64_t* slot) {
  const uint64_t misalignment = start & (alignment - 1);
  const uint64_t skip = misalignment ? alignment - misalignment : 0;
  if (skip > end - start) return false;
  const uint64_t aligned = start + skip;
  if (span > end - aligned) return false;
  *slot = aligned;
  return true;
}

// The first node in order that satisfies `matches`, visiting only subtrees `may_contain` admits.
template <typename Node, typename Tree, typename MayContain, typename Matches>
Node* first_in_order(const Tree& tree, MayContain may_contain, Matches matches) {
  Node* node = tree.root();
  if (!node || !may_contain(*node)) return nullptr;
  auto descend_left = [&](Node* from) {
    while (Tree::left(from) && may_contain(*Tree::left(from))) from = Tree::left(from);
    return from;
  };
  node = descend_left(node);
  while (node) {
    if (matches(*node)) return node;
    if (Tree::right(node) && may_contain(*Tree::right(node))) {
      node = descend_left(Tree::right(node));
      continue;
    }
    // Climb to the first ancestor reached from its left: it is next in order, and its subtree
    // was admitted when we entered it.
    Node* child = node;
    node = Tree::parent(node);
    while (node && Tree::right(node) == child) {
      child = node;
      node = Tree::parent(node);
    }
  }
  return nullptr;
}

}  // namespace

static_assert(sizeof(VaAllocator::Node) <= 64, "a node should fit one cache line");

Status VaAllocator::init(VirtAddr base, Size size, Node* nodes, size_t node_count) {
  if (size.is_zero()) return Error::kZeroSize;
  if (!base.is_page_aligned() || !size.is_page_aligned()) return Error::kMisaligned;
  if (size.bytes > kMaxU64 - base.value) return Error::kAddressOverflow;
  if (!nodes || node_count == 0) return Error::kOutOfMemory;

  tree_.reset();
  base_ = base;
  window_ = size;
  bytes_in_use_ = 0;
  used_ranges_ = 0;
  nodes_ = nodes;
  capacity_ = node_count;
  nodes_in_use_ = 0;
  never_used_from_ = 0;
  free_list_ = nullptr;

  Node* whole = take_node();
  whole->start_ = base.value;
  whole->size_ = size.bytes;
  whole->flags_ = Node::kFreeFlag;
  tree_.insert(whole);
  return Status();
}

Status VaAllocator::check_request(Size size, const AllocationRequest& request) {
  if (size.is_zero()) return Error::kZeroSize;
  if (!size.is_page_aligned()) return Error::kMisaligned;
  if (!is_power_of_two(request.alignment) || request.alignment < kPageSize) {
    return Error::kInvalidArgument;
  }
  if (static_cast<unsigned>(request.kind) >= kVaRangeKindCount) return Error::kInvalidArgument;
  return Status();
}

Result<VirtAddr> VaAllocator::allocate(Size size, const AllocationRequest& request) {
  if (Status valid = check_request(size, request); !valid) return valid.error();
  const uint64_t guard = request.guard_page ? kPageSize : 0;
  if (size.bytes > window_.bytes - guard) return Error::kNoVirtualSpace;
  const uint64_t span = size.bytes + guard;

  Placement where = lowest_fit(span, request.alignment);
  if (!where.block) where = exact_first_fit(span, request.alignment);
  if (!where.block) return Error::kNoVirtualSpace;
  return carve(where, span, request);
}

Result<VirtAddr> VaAllocator::allocate_at(VirtAddr start, Size size, const AllocationRequest& request) {
  if (Status valid = check_request(size, request); !valid) return valid.error();
  if (!start.is_aligned(request.alignment)) return Error::kMisaligned;
  const uint64_t span = size.bytes + (request.guard_page ? kPageSize : 0);
  if (span < size.bytes || span > kMaxU64 - start.value) return Error::kAddressOverflow;
  const uint64_t window_end = base_.value + window_.bytes;
  if (start < base_ || start.value + span > window_end) return Error::kInvalidArgument;

  Node* block = node_at_or_before(start.value);
  if (!block || !block->is_free() || start.value + span > block->end()) return Error::kOverlap;
  return carve(Placement{block, start.value}, span, request);
}

VaAllocator::Placement VaAllocator::lowest_fit(uint64_t span, uint64_t alignment) const {
  // Any free range this long holds an aligned slot wherever its (page-aligned) start lies.
  const uint64_t surely_fits = saturating_add(span, alignment - kPageSize);
  Node* node = tree_.root();
  if (!node || node->max_free_ < surely_fits) return Placement{};
  // Invariant: the subtree at `node` holds a free range of at least `surely_fits` bytes.
  while (node) {
    Node* left = Tree::left(node);
    if (left && left->max_free_ >= surely_fits) {
      node = left;
      continue;
    }
    uint64_t slot = 0;
    if (node->is_free() && aligned_slot(node->start_, node->end(), span, alignment, &slot)) {
      return Placement{node, slot};
    }
    node = Tree::right(node);
  }
  return Placement{};  // unreachable while the aggregates are right
}

VaAllocator::Placement VaAllocator::exact_first_fit(uint64_t span, uint64_t alignment) const {
  uint64_t slot = 0;
  Node* block = first_in_order<Node>(
      tree_, [&](const Node& subtree) { return subtree.max_free_ >= span; },
      [&](const Node& node) {
        return node.is_free() && aligned_slot(node.start_, node.end(), span, alignment, &slot);
      });
  return block ? Placement{block, slot} : Placement{};
}

VaAllocator::Node* VaAllocator::node_at_or_before(uint64_t address) const {
  return tree_.last_where([address](const Node& node) { return node.start_ <= address; });
}

// Turns the free range `where.block` into the used range [where.start, +span), keeping whatever
// is left on either side as free ranges. The block's node becomes the used range's node, so
// exact fits need no new node and the worst case needs two.
Result<VirtAddr> VaAllocator::carve(Placement where, uint64_t span, const AllocationRequest& request) {
  Node* block = where.block;
  const uint64_t block_start = block->start_;
  const uint64_t block_end = block->end();
  const uint64_t used_end = where.start + span;
  const bool keeps_left = where.start > block_start;
  const bool keeps_right = used_end < block_end;
  const size_t needed = (keeps_left ? 1 : 0) + (keeps_right ? 1 : 0);
  if (available_nodes() < needed) return Error::kOutOfMemory;

  block->start_ = where.start;
  block->size_ = span;
  block->backing_ = request.backing;
  block->owner_ = request.owner.value;
  block->flags_ =
      static_cast<uint8_t>(static_cast<uint8_t>(request.kind) | (request.guard_page ? Node::kGuardFlag : 0));
  if (keeps_left) {
    Node* left = take_node();
    left->start_ = block_start;
    left->size_ = where.start - block_start;
    left->flags_ = Node::kFreeFlag;
    tree_.insert_before(block, left);
  }
  if (keeps_right) {
    Node* right = take_node();
    right->start_ = used_end;
    right->size_ = block_end - used_end;
    right->flags_ = Node::kFreeFlag;
    tree_.insert_after(block, right);
  }
  tree_.refresh(block);
  bytes_in_use_ += span;
  ++used_ranges_;
  return VirtAddr(where.start);
}

Status VaAllocator::free(VirtAddr start) {
  Node* used = node_at_or_before(start.value);
  if (!used || used->is_free() || used->start_ != start.value) return Error::kNotFound;
  release_range(used);
  return Status();
}

// Makes `used` free, absorbing free neighbours so free ranges stay coalesced. Needs no new node.
void VaAllocator::release_range(Node* used) {
  Node* before = Tree::prev(used);
  Node* after = Tree::next(used);
  if (before && !before->is_free()) before = nullptr;
  if (after && !after->is_free()) after = nullptr;

  bytes_in_use_ -= used->size_;
  --used_ranges_;
  const uint64_t merged_start = before ? before->start_ : used->start_;
  const uint64_t merged_end = after ? after->end() : used->end();
  used->start_ = merged_start;
  used->size_ = merged_end - merged_start;
  used->flags_ = Node::kFreeFlag;
  used->owner_ = 0;
  used->backing_ = 0;
  if (before) {
    tree_.erase(before);
    give_back(before);
  }
  if (after) {
    tree_.erase(after);
    give_back(after);
  }
  tree_.refresh(used);
}

VaAllocator::Node* VaAllocator::first_used_of(GuestId owner) const {
  const uint32_t bit = VaTreePolicy::owner_bit(owner.value);
  return first_in_order<Node>(
      tree_, [bit](const Node& subtree) { return (subtree.owner_mask_ & bit) != 0; },
      [owner](const Node& node) { return !node.is_free() && node.owner_ == owner.value; });
}

size_t VaAllocator::free_all_of(GuestId owner) {
  size_t released = 0;
  while (Node* used = first_used_of(owner)) {
    release_range(used);
    ++released;
  }
  return released;
}

Result<VaRange> VaAllocator::find(VirtAddr address) const {
  const Node* node = node_at_or_before(address.value);
  if (!node || node->is_free()) return Error::kNotFound;
  const VaRange range = range_of(*node);
  if (address >= range.end()) return Error::kNotFound;
  return range;
}

Status VaAllocator::set_backing(VirtAddr start, uint64_t backing) {
  Node* node = const_cast<Node*>(node_at_or_before(start.value));
  if (!node || node->is_free() || node->start_ != start.value) return Error::kNotFound;
  node->backing_ = backing;  // not an aggregate: the tree needs no refresh
  return Status();
}

VaRange VaAllocator::range_of(const Node& node) {
  VaRange range;
  range.start = VirtAddr(node.start_);
  range.guard_page = node.has_guard();
  range.size = Size(node.size_ - (node.has_guard() ? kPageSize : 0));
  range.owner = GuestId(node.owner_);
  range.kind = node.kind();
  range.backing = node.backing_;
  return range;
}

VaStats VaAllocator::stats() const {
  VaStats stats;
  stats.window = window_;
  stats.in_use = Size(bytes_in_use_);
  stats.used_ranges = used_ranges_;
  stats.free_ranges = tree_.size() - used_ranges_;
  stats.nodes_in_use = nodes_in_use_;
  stats.node_capacity = capacity_;
  stats.largest_free = Size(tree_.root() ? tree_.root()->max_free_ : 0);
  return stats;
}

VaAllocator::Node* VaAllocator::take_node() {
  Node* node = nullptr;
  if (free_list_) {
    node = free_list_;
    free_list_ = node->link_.parent;
  } else {
    node = &nodes_[never_used_from_++];
  }
  *node = Node();
  ++nodes_in_use_;
  return node;
}

void VaAllocator::give_back(Node* node) {
  *node = Node();
  node->link_.parent = free_list_;
  free_list_ = node;
  --nodes_in_use_;
}

bool VaAllocator::audit() const {
  if (!nodes_) return tree_.empty() && nodes_in_use_ == 0;
  return tree_.audit() && audit_tiling() && audit_pool();
}

// Free and used ranges, in order, start where the previous one ended, cover the window exactly,
// and never put two free ranges side by side.
bool VaAllocator::audit_tiling() const {
  uint64_t cursor = base_.value;
  bool previous_free = false;
  size_t used = 0;
  uint64_t used_bytes = 0;
  for (const Node* node = tree_.first(); node; node = Tree::next(node)) {
    if (node->start_ != cursor || node->size_ == 0 || (node->size_ & kPageMask) != 0) return false;
    if (node->size_ > base_.value + window_.bytes - cursor) return false;
    if (node->is_free()) {
      if (previous_free || (node->flags_ & ~Node::kFreeFlag) != 0) return false;
    } else {
      if (static_cast<unsigned>(node->kind()) >= kVaRangeKindCount) return false;
      if (node->has_guard() && node->size_ < 2 * kPageSize) return false;
      ++used;
      used_bytes += node->size_;
    }
    previous_free = node->is_free();
    cursor += node->size_;
  }
  return cursor == base_.value + window_.bytes && used == used_ranges_ && used_bytes == bytes_in_use_;
}

// Every node is either in the tree, on the free list, or never handed out.
bool VaAllocator::audit_pool() const {
  if (nodes_in_use_ != tree_.size() || never_used_from_ > capacity_) return false;
  size_t released = 0;
  for (const Node* node = free_list_; node; node = node->link_.parent) {
    if (node < nodes_ || node >= nodes_ + never_used_from_ || ++released > capacity_) return false;
  }
  return released + nodes_in_use_ == never_used_from_;
}

}  // namespace teemm::mm
