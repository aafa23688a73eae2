// mm/va_allocator_array: the VA allocator while its used ranges fit the inline array.
//
// The array holds the used ranges alone, sorted by start; the free space is the gaps between them
// (gap i lies before used range i, gap size() after the last). Measured at 10 live areas, in one
// process alternating with the list baseline: a plain array holding free and used ranges as
// entries took 1.76-1.79 of the list's time, the same holding used ranges only 1.01. A free then
// needs no merging and an allocation one new entry, so each edit moves the entries after it by one
// slot, and the first fit reads the gaps off the used ranges it scans anyway.
//
// The node accounting is the tree's: entries() counts a used range or a non-empty gap each, so
// kOutOfMemory comes exactly when it would in the tree, and a move to the tree always has room.
#include "mm/va_allocator.hpp"
#include "mm/va_fit.hpp"

namespace teemm::mm {
using namespace va_fit;

uint32_t VaAllocator::count_free_gaps(uint32_t first, uint32_t last) const {
  uint32_t gaps = 0;
  for (uint32_t gap = first; gap <= last; ++gap) gaps += gap_start(gap) < gap_end(gap) ? 1 : 0;
  return gaps;
}

// The first fit by the tree's rule (lowest_fit, then exact_first_fit): the lowest gap that holds an
// aligned slot wherever its start lies, else the lowest gap with any aligned slot at all.
Result<VirtAddr> VaAllocator::allocate_in_array(uint64_t span, const AllocationRequest& request) {
  const uint64_t surely_fits = saturating_add(span, request.alignment - kPageSize);
  const uint32_t count = static_cast<uint32_t>(flat_.size());
  uint64_t low = base_.value;  // the gap being looked at: [low, high)
  uint64_t high = window_end();
  uint32_t gap = 0;
  for (; gap < count; ++gap) {
    high = flat_.key(Flat::Cursor{gap});
    if (high - low >= surely_fits) break;
    low = high + flat_.value(Flat::Cursor{gap}).size();
  }
  if (gap == count) high = window_end();
  uint64_t start = low;
  if (high - low >= surely_fits) {
    if (request.alignment != kPageSize) (void)aligned_slot(low, high, span, request.alignment, &start);
    return carve_in_array(gap, low, high, start, span, request);
  }
  for (gap = 0; gap <= count; ++gap) {
    if (aligned_slot(gap_start(gap), gap_end(gap), span, request.alignment, &start)) {
      return carve_in_array(gap, gap_start(gap), gap_end(gap), start, span, request);
    }
  }
  return Error::kNoVirtualSpace;
}

Result<VirtAddr> VaAllocator::allocate_at_in_array(uint64_t start, uint64_t span, const AllocationRequest& request) {
  Flat::Cursor at;
  const uint32_t gap = flat_.find_le(start, &at) ? at.index + 1 : 0;  // the used ranges below start
  const uint64_t low = gap_start(gap);
  const uint64_t high = gap_end(gap);
  if (low > start || start + span > high) return Error::kOverlap;
  return carve_in_array(gap, low, high, start, span, request);
}

// [start, start + span) inside gap `gap`, [low, high), becomes a used range; what is left of the
// gap on either side stays free. In the tree's terms the gap's free range gives way to up to three
// entries.
Result<VirtAddr> VaAllocator::carve_in_array(uint32_t gap, uint64_t low, uint64_t high, uint64_t start, uint64_t span,
                                             const AllocationRequest& request) {
  const size_t needed = (start > low ? 1 : 0) + (start + span < high ? 1 : 0);
  if (available_nodes() < needed) return Error::kOutOfMemory;
  const VaEntry used = used_entry(span, request);
  if (!flat_.replace(Flat::Cursor{gap}, 0, &start, &used, 1)) return kFlatIsFull;  // nothing changed
  free_gaps_ = free_gaps_ + needed - 1;
  bytes_in_use_ += span;
  ++used_ranges_;
  return VirtAddr(start);
}

// The index of the used range starting exactly at `start`.
bool VaAllocator::index_in_array(uint64_t start, uint32_t* index) const {
  Flat::Cursor at;
  if (!flat_.find_le(start, &at) || flat_.key(at) != start) return false;
  *index = at.index;
  return true;
}

// The used range starting at `start` and the gaps either side of it become one gap.
bool VaAllocator::free_in_array(uint64_t start) {
  uint32_t index = 0;
  if (!index_in_array(start, &index)) return false;
  const uint64_t size = flat_.value(Flat::Cursor{index}).size();
  const bool gap_before = gap_start(index) < start;
  const bool gap_after = start + size < gap_end(index + 1);
  (void)flat_.erase(Flat::Cursor{index});
  free_gaps_ = free_gaps_ + 1 - (gap_before ? 1 : 0) - (gap_after ? 1 : 0);
  bytes_in_use_ -= size;
  --used_ranges_;
  return true;
}

// As in the tree: from the owner's first range, on over its ranges until another owner's or the
// budget. Gaps are free ranges, which a span takes in.
VaAllocator::OwnerSpan VaAllocator::plan_span_in_array(GuestId owner, size_t budget) const {
  OwnerSpan span;
  const uint32_t count = static_cast<uint32_t>(flat_.size());
  uint32_t i = 0;
  while (i < count && flat_.value(Flat::Cursor{i}).owner() != owner.value) ++i;
  if (i == count) return span;
  span.first = VirtAddr(flat_.key(Flat::Cursor{i}));
  for (; i < count && span.ranges < budget && flat_.value(Flat::Cursor{i}).owner() == owner.value; ++i) {
    ++span.ranges;
    span.last = VirtAddr(end_in_array(i));
  }
  return span;
}

// Used ranges in order, each within the window and past the end of the one before, with
// contents a used range may have; the counts kept beside them agree.
bool VaAllocator::audit_array() const {
  if (!flat_.audit() || flat_.size() > kFlatCapacity || flat_.size() != used_ranges_) return false;
  uint64_t cursor = base_.value;
  uint64_t used_bytes = 0;
  bool ok = true;
  flat_.for_each([&](uint64_t start, const VaEntry& entry) {
    if (start < cursor || start >= window_end() || entry.size() == 0 || entry.size() > window_end() - start) {
      ok = false;
    }
    if (!valid_used_entry(entry)) ok = false;
    used_bytes += entry.size();
    cursor = start + entry.size();
  });
  return ok && used_bytes == bytes_in_use_ && free_gaps_ == count_free_gaps(0, static_cast<uint32_t>(flat_.size()));
}

}  // namespace teemm::mm
