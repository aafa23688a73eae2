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
#include <type_traits>

namespace teemm::mm {
namespace {

constexpr uint64_t kMaxU64 = std::numeric_limits<uint64_t>::max();

constexpr bool is_power_of_two(uint64_t value) { return value != 0 && (value & (value - 1)) == 0; }

// Said by a carve in the inline array that has no room for its new entries; allocate then moves
// the ranges to the tree and carves there, so this never reaches a caller.
constexpr Error kFlatIsFull = Error::kLimitReached;

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

  nodes_ = nodes;
  pool_.init(nodes, node_count * sizeof(Node), Tree::kBlockSize);
  tree_.reset(&pool_);
  flat_.clear();
  small_ = true;
  base_ = base;
  window_ = size;
  bytes_in_use_ = 0;
  used_ranges_ = 0;
  capacity_ = node_count;
  initialised_ = true;
  flat_.insert(base.value, VaEntry::free_range(size.bytes));
  return Status();
}

void VaAllocator::settle() {
  if (!small_ && tree_.size() <= kFlatReturn) move_to_flat();
}

// In key order, so the tree's dense appends fill every leaf. The pool is empty and sized for
// capacity_ >= these entries, so no insert can fail.
void VaAllocator::move_to_tree() {
  tree_.reset(&pool_);
  flat_.for_each([&](uint64_t start, const VaEntry& entry) { (void)tree_.insert(start, entry); });
  flat_.clear();
  small_ = false;
}

// Every block goes back at once: the pool starts afresh.
void VaAllocator::move_to_flat() {
  flat_.clear();
  tree_.for_each([&](uint64_t start, const VaEntry& entry) { (void)flat_.insert(start, entry); });
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
  if (small_) {
    const Result<VirtAddr> done = allocate_in(flat_, size, request);
    if (done.ok() || done.error() != kFlatIsFull) return done;
    move_to_tree();
  }
  return allocate_in(tree_, size, request);
}

template <typename Store>
Result<VirtAddr> VaAllocator::allocate_in(Store& store, Size size, const AllocationRequest& request) {
  const uint64_t span = size.bytes + (request.guard_page ? kPageSize : 0);
  Placement<Store> where = lowest_fit(store, span, request.alignment);
  if (!where.found) where = exact_first_fit(store, span, request.alignment);
  if (!where.found) return Error::kNoVirtualSpace;
  return carve(store, where, span, request);
}

Result<VirtAddr> VaAllocator::allocate_at(VirtAddr start, Size size, const AllocationRequest& request) {
  if (Status valid = check_request(size, request); !valid) return valid.error();
  if (!start.is_aligned(request.alignment)) return Error::kMisaligned;
  const uint64_t span = size.bytes + (request.guard_page ? kPageSize : 0);
  if (span < size.bytes || span > kMaxU64 - start.value) return Error::kAddressOverflow;
  const uint64_t window_end = base_.value + window_.bytes;
  if (start < base_ || start.value + span > window_end) return Error::kInvalidArgument;
  if (small_) {
    const Result<VirtAddr> done = allocate_at_in(flat_, start, size, request);
    if (done.ok() || done.error() != kFlatIsFull) return done;
    move_to_tree();
  }
  return allocate_at_in(tree_, start, size, request);
}

template <typename Store>
Result<VirtAddr> VaAllocator::allocate_at_in(Store& store, VirtAddr start, Size size,
                                             const AllocationRequest& request) {
  const uint64_t span = size.bytes + (request.guard_page ? kPageSize : 0);
  typename Store::Cursor at;
  if (!store.find_le(start.value, &at)) return Error::kOverlap;
  const uint64_t block_start = store.key(at);
  const VaEntry& block = store.value(at);
  if (!block.is_free() || start.value + span > block_start + block.size()) return Error::kOverlap;
  Placement<Store> where;
  where.found = true;
  where.block_start = block_start;
  where.block_end = block_start + block.size();
  where.start = start.value;
  where.at = at;
  return carve(store, where, span, request);
}

template <typename Store>
VaAllocator::Placement<Store> VaAllocator::lowest_fit(const Store& store, uint64_t span, uint64_t alignment) const {
  // Any free range this long holds an aligned slot wherever its (page-aligned) start lies.
  const uint64_t surely_fits = saturating_add(span, alignment - kPageSize);
  Placement<Store> where;
  const uint64_t threshold = VaEntry::fit_threshold(surely_fits);
  const bool found =
      store.find_first([surely_fits](const VaAggregate& agg) { return agg.max_free >= surely_fits; },
                       [threshold](uint64_t, const VaEntry& entry) { return entry.fit_key() >= threshold; }, &where.at);
  if (!found) return Placement<Store>{};
  const uint64_t block_start = store.key(where.at);
  const uint64_t block_end = block_start + store.value(where.at).size();
  if (!aligned_slot(block_start, block_end, span, alignment, &where.start)) return Placement<Store>{};  // unreachable
  where.found = true;
  where.block_start = block_start;
  where.block_end = block_end;
  return where;
}

template <typename Store>
VaAllocator::Placement<Store> VaAllocator::exact_first_fit(const Store& store, uint64_t span,
                                                           uint64_t alignment) const {
  Placement<Store> where;
  const bool found = store.find_first([span](const VaAggregate& agg) { return agg.max_free >= span; },
                                      [&](uint64_t start, const VaEntry& entry) {
                                        uint64_t slot = 0;
                                        return entry.is_free() && entry.size() >= span &&
                                               aligned_slot(start, start + entry.size(), span, alignment, &slot);
                                      },
                                      &where.at);
  if (!found) return Placement<Store>{};
  const uint64_t block_start = store.key(where.at);
  const uint64_t block_end = block_start + store.value(where.at).size();
  aligned_slot(block_start, block_end, span, alignment, &where.start);
  where.found = true;
  where.block_start = block_start;
  where.block_end = block_end;
  return where;
}

// The used range starting exactly at `start`.
template <typename Store>
bool VaAllocator::used_range_at(const Store& store, uint64_t start, typename Store::Cursor* at) const {
  if (!initialised_ || !store.find_le(start, at)) return false;
  return store.key(*at) == start && !store.value(*at).is_free();
}

// Turns the free range [where.block_start, where.block_end) into the used range [where.start,
// +span), keeping whatever is left on either side as free ranges. The block's entry keeps its
// start: it becomes the left remainder when there is one, else the used range itself. Exact fits
// therefore need no new entry and the worst case needs two.
template <typename Store>
Result<VirtAddr> VaAllocator::carve(Store& store, Placement<Store>& where, uint64_t span,
                                    const AllocationRequest& request) {
  const uint64_t used_end = where.start + span;
  const bool keeps_left = where.start > where.block_start;
  const bool keeps_right = used_end < where.block_end;
  const size_t needed = (keeps_left ? 1 : 0) + (keeps_right ? 1 : 0);
  if (available_nodes() < needed) return Error::kOutOfMemory;

  const VaEntry used = VaEntry::used_range(
      span, request.owner.value,
      static_cast<uint8_t>(static_cast<uint8_t>(request.kind) | (request.guard_page ? VaEntry::kGuardFlag : 0)),
      request.backing);
  auto& at = where.at;
  if constexpr (std::is_same_v<Store, Flat>) {
    // The block's entry and its one or two new neighbours go in with one move of the entries after.
    uint64_t starts[3];
    VaEntry entries[3];
    uint32_t count = 0;
    if (keeps_left) {
      starts[count] = where.block_start;
      entries[count++] = VaEntry::free_range(where.start - where.block_start);
    }
    starts[count] = where.start;
    entries[count++] = used;
    if (keeps_right) {
      starts[count] = used_end;
      entries[count++] = VaEntry::free_range(where.block_end - used_end);
    }
    if (!store.replace(at, 1, starts, entries, count)) return kFlatIsFull;  // nothing changed
  } else {  // the tree finds each new entry's place itself
    if (keeps_left) {
      store.value(at).set_size(where.start - where.block_start);
      store.refresh(at);
      (void)store.insert(where.start, used);
    } else {
      store.value(at) = used;
      store.refresh(at);
    }
    if (keeps_right) (void)store.insert(used_end, VaEntry::free_range(where.block_end - used_end));
  }
  bytes_in_use_ += span;
  ++used_ranges_;
  return VirtAddr(where.start);
}

Status VaAllocator::free(VirtAddr start) {
  const bool found = with_store([&](auto& store) {
    typename std::remove_reference_t<decltype(store)>::Cursor at;
    if (!used_range_at(store, start.value, &at)) return false;
    release_range(store, at);
    return true;
  });
  if (!found) return Error::kNotFound;
  settle();
  return Status();
}

// Makes the used range at `at` free, absorbing free neighbours so free ranges stay coalesced.
// The lowest of the merged entries survives (its start is the merged start); the others go.
// Needs no new entry.
template <typename Store>
void VaAllocator::release_range(Store& store, typename Store::Cursor& at) {
  if constexpr (std::is_same_v<Store, Flat>) {
    release_in_array(store, at);
    return;
  }
  const uint64_t start = store.key(at);
  const uint64_t size = store.value(at).size();
  auto before = at;
  auto after = at;
  const bool merge_before = store.prev(&before) && store.value(before).is_free();
  const bool merge_after = store.next(&after) && store.value(after).is_free();
  const uint64_t after_start = merge_after ? store.key(after) : 0;
  const uint64_t merged_end = merge_after ? after_start + store.value(after).size() : start + size;

  bytes_in_use_ -= size;
  --used_ranges_;
  // `at` and `before` lie before the erased entries: they stay valid unless the erase rebalanced.
  bool moved = merge_after && store.erase(after);
  if (moved) store.find_le(start, &at);
  if (merge_before) {
    moved = store.erase(at) || moved;
    if (moved) store.find_le(start - 1, &before);
    at = before;
  }
  store.value(at) = VaEntry::free_range(merged_end - store.key(at));
  store.refresh(at);
}

// The same in the array: the used range and the free neighbours it absorbs become one entry, with
// one move of the entries after them.
void VaAllocator::release_in_array(Flat& flat, Flat::Cursor& at) {
  const uint32_t last = static_cast<uint32_t>(flat.size()) - 1;
  const bool merge_before = at.index > 0 && flat.value(Flat::Cursor{at.index - 1}).is_free();
  const bool merge_after = at.index < last && flat.value(Flat::Cursor{at.index + 1}).is_free();
  const Flat::Cursor first{at.index - merge_before};
  const Flat::Cursor final_entry{at.index + merge_after};
  const uint64_t start = flat.key(first);
  const VaEntry merged = VaEntry::free_range(flat.key(final_entry) + flat.value(final_entry).size() - start);
  bytes_in_use_ -= flat.value(at).size();
  --used_ranges_;
  (void)flat.replace(first, final_entry.index - first.index + 1, &start, &merged, 1);  // never grows
  at = first;
}

// In the array, one sweep of its at most kFlatCapacity entries. In the tree, one pass
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
  for (Tree::Cursor at; first_used_of(tree_, owner, &at); ++released) {
    if (released > 0 && released >= tree_.size() / kOnePassShare) {
      released += release_all_in_one_pass(owner, release_every_one);
      break;
    }
    release_range(tree_, at);
  }
  settle();
  return released;
}

bool VaAllocator::prefers_one_pass(GuestId owner) const {
  if (!initialised_) return false;
  if (small_) return true;  // one sweep of at most kFlatCapacity entries
  const uint32_t bit = VaTreeTraits::owner_bit(owner.value);
  const size_t leaves = tree_.size() / kOnePassShare;
  if (leaves == 0) return false;
  return tree_.count_leaves_where([bit](const VaAggregate& agg) { return (agg.owner_mask & bit) != 0; }, leaves) >=
         leaves;
}

template <typename Store>
bool VaAllocator::first_used_of(const Store& store, GuestId owner, typename Store::Cursor* at) const {
  const uint32_t bit = VaTreeTraits::owner_bit(owner.value);
  return store.find_first(
      [bit](const VaAggregate& agg) { return (agg.owner_mask & bit) != 0; },
      [owner](uint64_t, const VaEntry& entry) { return !entry.is_free() & (entry.owner() == owner.value); }, at);
}

VaAllocator::OwnerSpan VaAllocator::plan_span_of(GuestId owner, size_t budget) const {
  if (!initialised_ || budget == 0) return OwnerSpan{};
  return with_store([&](const auto& store) { return plan_span_in(store, owner, budget); });
}

template <typename Store>
VaAllocator::OwnerSpan VaAllocator::plan_span_in(const Store& store, GuestId owner, size_t budget) const {
  OwnerSpan span;
  typename Store::Cursor at;
  if (!first_used_of(store, owner, &at)) return span;
  span.first = VirtAddr(store.key(at));
  do {
    const VaEntry& entry = store.value(at);
    if (entry.is_free()) continue;
    if (entry.owner() != owner.value || span.ranges == budget) break;
    ++span.ranges;
    span.last = VirtAddr(store.key(at) + entry.size());
  } while (store.next(&at));
  return span;
}

Result<VaRange> VaAllocator::first_of(GuestId owner, VirtAddr from) const {
  if (!initialised_) return Error::kNotFound;
  const uint32_t bit = VaTreeTraits::owner_bit(owner.value);
  return with_store([&](const auto& store) -> Result<VaRange> {
    typename std::remove_reference_t<decltype(store)>::Cursor at;
    if (!store.find_first([bit](const VaAggregate& agg) { return (agg.owner_mask & bit) != 0; },
                          [owner, from](uint64_t start, const VaEntry& entry) {
                            return !entry.is_free() & (entry.owner() == owner.value) & (start >= from.value);
                          },
                          &at))
      return Error::kNotFound;
    return range_of(store.key(at), store.value(at));
  });
}

Result<VaRange> VaAllocator::find(VirtAddr address) const {
  if (!initialised_) return Error::kNotFound;
  return with_store([&](const auto& store) -> Result<VaRange> {
    typename std::remove_reference_t<decltype(store)>::Cursor at;
    if (!store.find_le(address.value, &at)) return Error::kNotFound;
    const VaEntry& entry = store.value(at);
    if (entry.is_free()) return Error::kNotFound;
    const VaRange range = range_of(store.key(at), entry);
    if (address >= range.end()) return Error::kNotFound;
    return range;
  });
}

Status VaAllocator::set_backing(VirtAddr start, uint64_t backing) {
  const bool found = with_store([&](auto& store) {
    typename std::remove_reference_t<decltype(store)>::Cursor at;
    if (!used_range_at(store, start.value, &at)) return false;
    store.value(at).set_backing(backing);  // not an aggregate: the store needs no refresh
    return true;
  });
  return found ? Status() : Status(Error::kNotFound);
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
  stats.largest_free = Size(with_store([](const auto& store) { return store.total().max_free; }));
  return stats;
}

bool VaAllocator::audit() const {
  if (!initialised_) return tree_.empty() && flat_.empty();
  const bool store_ok = small_ ? flat_.audit() && tree_.empty() && pool_.in_use() == 0 && flat_.size() <= kFlatCapacity
                               : flat_.empty() && tree_.audit() && tree_.size() > kFlatReturn;
  return store_ok && with_store([&](const auto& store) { return audit_tiling(store); }) && pool_.audit() &&
         pool_.in_use() == tree_.blocks() && entries() <= capacity_ && pool_.capacity() >= Tree::max_blocks(capacity_);
}

// Free and used ranges, in order, start where the previous one ended, cover the window exactly,
// and never put two free ranges side by side.
template <typename Store>
bool VaAllocator::audit_tiling(const Store& store) const {
  uint64_t cursor = base_.value;
  bool previous_free = false;
  size_t used = 0;
  uint64_t used_bytes = 0;
  bool ok = true;
  store.for_each([&](uint64_t start, const VaEntry& entry) {
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
