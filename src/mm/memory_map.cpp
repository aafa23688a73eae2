// Layout of the static memory map (see memory_map.hpp).
#include "mm/memory_map.hpp"

#include "base/sort.hpp"

namespace teemm::mm {
namespace {

constexpr uint64_t align_up(uint64_t value, uint64_t alignment) { return (value + alignment - 1) & ~(alignment - 1); }

bool by_pa(const MapEntry& a, const MapEntry& b) {
  return a.pa != b.pa ? a.pa < b.pa : static_cast<unsigned>(a.type) < static_cast<unsigned>(b.type);
}
bool by_va(const MapEntry& a, const MapEntry& b) { return a.va < b.va; }

bool is_tee_ram(MemoryType type) {
  return type == MemoryType::kTeeRam || type == MemoryType::kTeeRamRx || type == MemoryType::kTeeRamRo ||
         type == MemoryType::kTeeRamRw;
}

}  // namespace

Refusal MemoryMap::build(const PhysMemRegistry& registry, const LayoutOptions& options) {
  count_ = 0;
  options_ = options;
  if (options.va_bits < 25 || options.va_bits > kMaxAddressBits || (options.va_offset & kPageMask) != 0 ||
      options.reservation_alignment < kPageSize ||
      (options.reservation_alignment & (options.reservation_alignment - 1)) != 0)
    return {Error::kInvalidArgument, nullptr, nullptr};  // the options, not a region
  Refusal refusal = place_physical(registry);
  if (refusal.ok()) refusal = place_reservations(registry);
  if (!refusal.ok()) {
    count_ = 0;
    return refusal;
  }
  sort_by_va();
  return {};
}

Refusal MemoryMap::place_physical(const PhysMemRegistry& registry) {
  for (const Region& r : registry) {
    if (r.kind != RegionKind::kMapped || r.is_va_reservation()) continue;
    if (count_ == capacity_) return {Error::kOutOfMemory, r.name, nullptr};
    entries_[count_++] = MapEntry{r.name, r.type, r.base, VirtAddr(), r.size, 1};
  }
  heap_sort(entries_, count_, by_pa);
  // Merge same-type neighbours that touch or overlap (different types never overlap: the registry
  // refused that).
  size_t kept = 0;
  for (size_t i = 0; i < count_; ++i) {
    MapEntry& last = entries_[kept == 0 ? 0 : kept - 1];
    const MapEntry& next = entries_[i];
    if (kept > 0 && last.type == next.type && next.pa.value <= last.pa.value + last.size.bytes) {
      const uint64_t end = next.pa.value + next.size.bytes;
      if (end > last.pa.value + last.size.bytes) last.size = Size(end - last.pa.value);
      ++last.merged;
    } else {
      entries_[kept++] = next;
    }
  }
  count_ = kept;
  const uint64_t va_limit = uint64_t{1} << options_.va_bits;
  for (size_t i = 0; i < count_; ++i) {
    MapEntry& e = entries_[i];
    if (!range_fits(e.pa.value, options_.va_offset, UINT64_MAX) ||
        !range_fits(e.pa.value + options_.va_offset, e.size.bytes, va_limit))
      return {Error::kAddressOverflow, e.name, nullptr};
    e.va = VirtAddr(e.pa.value + options_.va_offset);
  }
  return {};
}

Refusal MemoryMap::place_reservations(const PhysMemRegistry& registry) {
  // Reservations go first-fit above the TEE's own RAM (or at the bottom of VA when there is
  // none), largest first so that a large one is not squeezed out by small ones.
  uint64_t floor = options_.reservation_alignment;
  const size_t physical_count = count_;
  for (size_t i = 0; i < physical_count; ++i)
    if (is_tee_ram(entries_[i].type) && entries_[i].end_va().value > floor) floor = entries_[i].end_va().value;
  const size_t first_reservation = count_;
  for (const Region& r : registry) {
    if (!r.is_va_reservation()) continue;
    if (count_ == capacity_) return {Error::kOutOfMemory, r.name, nullptr};
    entries_[count_++] = MapEntry{r.name, r.type, PhysAddr(), VirtAddr(), r.size, 1};
  }
  heap_sort(entries_ + first_reservation, count_ - first_reservation,
            [](const MapEntry& a, const MapEntry& b) { return a.size > b.size; });
  const uint64_t va_limit = uint64_t{1} << options_.va_bits;
  for (size_t i = first_reservation; i < count_; ++i) {
    MapEntry& reservation = entries_[i];
    uint64_t candidate = align_up(floor, options_.reservation_alignment);
    // Entries placed so far (physical ones sorted by VA, earlier reservations unsorted): retry
    // until the candidate clears all of them. Few reservations exist, so O(n·r) is fine.
    for (bool moved = true; moved;) {
      moved = false;
      for (size_t j = 0; j < i; ++j) {
        const MapEntry& other = entries_[j];
        if (ranges_overlap(candidate, reservation.size.bytes, other.va.value, other.size.bytes)) {
          candidate = align_up(other.end_va().value, options_.reservation_alignment);
          moved = true;
        }
      }
      if (!range_fits(candidate, reservation.size.bytes, va_limit))
        return {Error::kNoVirtualSpace, reservation.name, nullptr};
    }
    reservation.va = VirtAddr(candidate);
  }
  return {};
}

void MemoryMap::sort_by_va() { heap_sort(entries_, count_, by_va); }

const MapEntry* MemoryMap::find(VirtAddr va) const {
  size_t low = 0;
  size_t high = count_;
  while (low < high) {
    const size_t mid = low + (high - low) / 2;
    if (entries_[mid].end_va() <= va)
      low = mid + 1;
    else
      high = mid;
  }
  return low < count_ && entries_[low].va <= va ? &entries_[low] : nullptr;
}

const MapEntry* MemoryMap::find_type(MemoryType type) const {
  for (size_t i = 0; i < count_; ++i)
    if (entries_[i].type == type) return &entries_[i];
  return nullptr;
}

Status map_static_regions(const MemoryMap& map, arm64::Stage1Table& table) {
  for (size_t i = 0; i < map.count(); ++i) {
    const MapEntry& e = map[i];
    if (e.is_va_reservation()) continue;
    if (Status status = table.map(e.va, e.pa, e.size, mapping_attributes(e.type)); !status) {
      for (size_t j = 0; j < i; ++j)
        if (!map[j].is_va_reservation()) (void)table.unmap(map[j].va, map[j].size);
      return status;
    }
  }
  return Status();
}

}  // namespace teemm::mm
