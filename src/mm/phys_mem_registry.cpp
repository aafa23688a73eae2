// Registration and coverage queries of the physical-memory registry (see phys_mem_registry.hpp).
#include "mm/phys_mem_registry.hpp"

namespace teemm::mm {

Refusal PhysMemRegistry::add(const Region& region) { return add_all(&region, 1); }

Refusal PhysMemRegistry::add_all(const Region* regions, size_t count) {
  if (count == 0) return {};
  if (regions == nullptr) return {Error::kInvalidArgument, nullptr, nullptr};
  // Pairs are checked all against all: O(n²), but with a disjointness test in front that costs a
  // few instructions, since nearly every pair of a real map is disjoint.
  const auto conflict = [](const Region& a, const Region& b) {
    if (a.base.value >= b.end() || b.base.value >= a.end()) return Refusal{};
    return check_pair(a, b);
  };
  for (size_t i = 0; i < count; ++i) {
    if (Refusal r = check_region(regions[i]); !r.ok()) return r;
    for (size_t j = 0; j < count_; ++j)
      if (Refusal r = conflict(regions[i], regions_[j]); !r.ok()) return r;
    for (size_t j = 0; j < i; ++j)
      if (Refusal r = conflict(regions[i], regions[j]); !r.ok()) return r;
  }
  if (count > capacity_ - count_) return {Error::kOutOfMemory, regions[0].name, nullptr};
  for (size_t i = 0; i < count; ++i) regions_[count_++] = regions[i];
  return {};
}

bool PhysMemRegistry::covers(RegionKind kind, PhysAddr base, Size size) const {
  if (size.is_zero() || !range_fits(base.value, size.bytes, kAddressLimit)) return false;
  // Extend the covered prefix [base, reached) until no region extends it further; the registry is
  // small and unsorted, so repeated passes are simpler than sorting a copy.
  uint64_t reached = base.value;
  const uint64_t end = base.value + size.bytes;
  for (bool progress = true; progress && reached < end;) {
    progress = false;
    for (size_t i = 0; i < count_; ++i) {
      const Region& r = regions_[i];
      if (r.kind != kind || r.is_va_reservation()) continue;
      if (r.base.value <= reached && r.end() > reached) {
        reached = r.end();
        progress = true;
      }
    }
  }
  return reached >= end;
}

}  // namespace teemm::mm
