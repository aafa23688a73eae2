// mm/phys_mem_registry: the platform's memory, as typed regions, checked as they are registered.
//
// Owns the four registration kinds of an OP-TEE-style core: physical memory the static map maps
// (and virtual-space reservations), secure-data-path memory, non-secure DDR usable for dynamic
// shared memory, and overall DDR. Regions come from compile-time tables (validate_regions works in
// a static_assert) or at run time; a bad registration is refused with the names of the regions
// at fault and leaves the registry as it was. Storage is the caller's.
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/address.hpp"
#include "base/result.hpp"
#include "mm/memory_type.hpp"

namespace teemm::mm {

enum class RegionKind : uint8_t {
  kMapped,          // mapped physical memory, or (for *_VASPACE types) a VA reservation
  kSecureDataPath,  // where secure-data-path buffers may lie
  kNonSecureDdr,    // where normal-world pages for dynamic shared memory may lie
  kOverallDdr,      // all DRAM of the platform
  kDeviceIo,        // device registers that may be ioremapped at run time (type IO_SEC or IO_NSEC)
};

constexpr const char* region_kind_name(RegionKind kind) {
  switch (kind) {
    case RegionKind::kMapped: return "mapped";
    case RegionKind::kSecureDataPath: return "sdp";
    case RegionKind::kNonSecureDdr: return "nsec-ddr";
    case RegionKind::kOverallDdr: return "ddr";
    case RegionKind::kDeviceIo: return "device";
  }
  return "unknown";
}

struct Region {
  const char* name = nullptr;
  RegionKind kind = RegionKind::kMapped;
  MemoryType type = MemoryType::kTeeRam;
  PhysAddr base;  // ignored (must be 0) for VA reservations
  Size size;

  constexpr bool is_va_reservation() const {
    return kind == RegionKind::kMapped && is_valid_type(type) &&
           type_attributes(type).placement == Placement::kVaReservation;
  }
  constexpr uint64_t end() const { return base.value + size.bytes; }
};

// Helpers that spell a registration the way a platform table reads best.
constexpr Region mapped_region(const char* name, MemoryType type, uint64_t base, uint64_t size) {
  return {name, RegionKind::kMapped, type, PhysAddr(base), Size(size)};
}
constexpr Region va_reservation(const char* name, MemoryType type, uint64_t size) {
  return {name, RegionKind::kMapped, type, PhysAddr(0), Size(size)};
}
constexpr Region sdp_region(const char* name, uint64_t base, uint64_t size) {
  return {name, RegionKind::kSecureDataPath, MemoryType::kSdpMem, PhysAddr(base), Size(size)};
}
constexpr Region nsec_ddr_region(const char* name, uint64_t base, uint64_t size) {
  return {name, RegionKind::kNonSecureDdr, MemoryType::kRamNsec, PhysAddr(base), Size(size)};
}
constexpr Region ddr_region(const char* name, uint64_t base, uint64_t size) {
  return {name, RegionKind::kOverallDdr, MemoryType::kDdrOverall, PhysAddr(base), Size(size)};
}
// Device registers the core may ioremap later; `type` says their security (IO_SEC or IO_NSEC).
constexpr Region device_region(const char* name, MemoryType type, uint64_t base, uint64_t size) {
  return {name, RegionKind::kDeviceIo, type, PhysAddr(base), Size(size)};
}

constexpr bool is_io_type(MemoryType type) { return type == MemoryType::kIoSec || type == MemoryType::kIoNsec; }

// Why a registration (or a layout) was refused: the error and the regions it concerns.
struct Refusal {
  Error error = Error::kOk;
  const char* region = nullptr;       // the region refused
  const char* conflicting = nullptr;  // the region it conflicts with, if any
  constexpr bool ok() const { return error == Error::kOk; }
};

// Checks one region on its own.
constexpr Refusal check_region(const Region& r) {
  const char* name = r.name != nullptr ? r.name : "(unnamed)";
  if (r.name == nullptr || !is_valid_type(r.type)) return {Error::kInvalidArgument, name, nullptr};
  const Placement placement = type_attributes(r.type).placement;
  const bool type_fits_kind = r.kind == RegionKind::kMapped           ? placement != Placement::kNotMapped
                              : r.kind == RegionKind::kSecureDataPath ? r.type == MemoryType::kSdpMem
                              : r.kind == RegionKind::kNonSecureDdr   ? r.type == MemoryType::kRamNsec
                              : r.kind == RegionKind::kDeviceIo       ? is_io_type(r.type)
                                                                      : r.type == MemoryType::kDdrOverall;
  if (!type_fits_kind) return {Error::kInvalidArgument, name, nullptr};
  if (r.size.is_zero()) return {Error::kZeroSize, name, nullptr};
  if (!r.size.is_page_aligned() || !r.base.is_page_aligned()) return {Error::kMisaligned, name, nullptr};
  if (r.is_va_reservation()) return r.base.value == 0 ? Refusal{} : Refusal{Error::kInvalidArgument, name, nullptr};
  if (!range_fits(r.base.value, r.size.bytes, kAddressLimit)) return {Error::kAddressOverflow, name, nullptr};
  return {};
}

// Is `r` device registers (declared for ioremap, or statically mapped IO)?
constexpr bool is_device(const Region& r) {
  return r.kind == RegionKind::kDeviceIo || (r.kind == RegionKind::kMapped && is_io_type(r.type));
}

// May two (individually valid) regions coexist? Overlap is refused between mapped regions of
// different types, between secure memory and non-secure DDR, between SDP memory and anything
// non-secure or any static mapping (OP-TEE refuses SDP that intersects the static map), and
// between device registers and memory of any kind, or devices of the other security. Same-type
// mapped regions may overlap or touch: the layout merges them.
constexpr Refusal check_pair(const Region& a, const Region& b) {
  if (a.is_va_reservation() || b.is_va_reservation()) return {};
  if (!ranges_overlap(a.base.value, a.size.bytes, b.base.value, b.size.bytes)) return {};
  const auto is_secure_mapped = [](const Region& r) {
    return r.kind == RegionKind::kMapped && type_attributes(r.type).secure;
  };
  const auto is_non_secure = [](const Region& r) {
    return r.kind == RegionKind::kNonSecureDdr || (r.kind == RegionKind::kMapped && !type_attributes(r.type).secure);
  };
  const auto either = [&](auto first, auto second) { return (first(a) && second(b)) || (first(b) && second(a)); };
  const auto is_nsec_ddr = [](const Region& r) { return r.kind == RegionKind::kNonSecureDdr; };
  const auto is_sdp = [](const Region& r) { return r.kind == RegionKind::kSecureDataPath; };
  const auto is_mapped = [](const Region& r) { return r.kind == RegionKind::kMapped; };
  const auto is_memory = [](const Region& r) { return !is_device(r); };
  bool conflict = false;
  if (a.kind == RegionKind::kMapped && b.kind == RegionKind::kMapped) conflict = a.type != b.type;
  if (either(is_nsec_ddr, is_secure_mapped)) conflict = true;
  if (either(is_sdp, is_non_secure) || either(is_sdp, is_mapped)) conflict = true;
  if (either(is_device, is_memory)) conflict = true;
  if (is_device(a) && is_device(b) && a.type != b.type) conflict = true;
  return conflict ? Refusal{Error::kOverlap, a.name, b.name} : Refusal{};
}

// Validates a whole table (each region, then every pair). Usable in a static_assert.
constexpr Refusal validate_regions(const Region* regions, size_t count) {
  for (size_t i = 0; i < count; ++i)
    if (Refusal r = check_region(regions[i]); !r.ok()) return r;
  for (size_t i = 0; i < count; ++i)
    for (size_t j = i + 1; j < count; ++j)
      if (Refusal r = check_pair(regions[j], regions[i]); !r.ok()) return r;
  return {};
}

class PhysMemRegistry {
 public:
  PhysMemRegistry(Region* storage, size_t capacity) : regions_(storage), capacity_(capacity) {}

  // Adds one region after checking it against itself and every registered region.
  Refusal add(const Region& region);
  // Adds a batch all-or-nothing: every region is checked (also against the others in the batch)
  // before any is added.
  Refusal add_all(const Region* regions, size_t count);

  size_t count() const { return count_; }
  size_t capacity() const { return capacity_; }
  const Region& operator[](size_t index) const { return regions_[index]; }
  const Region* begin() const { return regions_; }
  const Region* end() const { return regions_ + count_; }

  // True when [base, base + size) lies wholly inside the union of regions of `kind` (adjacent and
  // overlapping regions count as one stretch).
  bool covers(RegionKind kind, PhysAddr base, Size size) const;

 private:
  Region* regions_;
  size_t capacity_;
  size_t count_ = 0;
};

}  // namespace teemm::mm
