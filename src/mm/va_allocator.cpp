// mm/va_allocator: first-fit search, carving, coalescing and the audit of the VA allocator.
//
// First fit with alignment. A free range of `size` bytes whose start is page aligned surely holds
// an aligned slot of `span` bytes when size >= span + alignment - kPageSize (the worst start wastes
// alignment - kPageSize bytes). The search takes the lowest range passing that conservative test,
// guided by the per-child maxima, so it is one O(log n) descent. The result is therefore never
// above the lowest range of size >= span + alignment - kPageSize; with page alignment (the common
// case) that test is exact and the result is the true first fit. Where it deviates: with larger
// alignment, a lower range smaller than that bound which happens to hold an aligned slot is
// skipped. Only when no range passes the conservative test does a pruned in-order scan look for
// the true first exact fit, so an allocation is refused only when nothing fits; that scan costs
// O((k + 1) log n), k being the ranges of size in [span, span + alignment - kPageSize), and runs
// only near exhaustion.
//
// Ranges change by editing an entry's value in place (its start never moves) plus inserting or
// erasing whole entries, so the tree's keys stay valid without re-keying.
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

}  // namespace

// The pool must hold the worst-case tree of node_count entries, whatever node_count is.
constexpr bool pool_fits(size_t entries) {
  return BlockPool::blocks_in(entries * sizeof(VaAllocator::Node), VaAllocator::Tree::kBlockSize) >=
         VaAllocator::Tree::max_blocks(entries);
}
constexpr bool pool_fits_up_to(size_t last) {
  for (size_t n = 1; n <= last; ++n) {
    if (!pool_fits(n)) return false;
  }
  return true;
}
// Beyond this, max_blocks(n) <= n / 7 + 3 and 512 (n / 7 + 3) + 63 <= 88 n.
static_assert(pool_fits_up_to(4096));
static_assert(VaAllocator::Tree::kLeafMin == 10 && VaAllocator::Tree::kInnerMin == 7);

Status VaAllocator::init(VirtAddr base, Size size, Node* nodes, size_t node_count) {
  if (size.is_zero()) return Error::kZeroSize;
  if (!base.is_page_aligned() || !size.is_page_aligned()) return Error::kMisaligned;
  if (size.bytes > kMaxU64 - base.value || size.bytes > VaEntry::kMaxBytes) return Error::kAddressOverflow;
  if (!nodes || node_count == 0) return Error::kOutOfMemory;

  pool_.init(nodes, node_count * sizeof(Node), Tree::kBlockSize);
  tree_.reset(&pool_);
  base_ = base;
  window_ = size;
  bytes_in_use_ = 0;
  used_ranges_ = 0;
  capacity_ = node_count;
  initialised_ = true;

  tree_.insert(base.value, VaEntry::free_range(size.bytes));  // a lone entry sits in the inline root: no block needed
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
  if (!where.found) where = exact_first_fit(span, request.alignment);
  if (!where.found) return Error::kNoVirtualSpace;
  return carve(where, span, request);
}

Result<VirtAddr> VaAllocator::allocate_at(VirtAddr start, Size size, const AllocationRequest& request) {
  if (Status valid = check_request(size, request); !valid) return valid.error();
  if (!start.is_aligned(request.alignment)) return Error::kMisaligned;
  const uint64_t span = size.bytes + (request.guard_page ? kPageSize : 0);
  if (span < size.bytes || span > kMaxU64 - start.value) return Error::kAddressOverflow;
  const uint64_t window_end = base_.value + window_.bytes;
  if (start < base_ || start.value + span > window_end) return Error::kInvalidArgument;

  Tree::Cursor at;
  if (!tree_.find_le(start.value, &at)) return Error::kOverlap;
  const uint64_t block_start = tree_.key(at);
  const VaEntry& block = tree_.value(at);
  if (!block.is_free() || start.value + span > block_start + block.size()) return Error::kOverlap;
  Placement where;
  where.found = true;
  where.block_start = block_start;
  where.block_end = block_start + block.size();
  where.start = start.value;
  where.at = at;
  return carve(where, span, request);
}

VaAllocator::Placement VaAllocator::lowest_fit(uint64_t span, uint64_t alignment) const {
  // Any free range this long holds an aligned slot wherever its (page-aligned) start lies.
  const uint64_t surely_fits = saturating_add(span, alignment - kPageSize);
  Placement where;
  Tree::Cursor& at = where.at;
  const bool found = tree_.find_first(
      [surely_fits](const VaAggregate& agg) { return agg.max_free >= surely_fits; },
      [surely_fits](uint64_t, const VaEntry& entry) { return entry.is_free() & (entry.size() >= surely_fits); }, &at);
  if (!found) return Placement{};
  const uint64_t block_start = tree_.key(at);
  const uint64_t block_end = block_start + tree_.value(at).size();
  if (!aligned_slot(block_start, block_end, span, alignment, &where.start)) return Placement{};  // unreachable
  where.found = true;
  where.block_start = block_start;
  where.block_end = block_end;
  return where;
}

VaAllocator::Placement VaAllocator::exact_first_fit(uint64_t span, uint64_t alignment) const {
  Placement where;
  Tree::Cursor& at = where.at;
  const bool found = tree_.find_first([span](const VaAggregate& agg) { return agg.max_free >= span; },
                                      [&](uint64_t start, const VaEntry& entry) {
                                        uint64_t slot = 0;
                                        return entry.is_free() && entry.size() >= span &&
                                               aligned_slot(start, start + entry.size(), span, alignment, &slot);
                                      },
                                      &at);
  if (!found) return Placement{};
  const uint64_t block_start = tree_.key(at);
  const uint64_t block_end = block_start + tree_.value(at).size();
  aligned_slot(block_start, block_end, span, alignment, &where.start);
  where.found = true;
  where.block_start = block_start;
  where.block_end = block_end;
  return where;
}

// The used range starting exactly at `start`.
bool VaAllocator::used_range_at(uint64_t start, Tree::Cursor* at) const {
  if (!initialised_ || !tree_.find_le(start, at)) return false;
  return tree_.key(*at) == start && !tree_.value(*at).is_free();
}

// Turns the free range [where.block_start, where.block_end) into the used range [where.start,
// +span), keeping whatever is left on either side as free ranges. The block's entry keeps its
// start: it becomes the left remainder when there is one, else the used range itself. Exact fits
// therefore need no new entry and the worst case needs two.
Result<VirtAddr> VaAllocator::carve(Placement& where, uint64_t span, const AllocationRequest& request) {
  const uint64_t used_end = where.start + span;
  const bool keeps_left = where.start > where.block_start;
  const bool keeps_right = used_end < where.block_end;
  const size_t needed = (keeps_left ? 1 : 0) + (keeps_right ? 1 : 0);
  if (available_nodes() < needed) return Error::kOutOfMemory;

  const VaEntry used = VaEntry::used_range(
      span, request.owner.value,
      static_cast<uint8_t>(static_cast<uint8_t>(request.kind) | (request.guard_page ? VaEntry::kGuardFlag : 0)),
      request.backing);
  Tree::Cursor& at = where.at;
  if (keeps_left) {
    tree_.value(at).set_size(where.start - where.block_start);
    tree_.refresh(at);
    tree_.insert(where.start, used);
  } else {
    tree_.value(at) = used;
    tree_.refresh(at);
  }
  if (keeps_right) {
    tree_.insert(used_end, VaEntry::free_range(where.block_end - used_end));
  }
  bytes_in_use_ += span;
  ++used_ranges_;
  return VirtAddr(where.start);
}

Status VaAllocator::free(VirtAddr start) {
  Tree::Cursor at;
  if (!used_range_at(start.value, &at)) return Error::kNotFound;
  release_range(at);
  return Status();
}

// Makes the used range at `at` free, absorbing free neighbours so free ranges stay coalesced.
// The lowest of the merged entries survives (its start is the merged start); the others go.
// Needs no new entry.
void VaAllocator::release_range(Tree::Cursor& at) {
  const uint64_t start = tree_.key(at);
  const uint64_t size = tree_.value(at).size();
  Tree::Cursor before = at;
  Tree::Cursor after = at;
  const bool merge_before = tree_.prev(&before) && tree_.value(before).is_free();
  const bool merge_after = tree_.next(&after) && tree_.value(after).is_free();
  const uint64_t after_start = merge_after ? tree_.key(after) : 0;
  const uint64_t merged_end = merge_after ? after_start + tree_.value(after).size() : start + size;

  bytes_in_use_ -= size;
  --used_ranges_;
  // `at` and `before` lie before the erased entries: they stay valid unless the erase rebalanced.
  bool moved = merge_after && tree_.erase(after);
  if (moved) tree_.find_le(start, &at);
  if (merge_before) {
    moved = tree_.erase(at) || moved;
    if (moved) tree_.find_le(start - 1, &before);
    at = before;
  }
  tree_.value(at) = VaEntry::free_range(merged_end - tree_.key(at));
  tree_.refresh(at);
}

size_t VaAllocator::free_all_of(GuestId owner) {
  if (!initialised_) return 0;
  size_t released = 0;
  Tree::Cursor at;
  while (first_used_of(owner, &at)) {
    release_range(at);
    ++released;
  }
  return released;
}

bool VaAllocator::first_used_of(GuestId owner, Tree::Cursor* at) const {
  const uint32_t bit = VaTreeTraits::owner_bit(owner.value);
  return tree_.find_first(
      [bit](const VaAggregate& agg) { return (agg.owner_mask & bit) != 0; },
      [owner](uint64_t, const VaEntry& entry) { return !entry.is_free() & (entry.owner() == owner.value); }, at);
}

bool VaAllocator::span_start_of(GuestId owner, Tree::Cursor* at) const {
  if (!first_used_of(owner, at)) return false;
  Tree::Cursor before = *at;
  if (tree_.prev(&before) && tree_.value(before).is_free()) *at = before;
  return true;
}

void VaAllocator::reposition(Tree::Cursor* at, bool rebalanced, uint64_t key) const {
  // Without a rebalance the cursor already holds the entry after the erased one, or an unused slot
  // past the end of its leaf (whose key is kMaxKey): then one descent finds it.
  if (rebalanced || tree_.key(*at) != key) (void)tree_.find_le(key, at);
}

VaAllocator::OwnerSpan VaAllocator::plan_span_of(GuestId owner, size_t budget) const {
  OwnerSpan span;
  Tree::Cursor at;
  if (!initialised_ || budget == 0 || !first_used_of(owner, &at)) return span;
  span.first = VirtAddr(tree_.key(at));
  do {
    const VaEntry& entry = tree_.value(at);
    if (entry.is_free()) continue;
    if (entry.owner() != owner.value || span.ranges == budget) break;
    ++span.ranges;
    span.last = VirtAddr(tree_.key(at) + entry.size());
  } while (tree_.next(&at));
  return span;
}

Result<VaRange> VaAllocator::first_of(GuestId owner, VirtAddr from) const {
  if (!initialised_) return Error::kNotFound;
  const uint32_t bit = VaTreeTraits::owner_bit(owner.value);
  Tree::Cursor at;
  if (!tree_.find_first([bit](const VaAggregate& agg) { return (agg.owner_mask & bit) != 0; },
                        [owner, from](uint64_t start, const VaEntry& entry) {
                          return !entry.is_free() & (entry.owner() == owner.value) & (start >= from.value);
                        },
                        &at))
    return Error::kNotFound;
  return range_of(tree_.key(at), tree_.value(at));
}

Result<VaRange> VaAllocator::find(VirtAddr address) const {
  Tree::Cursor at;
  if (!initialised_ || !tree_.find_le(address.value, &at)) return Error::kNotFound;
  const VaEntry& entry = tree_.value(at);
  if (entry.is_free()) return Error::kNotFound;
  const VaRange range = range_of(tree_.key(at), entry);
  if (address >= range.end()) return Error::kNotFound;
  return range;
}

Status VaAllocator::set_backing(VirtAddr start, uint64_t backing) {
  Tree::Cursor at;
  if (!used_range_at(start.value, &at)) return Error::kNotFound;
  tree_.value(at).set_backing(backing);  // not an aggregate: the tree needs no refresh
  return Status();
}

VaRange VaAllocator::range_of(uint64_t start, const VaEntry& entry) {
  VaRange range;
  range.start = VirtAddr(start);
  range.guard_page = entry.has_guard();
  range.size = Size(entry.size() - (entry.has_guard() ? kPageSize : 0));
  range.owner = GuestId(entry.owner());
  range.kind = entry.kind();
  range.backing = entry.backing();
  return range;
}

VaStats VaAllocator::stats() const {
  VaStats stats;
  stats.window = window_;
  stats.in_use = Size(bytes_in_use_);
  stats.used_ranges = used_ranges_;
  stats.free_ranges = tree_.size() - used_ranges_;
  stats.nodes_in_use = tree_.size();
  stats.tree_bytes = tree_.blocks() * Tree::kBlockSize;
  stats.node_capacity = capacity_;
  stats.largest_free = Size(tree_.total().max_free);
  return stats;
}

bool VaAllocator::audit() const {
  if (!initialised_) return tree_.empty();
  return tree_.audit() && audit_tiling() && pool_.audit() && pool_.in_use() == tree_.blocks() &&
         tree_.size() <= capacity_ && pool_.capacity() >= Tree::max_blocks(capacity_);
}

// Free and used ranges, in order, start where the previous one ended, cover the window exactly,
// and never put two free ranges side by side.
bool VaAllocator::audit_tiling() const {
  uint64_t cursor = base_.value;
  bool previous_free = false;
  size_t used = 0;
  uint64_t used_bytes = 0;
  bool ok = true;
  tree_.for_each([&](uint64_t start, const VaEntry& entry) {
    if (!ok) return;
    if (start != cursor || entry.size() == 0) ok = false;
    if (entry.size() > base_.value + window_.bytes - cursor) ok = false;
    if (entry.is_free()) {
      if (previous_free || (entry.flags() & ~VaEntry::kFreeFlag) != 0 || entry.owner() != 0 || entry.backing() != 0) {
        ok = false;
      }
    } else {
      if (static_cast<unsigned>(entry.kind()) >= kVaRangeKindCount) ok = false;
      if (entry.has_guard() && entry.size() < 2 * kPageSize) ok = false;
      ++used;
      used_bytes += entry.size();
    }
    previous_free = entry.is_free();
    cursor += entry.size();
  });
  return ok && cursor == base_.value + window_.bytes && used == used_ranges_ && used_bytes == bytes_in_use_;
}

}  // namespace teemm::mm
