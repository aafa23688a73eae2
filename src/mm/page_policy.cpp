// The physical-page policy of the run-time memory manager (see page_policy.hpp).
#include "mm/page_policy.hpp"

#include "base/sort.hpp"

namespace teemm::mm {
namespace {

// Regions whose pages must never become dynamic shared memory even inside non-secure DDR.
bool forbidden_for_shared_memory(const Region& r) {
  switch (r.kind) {
    case RegionKind::kMapped: return !r.is_va_reservation() && r.type != MemoryType::kRamNsec;
    case RegionKind::kSecureDataPath:
    case RegionKind::kDeviceIo: return true;
    case RegionKind::kNonSecureDdr:
    case RegionKind::kOverallDdr: return false;
  }
  return true;
}

}  // namespace

bool PagePolicy::append(uint64_t base, uint64_t end, PageUse use) {
  if (count_ == capacity_) return false;
  ranges_[count_++] = PolicyRange{base, end, use};
  return true;
}

// Removes [base, end) from every range; a range it falls inside splits in two (the right part is
// appended, and needs no visit: it starts at `end`).
void PagePolicy::subtract(uint64_t base, uint64_t end, bool& fits) {
  for (size_t i = 0, n = count_; i < n; ++i) {
    PolicyRange& r = ranges_[i];
    if (end <= r.base || base >= r.end) continue;
    if (base > r.base && end < r.end) {  // a hole in the middle: keep the left part, append the right
      const PolicyRange right{end, r.end, r.use};
      r.end = base;
      fits = fits && append(right.base, right.end, right.use);
    } else if (base > r.base) {
      r.end = base;
    } else if (end < r.end) {
      r.base = end;
    } else {
      r.end = r.base;  // wholly removed: left empty, dropped by sort_and_merge
    }
  }
}

// Sorts [first, count_) by base, drops empty ranges and merges touching ranges of the same use.
void PagePolicy::sort_and_merge(size_t first) {
  heap_sort(ranges_ + first, count_ - first,
            [](const PolicyRange& a, const PolicyRange& b) { return a.base < b.base; });
  size_t out = first;
  for (size_t i = first; i < count_; ++i) {
    const PolicyRange& r = ranges_[i];
    if (r.base >= r.end) continue;
    if (out > first && ranges_[out - 1].use == r.use && ranges_[out - 1].end >= r.base) {
      if (r.end > ranges_[out - 1].end) ranges_[out - 1].end = r.end;
      continue;
    }
    ranges_[out++] = r;
  }
  count_ = out;
}

Status PagePolicy::build(const PhysMemRegistry& registry, PolicyRange* storage, size_t capacity) {
  if (storage == nullptr && capacity != 0) return Error::kInvalidArgument;
  ranges_ = storage;
  capacity_ = capacity;
  count_ = 0;
  bool fits = true;
  for (const Region& r : registry)
    if (r.kind == RegionKind::kNonSecureDdr) fits = fits && append(r.base.value, r.end(), PageUse::kSharedMemory);
  if (fits) sort_and_merge(0);
  for (const Region& r : registry)
    if (fits && forbidden_for_shared_memory(r)) subtract(r.base.value, r.end(), fits);
  for (const Region& r : registry) {
    if (!fits || !is_device(r)) continue;
    const bool secure = type_attributes(r.type).secure;
    fits = append(r.base.value, r.end(), secure ? PageUse::kDeviceSecure : PageUse::kDeviceNonSecure);
  }
  if (!fits) {
    count_ = 0;
    return Error::kOutOfMemory;
  }
  sort_and_merge(0);
  return Status();
}

Status PagePolicy::check(PhysAddr pa, Size size, PageUse use) const {
  const Result<PolicyRange> allowed = allowed_range(pa, size, use);
  return allowed ? Status() : Status(allowed.error());
}

Result<PolicyRange> PagePolicy::allowed_range(PhysAddr pa, Size size, PageUse use) const {
  if (size.is_zero() || !range_fits(pa.value, size.bytes, kAddressLimit)) return Error::kForbiddenMemory;
  // The last range starting at or below pa: ranges are disjoint and sorted.
  size_t low = 0, high = count_;
  while (low < high) {
    const size_t middle = low + (high - low) / 2;
    if (ranges_[middle].base <= pa.value)
      low = middle + 1;
    else
      high = middle;
  }
  if (low == 0) return Error::kForbiddenMemory;
  const PolicyRange& r = ranges_[low - 1];
  if (r.use != use || pa.value + size.bytes > r.end) return Error::kForbiddenMemory;
  return r;
}

}  // namespace teemm::mm
