// mm/va_allocator: the VA allocator's tree side (first-fit search, carving, coalescing, per-owner
// release, the audit) and the calls that pick a side; the array's side is va_allocator_array.cpp.
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

#include "mm/va_fit.hpp"

namespace teemm::mm {
using namespace va_fit;
namespace {

constexpr bool is_power_of_two(uint64_t value) { return value != 0 && (value & (value - 1)) == 0; }

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

  nodes_ = nodes;
  pool_.init(nodes, node_count * sizeof(Node), Tree::kBlockSize);
  tree_.reset(&pool_);
  flat_.clear();
  small_ = true;
  base_ = base;
  window_ = size;
  bytes_in_use_ = 0;
  used_ranges_ = 0;
  free_gaps_ = 1;  // the whole window
  capacity_ = node_count;
  initialised_ = true;
  return Status();
}

void VaAllocator::settle() {
  if (!small_ && tree_.size() <= kFlatReturn) move_to_flat();
}

// In key order, so the tree's dense appends fill every leaf: each non-empty gap becomes a free
// range before the used range after it. The pool is empty and sized for capacity_ >= these
// entries (entries() counts them while small_), so no insert can fail.
void VaAllocator::move_to_tree() {
  tree_.reset(&pool_);
  const uint32_t count = static_cast<uint32_t>(flat_.size());
  for (uint32_t gap = 0; gap <= count; ++gap) {
    const uint64_t start = gap_start(gap);
    if (start < gap_end(gap)) (void)tree_.insert(start, VaEntry::free_range(gap_end(gap) - start));
    if (gap < count) (void)tree_.insert(flat_.key(Flat::Cursor{gap}), flat_.value(Flat::Cursor{gap}));
  }
  flat_.clear();
  small_ = false;
}

// Every block goes back at once: the pool starts afresh. The free ranges become gaps again.
void VaAllocator::move_to_flat() {
  flat_.clear();
  tree_.for_each([&](uint64_t start, const VaEntry& entry) {
    if (!entry.is_free()) (void)flat_.insert(start, entry);
  });
  free_gaps_ = tree_.size() - flat_.size();
  pool_.init(nodes_, capacity_ * sizeof(Node), Tree::kBlockSize);
  tree_.reset(&pool_);
  small_ = true;
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
  if (small_) {
    const Result<VirtAddr> done = allocate_in_array(span, request);
    if (done.ok() || done.error() != kFlatIsFull) return done;
    move_to_tree();
  }
  return allocate_in_tree(span, request);
}

Result<VirtAddr> VaAllocator::allocate_in_tree(uint64_t span, const AllocationRequest& request) {
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
  if (start < base_ || start.value + span > window_end()) return Error::kInvalidArgument;
  if (small_) {
    const Result<VirtAddr> done = allocate_at_in_array(start.value, span, request);
    if (done.ok() || done.error() != kFlatIsFull) return done;
    move_to_tree();
  }
  return allocate_at_in_tree(start.value, span, request);
}

Result<VirtAddr> VaAllocator::allocate_at_in_tree(uint64_t start, uint64_t span, const AllocationRequest& request) {
  Tree::Cursor at;
  if (!tree_.find_le(start, &at)) return Error::kOverlap;
  const uint64_t block_start = tree_.key(at);
  const VaEntry& block = tree_.value(at);
  if (!block.is_free() || start + span > block_start + block.size()) return Error::kOverlap;
  Placement where;
  where.found = true;
  where.block_start = block_start;
  where.block_end = block_start + block.size();
  where.start = start;
  where.at = at;
  return carve(where, span, request);
}

VaAllocator::Placement VaAllocator::lowest_fit(uint64_t span, uint64_t alignment) const {
  // Any free range this long holds an aligned slot wherever its (page-aligned) start lies.
  const uint64_t surely_fits = saturating_add(span, alignment - kPageSize);
  Placement where;
  const uint64_t threshold = VaEntry::fit_threshold(surely_fits);
  const bool found =
      tree_.find_first([surely_fits](const VaAggregate& agg) { return agg.max_free >= surely_fits; },
                       [threshold](uint64_t, const VaEntry& entry) { return entry.fit_key() >= threshold; }, &where.at);
  if (!found) return Placement{};
  const uint64_t block_start = tree_.key(where.at);
  const uint64_t block_end = block_start + tree_.value(where.at).size();
  if (!aligned_slot(block_start, block_end, span, alignment, &where.start)) return Placement{};  // unreachable
  where.found = true;
  where.block_start = block_start;
  where.block_end = block_end;
  return where;
}

VaAllocator::Placement VaAllocator::exact_first_fit(uint64_t span, uint64_t alignment) const {
  Placement where;
  const bool found = tree_.find_first([span](const VaAggregate& agg) { return agg.max_free >= span; },
                                      [&](uint64_t start, const VaEntry& entry) {
                                        uint64_t slot = 0;
                                        return entry.is_free() && entry.size() >= span &&
                                               aligned_slot(start, start + entry.size(), span, alignment, &slot);
                                      },
                                      &where.at);
  if (!found) return Placement{};
  const uint64_t block_start = tree_.key(where.at);
  const uint64_t block_end = block_start + tree_.value(where.at).size();
  aligned_slot(block_start, block_end, span, alignment, &where.start);
  where.found = true;
  where.block_start = block_start;
  where.block_end = block_end;
  return where;
}

// The used range starting exactly at `start`.
bool VaAllocator::used_range_at(uint64_t start, Tree::Cursor* at) const {
  if (!tree_.find_le(start, at)) return false;
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

  auto& at = where.at;
  if (keeps_left) {
    tree_.value(at).set_size(where.start - where.block_start);
    tree_.refresh(at);
    (void)tree_.insert(where.start, used_entry(span, request));
  } else {
    tree_.value(at) = used_entry(span, request);
    tree_.refresh(at);
  }
  if (keeps_right) (void)tree_.insert(used_end, VaEntry::free_range(where.block_end - used_end));
  bytes_in_use_ += span;
  ++used_ranges_;
  return VirtAddr(where.start);
}

Status VaAllocator::free(VirtAddr start) {
  if (!initialised_) return Error::kNotFound;
  if (small_) return free_in_array(start.value) ? Status() : Status(Error::kNotFound);
  Tree::Cursor at;
  if (!used_range_at(start.value, &at)) return Error::kNotFound;
  release_range(at);
  settle();
  return Status();
}

// Makes the used range at `at` free, absorbing free neighbours so free ranges stay coalesced.
// The lowest of the merged entries survives (its start is the merged start); the others go.
// Needs no new entry.
void VaAllocator::release_range(Tree::Cursor& at) {
  const uint64_t start = tree_.key(at);
  const uint64_t size = tree_.value(at).size();
  auto before = at;
  auto after = at;
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

// In the array, one sweep of its at most kFlatCapacity ranges. In the tree, one pass
// (edit_leaves) when the inner nodes already show the owner in many leaves; else one range at a
// time (a descent and a coalescing free each) until they have come to a 64th of the tree, when the
// rest go in that pass, whose O(n) then costs about what the descents so far did. Either way the
// total stays within a small factor of the better of O(k log n) and O(n).
size_t VaAllocator::free_all_of(GuestId owner) {
  if (!initialised_) return 0;
  auto release_every_one = [](const VaRange&) { return true; };
  if (prefers_one_pass(owner)) return release_all_of(owner, release_every_one);
  // Only the tree gets here: prefers_one_pass is always true for the array.
  size_t released = 0;
  for (Tree::Cursor at; first_used_of(owner, &at); ++released) {
    if (released > 0 && released >= tree_.size() / kOnePassShare) {
      released += release_all_in_one_pass(owner, release_every_one);
      break;
    }
    release_range(at);
  }
  settle();
  return released;
}

bool VaAllocator::prefers_one_pass(GuestId owner) const {
  if (!initialised_) return false;
  if (small_) return true;  // one sweep of at most kFlatCapacity ranges
  const uint32_t bit = VaTreeTraits::owner_bit(owner.value);
  const size_t leaves = tree_.size() / kOnePassShare;
  if (leaves == 0) return false;
  return tree_.count_leaves_where([bit](const VaAggregate& agg) { return (agg.owner_mask & bit) != 0; }, leaves) >=
         leaves;
}

bool VaAllocator::first_used_of(GuestId owner, Tree::Cursor* at) const {
  const uint32_t bit = VaTreeTraits::owner_bit(owner.value);
  return tree_.find_first(
      [bit](const VaAggregate& agg) { return (agg.owner_mask & bit) != 0; },
      [owner](uint64_t, const VaEntry& entry) { return !entry.is_free() & (entry.owner() == owner.value); }, at);
}

VaAllocator::OwnerSpan VaAllocator::plan_span_of(GuestId owner, size_t budget) const {
  if (!initialised_ || budget == 0) return OwnerSpan{};
  return small_ ? plan_span_in_array(owner, budget) : plan_span_in_tree(owner, budget);
}

VaAllocator::OwnerSpan VaAllocator::plan_span_in_tree(GuestId owner, size_t budget) const {
  OwnerSpan span;
  Tree::Cursor at;
  if (!first_used_of(owner, &at)) return span;
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
  auto is_one = [owner, from](uint64_t start, const VaEntry& entry) {
    return !entry.is_free() & (entry.owner() == owner.value) & (start >= from.value);
  };
  if (small_) {
    Flat::Cursor at;
    if (!flat_.find_first([](const VaAggregate&) { return true; }, is_one, &at)) return Error::kNotFound;
    return range_of(flat_.key(at), flat_.value(at));
  }
  const uint32_t bit = VaTreeTraits::owner_bit(owner.value);
  Tree::Cursor at;
  if (!tree_.find_first([bit](const VaAggregate& agg) { return (agg.owner_mask & bit) != 0; }, is_one, &at)) {
    return Error::kNotFound;
  }
  return range_of(tree_.key(at), tree_.value(at));
}

Result<VaRange> VaAllocator::find(VirtAddr address) const {
  if (!initialised_) return Error::kNotFound;
  auto in = [address](const auto& store) -> Result<VaRange> {
    typename std::remove_reference_t<decltype(store)>::Cursor at;
    if (!store.find_le(address.value, &at)) return Error::kNotFound;
    const VaEntry& entry = store.value(at);
    if (entry.is_free()) return Error::kNotFound;
    const VaRange range = range_of(store.key(at), entry);
    if (address >= range.end()) return Error::kNotFound;
    return range;
  };
  return small_ ? in(flat_) : in(tree_);
}

Status VaAllocator::set_backing(VirtAddr start, uint64_t backing) {
  if (!initialised_) return Error::kNotFound;
  if (small_) {
    uint32_t index = 0;
    if (!index_in_array(start.value, &index)) return Error::kNotFound;
    flat_.value(Flat::Cursor{index}).set_backing(backing);
    return Status();
  }
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
  stats.free_ranges = entries() - used_ranges_;
  stats.nodes_in_use = entries();
  stats.tree_bytes = tree_.blocks() * Tree::kBlockSize;
  stats.node_capacity = capacity_;
  uint64_t largest = 0;
  if (small_) {
    for (uint32_t gap = 0; gap <= flat_.size(); ++gap) {
      const uint64_t size = gap_end(gap) - gap_start(gap);
      largest = size > largest ? size : largest;
    }
  } else {
    largest = tree_.total().max_free;
  }
  stats.largest_free = Size(largest);
  return stats;
}

bool VaAllocator::audit() const {
  if (!initialised_) return tree_.empty() && flat_.empty();
  const bool store_ok = small_ ? tree_.empty() && pool_.in_use() == 0 && audit_array()
                               : flat_.empty() && tree_.audit() && tree_.size() > kFlatReturn && audit_tiling();
  return store_ok && pool_.audit() && pool_.in_use() == tree_.blocks() && entries() <= capacity_ &&
         pool_.capacity() >= Tree::max_blocks(capacity_);
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
    if (entry.size() > window_end() - cursor) ok = false;
    if (entry.is_free()) {
      if (previous_free || (entry.flags() & ~VaEntry::kFreeFlag) != 0 || entry.owner() != 0 || entry.backing() != 0) {
        ok = false;
      }
    } else {
      if (!valid_used_entry(entry)) ok = false;
      ++used;
      used_bytes += entry.size();
    }
    previous_free = entry.is_free();
    cursor += entry.size();
  });
  return ok && cursor == window_end() && used == used_ranges_ && used_bytes == bytes_in_use_;
}

}  // namespace teemm::mm
