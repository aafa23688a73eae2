// tests/support/static_map_model: a reference model of the boot-time path — PhysMemRegistry
// registration, MemoryMap::build and map_static_regions — in plain standard containers.
//
// Written from the documented rules, not from the implementation: which registrations are refused
// and in what order (phys_mem_registry.hpp: check_region, check_pair, add_all), how the layout
// merges, places and refuses (memory_map.hpp / memory_map.cpp's contract: VA = PA + offset, merged
// same-type neighbours, reservations first-fit above the TEE's RAM, largest first), and how tables
// are built (translation_table.hpp: the largest block wherever input, output and size allow it,
// so the model knows every leaf and every table page). Attributes come from the memory-type table
// (mm/memory_type.hpp), the one source of truth for what a type may do.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
#include <utility>
#include <vector>

#include "arch/arm64/walker.hpp"
#include "base/address.hpp"
#include "base/result.hpp"
#include "mm/memory_map.hpp"
#include "mm/memory_type.hpp"
#include "mm/phys_mem_registry.hpp"

namespace teemm::testing {

// ---- Registration -----------------------------------------------------------------------------------

inline bool model_is_reservation(const mm::Region& r) {
  return r.kind == mm::RegionKind::kMapped && mm::is_valid_type(r.type) &&
         mm::type_attributes(r.type).placement == mm::Placement::kVaReservation;
}

inline bool model_is_device(const mm::Region& r) {
  const bool io = r.type == mm::MemoryType::kIoSec || r.type == mm::MemoryType::kIoNsec;
  return r.kind == mm::RegionKind::kDeviceIo || (r.kind == mm::RegionKind::kMapped && io);
}

// What one region on its own is refused with (kOk: nothing).
inline Error model_region_error(const mm::Region& r) {
  using mm::MemoryType;
  using mm::RegionKind;
  if (r.name == nullptr || !mm::is_valid_type(r.type)) return Error::kInvalidArgument;
  bool fits = false;
  switch (r.kind) {
    case RegionKind::kMapped: fits = mm::type_attributes(r.type).placement != mm::Placement::kNotMapped; break;
    case RegionKind::kSecureDataPath: fits = r.type == MemoryType::kSdpMem; break;
    case RegionKind::kNonSecureDdr: fits = r.type == MemoryType::kRamNsec; break;
    case RegionKind::kOverallDdr: fits = r.type == MemoryType::kDdrOverall; break;
    case RegionKind::kDeviceIo: fits = r.type == MemoryType::kIoSec || r.type == MemoryType::kIoNsec; break;
  }
  if (!fits) return Error::kInvalidArgument;
  if (r.size.bytes == 0) return Error::kZeroSize;
  if ((r.base.value | r.size.bytes) & kPageMask) return Error::kMisaligned;
  if (model_is_reservation(r)) return r.base.value == 0 ? Error::kOk : Error::kInvalidArgument;
  if (r.base.value > kAddressLimit || r.size.bytes > kAddressLimit - r.base.value) return Error::kAddressOverflow;
  return Error::kOk;
}

// May two valid regions not coexist? Only overlapping physical ranges can conflict: mapped regions
// of different types; secure mapped memory and non-secure DDR; SDP memory and anything non-secure
// or any static mapping; devices and memory of any kind, or devices of the other security.
inline bool model_conflict(const mm::Region& a, const mm::Region& b) {
  using mm::RegionKind;
  if (model_is_reservation(a) || model_is_reservation(b)) return false;
  if (a.base.value >= b.base.value + b.size.bytes || b.base.value >= a.base.value + a.size.bytes) return false;
  const auto secure_mapped = [](const mm::Region& r) {
    return r.kind == RegionKind::kMapped && mm::type_attributes(r.type).secure;
  };
  const auto non_secure = [](const mm::Region& r) {
    return r.kind == RegionKind::kNonSecureDdr ||
           (r.kind == RegionKind::kMapped && !mm::type_attributes(r.type).secure);
  };
  const auto nsec_ddr = [](const mm::Region& r) { return r.kind == RegionKind::kNonSecureDdr; };
  const auto sdp = [](const mm::Region& r) { return r.kind == RegionKind::kSecureDataPath; };
  const auto mapped = [](const mm::Region& r) { return r.kind == RegionKind::kMapped; };
  const auto either = [&](auto first, auto second) { return (first(a) && second(b)) || (first(b) && second(a)); };
  if (mapped(a) && mapped(b) && a.type != b.type) return true;
  if (either(secure_mapped, nsec_ddr)) return true;
  if (either(sdp, non_secure) || either(sdp, mapped)) return true;
  if (model_is_device(a) != model_is_device(b)) return true;
  if (model_is_device(a) && model_is_device(b) && a.type != b.type) return true;
  return false;
}

class RegistryModel {
 public:
  explicit RegistryModel(size_t capacity) : capacity_(capacity) {}

  // The refusal add_all must give (error kOk: the batch is added).
  mm::Refusal predict_add_all(const mm::Region* batch, size_t count) const {
    if (count == 0) return {};
    for (size_t i = 0; i < count; ++i) {
      const mm::Region& r = batch[i];
      if (const Error e = model_region_error(r); e != Error::kOk)
        return {e, r.name != nullptr ? r.name : "(unnamed)", nullptr};
      for (const mm::Region& old : regions_)
        if (model_conflict(r, old)) return {Error::kOverlap, r.name, old.name};
      for (size_t j = 0; j < i; ++j)
        if (model_conflict(r, batch[j])) return {Error::kOverlap, r.name, batch[j].name};
    }
    if (regions_.size() + count > capacity_) return {Error::kOutOfMemory, batch[0].name, nullptr};
    return {};
  }
  void add_all(const mm::Region* batch, size_t count) { regions_.insert(regions_.end(), batch, batch + count); }

  // Is [base, base + size) wholly inside the union of the regions of `kind`?
  bool covers(mm::RegionKind kind, uint64_t base, uint64_t size) const {
    if (size == 0 || base > kAddressLimit || size > kAddressLimit - base) return false;
    std::vector<std::pair<uint64_t, uint64_t>> spans;
    for (const mm::Region& r : regions_)
      if (r.kind == kind && !model_is_reservation(r)) spans.emplace_back(r.base.value, r.base.value + r.size.bytes);
    std::sort(spans.begin(), spans.end());
    uint64_t reached = base;
    for (const auto& [start, end] : spans) {
      if (start > reached) break;
      reached = std::max(reached, end);
    }
    return reached >= base + size;
  }

  const std::vector<mm::Region>& regions() const { return regions_; }

 private:
  size_t capacity_;
  std::vector<mm::Region> regions_;
};

// ---- Layout -----------------------------------------------------------------------------------------------

struct ModelEntry {
  mm::MemoryType type = mm::MemoryType::kTeeRam;
  uint64_t pa = 0, va = 0, size = 0;
  bool reservation = false;
  std::set<const char*> names;  // the regions merged into it (any may name it)
};

struct LayoutPrediction {
  Error error = Error::kOk;
  std::vector<ModelEntry> entries;  // by VA
};

inline LayoutPrediction predict_layout(const std::vector<mm::Region>& regions, const mm::LayoutOptions& options,
                                       size_t capacity) {
  LayoutPrediction out;
  const auto refuse = [&out](Error e) {
    out.error = e;
    out.entries.clear();
    return out;
  };
  const uint64_t alignment = options.reservation_alignment;
  if (options.va_bits < 25 || options.va_bits > kMaxAddressBits || (options.va_offset & kPageMask) != 0 ||
      alignment < kPageSize || (alignment & (alignment - 1)) != 0)
    return refuse(Error::kInvalidArgument);
  // Physical: the union of each type's regions, touching ones joined.
  size_t physical_regions = 0;
  std::map<mm::MemoryType, std::vector<const mm::Region*>> by_type;
  for (const mm::Region& r : regions) {
    if (r.kind != mm::RegionKind::kMapped || model_is_reservation(r)) continue;
    ++physical_regions;
    by_type[r.type].push_back(&r);
  }
  if (physical_regions > capacity) return refuse(Error::kOutOfMemory);
  std::vector<ModelEntry> physical;
  for (auto& [type, list] : by_type) {
    std::sort(list.begin(), list.end(), [](const mm::Region* a, const mm::Region* b) { return a->base < b->base; });
    for (const mm::Region* r : list) {
      if (!physical.empty() && physical.back().type == type &&
          r->base.value <= physical.back().pa + physical.back().size) {
        ModelEntry& e = physical.back();
        e.size = std::max(e.pa + e.size, r->end()) - e.pa;
        e.names.insert(r->name);
      } else {
        physical.push_back(ModelEntry{type, r->base.value, 0, r->size.bytes, false, {r->name}});
      }
    }
  }
  const uint64_t va_limit = uint64_t{1} << options.va_bits;
  for (ModelEntry& e : physical) {
    if (e.pa > UINT64_MAX - options.va_offset) return refuse(Error::kAddressOverflow);
    e.va = e.pa + options.va_offset;
    if (e.va > va_limit || e.size > va_limit - e.va) return refuse(Error::kAddressOverflow);
  }
  // Reservations: largest first, each at the lowest aligned VA above the TEE's RAM that is free.
  std::vector<ModelEntry> reservations;
  for (const mm::Region& r : regions)
    if (model_is_reservation(r)) reservations.push_back(ModelEntry{r.type, 0, 0, r.size.bytes, true, {r.name}});
  if (physical.size() + reservations.size() > capacity) return refuse(Error::kOutOfMemory);
  std::stable_sort(reservations.begin(), reservations.end(),
                   [](const ModelEntry& a, const ModelEntry& b) { return a.size > b.size; });
  uint64_t floor = alignment;
  for (const ModelEntry& e : physical) {
    const bool tee_ram = e.type == mm::MemoryType::kTeeRam || e.type == mm::MemoryType::kTeeRamRx ||
                         e.type == mm::MemoryType::kTeeRamRo || e.type == mm::MemoryType::kTeeRamRw;
    if (tee_ram) floor = std::max(floor, e.va + e.size);
  }
  const auto align_up = [alignment](uint64_t v) { return (v + alignment - 1) & ~(alignment - 1); };
  std::vector<std::pair<uint64_t, uint64_t>> taken;  // [start, end) of everything placed
  for (const ModelEntry& e : physical) taken.emplace_back(e.va, e.va + e.size);
  for (ModelEntry& r : reservations) {
    std::sort(taken.begin(), taken.end());
    uint64_t at = align_up(floor);
    for (const auto& [start, end] : taken) {
      if (end <= at) continue;
      if (start >= at + r.size) break;
      at = align_up(end);
    }
    if (at > va_limit || r.size > va_limit - at) return refuse(Error::kNoVirtualSpace);
    r.va = at;
    taken.emplace_back(at, at + r.size);
  }
  out.entries = physical;
  out.entries.insert(out.entries.end(), reservations.begin(), reservations.end());
  std::sort(out.entries.begin(), out.entries.end(),
            [](const ModelEntry& a, const ModelEntry& b) { return a.va < b.va; });
  return out;
}

// ---- Tables ----------------------------------------------------------------------------------------------

struct ModelLeaf {
  uint64_t va = 0, pa = 0;
  unsigned level = 3;
  mm::MemoryType type = mm::MemoryType::kTeeRam;
};

// Leaves of uniform level: [va, end) at `level`, output pa at va.
struct ModelSegment {
  uint64_t va = 0, end = 0, pa = 0;
  unsigned level = 3;
  mm::MemoryType type = mm::MemoryType::kTeeRam;
};

inline uint64_t model_block_size(unsigned level) { return uint64_t{1} << (12 + 9 * (3 - level)); }

// The greedy decomposition the builder documents: at each address the largest leaf (1 GiB at
// level 1 if the regime's root is above it, 2 MiB, 4 KiB) whose input and output are aligned and
// which fits in what is left; runs of one level as segments (at most five per entry).
inline std::vector<ModelSegment> model_segments(const std::vector<ModelEntry>& entries, unsigned va_bits) {
  const unsigned start = va_bits > 39 ? 0 : va_bits > 30 ? 1 : 2;
  const unsigned top = std::max(start, 1u);
  std::vector<ModelSegment> segments;
  for (const ModelEntry& e : entries) {
    if (e.reservation) continue;
    const uint64_t end = e.va + e.size;
    const auto pa_at = [&e](uint64_t va) { return e.pa + (va - e.va); };
    const auto usable = [&](uint64_t va, unsigned level) {
      const uint64_t b = model_block_size(level);
      return va % b == 0 && pa_at(va) % b == 0 && end - va >= b;
    };
    for (uint64_t va = e.va; va < end;) {
      unsigned level = top;
      while (!usable(va, level)) ++level;
      const uint64_t b = model_block_size(level);
      uint64_t stop = va + (end - va) / b * b;
      if (level > top) {  // the next larger leaf takes over at its first usable boundary
        const uint64_t larger = model_block_size(level - 1);
        const uint64_t boundary = (va + larger - 1) / larger * larger;
        if (pa_at(boundary) % larger == 0 && boundary < end && end - boundary >= larger)
          stop = std::min(stop, boundary);
      }
      segments.push_back(ModelSegment{va, stop, pa_at(va), level, e.type});
      va = stop;
    }
  }
  return segments;
}

// Table pages the segments need: the root plus, per level below it, one table per region its
// parent entry covers that holds a leaf.
inline uint64_t model_table_pages(const std::vector<ModelSegment>& segments, unsigned va_bits) {
  const unsigned start = va_bits > 39 ? 0 : va_bits > 30 ? 1 : 2;
  uint64_t pages = 1;
  for (unsigned level = start + 1; level <= 3; ++level) {
    const unsigned shift = 12 + 9 * (3 - (level - 1));  // the parent entry's span
    uint64_t last = UINT64_MAX;
    for (const ModelSegment& s : segments) {  // in VA order: count distinct indices
      if (s.level < level) continue;
      const uint64_t first = s.va >> shift, final = (s.end - 1) >> shift;
      pages += final - first + 1 - (first == last ? 1 : 0);
      last = final;
    }
  }
  return pages;
}

// What the walker must decode from a leaf of `type` in the EL1&0 regime: the type's privileged
// access (write or execute implies read), nothing at all for EL0 (UXN set), its memory kind and
// security, global, accessed, shareable as teemm encodes its kind.
inline arm64::DecodedAttributes model_attributes(mm::MemoryType type) {
  const mm::TypeAttributes& t = mm::type_attributes(type);
  arm64::DecodedAttributes a;
  a.memory = t.memory;
  a.privileged = {t.privileged.read || t.privileged.write || t.privileged.execute, t.privileged.write,
                  t.privileged.execute};
  a.unprivileged = {false, false, false};
  a.shareability = t.memory == arm64::MemoryKind::kNormalWriteBack ? arm64::kShareInner : arm64::kShareOuter;
  a.non_secure = !t.secure;
  a.global = true;
  a.access_flag = true;
  a.single_privilege_execute = false;
  return a;
}

}  // namespace teemm::testing
