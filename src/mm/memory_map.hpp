// mm/memory_map: the static memory map — registered regions sorted, merged and given virtual
// addresses — and its translation into stage-1 tables.
//
// Owns layout policy: physical regions are mapped at PA + offset (identity by default); virtual
// reservations (dynamic SHM, IO, pager) are placed in free VA above the TEE's own RAM. There is no
// fixed region cap: the caller sizes the entry pool and an exhausted pool is a clean error.
#pragma once

#include <cstddef>
#include <cstdint>

#include "arch/arm64/translation_table.hpp"
#include "base/address.hpp"
#include "base/result.hpp"
#include "mm/memory_type.hpp"
#include "mm/phys_mem_registry.hpp"

namespace teemm::mm {

struct MapEntry {
  const char* name = nullptr;
  MemoryType type = MemoryType::kTeeRam;
  PhysAddr pa;  // meaningless for VA reservations
  VirtAddr va;
  Size size;
  uint32_t merged = 1;  // how many registered regions this entry stands for

  bool is_va_reservation() const { return type_attributes(type).placement == Placement::kVaReservation; }
  VirtAddr end_va() const { return va + size; }
};

struct LayoutOptions {
  unsigned va_bits = 39;                               // size of the VA space (25..48)
  uint64_t va_offset = 0;                              // VA = PA + va_offset for physical regions
  uint64_t reservation_alignment = uint64_t{1} << 21;  // VA reservations start 2 MiB aligned
};

class MemoryMap {
 public:
  MemoryMap(MapEntry* storage, size_t capacity) : entries_(storage), capacity_(capacity) {}

  // Lays out every kMapped region of `registry`. On refusal the map is left empty.
  Refusal build(const PhysMemRegistry& registry, const LayoutOptions& options);

  size_t count() const { return count_; }
  const MapEntry& operator[](size_t index) const { return entries_[index]; }
  const MapEntry* begin() const { return entries_; }
  const MapEntry* end() const { return entries_ + count_; }
  const LayoutOptions& options() const { return options_; }

  // The entry whose VA range holds `va`, or nullptr (entries are sorted by VA: O(log n)).
  const MapEntry* find(VirtAddr va) const;
  // The first entry of `type`, or nullptr.
  const MapEntry* find_type(MemoryType type) const;

 private:
  Refusal place_physical(const PhysMemRegistry& registry);
  Refusal place_reservations(const PhysMemRegistry& registry);
  void sort_by_va();

  MapEntry* entries_;
  size_t capacity_;
  size_t count_ = 0;
  LayoutOptions options_;
};

// Maps every physical entry of `map` into `table` with its type's attributes (blocks wherever
// allowed). Reservations stay unmapped. On failure the entries mapped so far are unmapped again.
Status map_static_regions(const MemoryMap& map, arm64::Stage1Table& table);

}  // namespace teemm::mm
