// mm/memory_type: the memory types of an OP-TEE-style core and the attributes each one implies.
//
// The table here is the single source of truth for "what may the core do with memory of type T";
// it can be checked line by line against ../shared/reference/memory-types.md. Turning attributes
// into descriptor bits is arch's business (arch/arm64/descriptor.hpp).
#pragma once

#include <cstdint>

#include "arch/arm64/descriptor.hpp"

namespace teemm::mm {

enum class MemoryType : uint8_t {
  kTeeRam,
  kTeeRamRx,
  kTeeRamRo,
  kTeeRamRw,
  kTeeCoherent,
  kTeeAsan,
  kTaRam,
  kNsecShm,
  kRamNsec,
  kRamSec,
  kIoNsec,
  kIoSec,
  kResVaspace,
  kShmVaspace,
  kTaVaspace,
  kPagerVaspace,
  kSdpMem,
  kDdrOverall,
};
inline constexpr unsigned kMemoryTypeCount = 18;

// How a type is treated by the static map.
enum class Placement : uint8_t {
  kMappedAtBoot,   // physical memory mapped by the static map
  kVaReservation,  // a virtual range reserved at boot, mapped later (dynamic SHM, IO, pager)
  kNotMapped,      // never in the static map (SDP and DDR lists, TA user space)
};

struct TypeAttributes {
  MemoryType type;
  const char* name;  // as OP-TEE spells it: "TEE_RAM_RX", ...
  Placement placement;
  bool secure;
  arm64::Access privileged;
  arm64::MemoryKind memory;
};

inline constexpr arm64::Access kNoAccess{false, false, false};
inline constexpr arm64::Access kReadWriteExecute{true, true, true};
inline constexpr arm64::Access kReadExecute{true, false, true};
inline constexpr arm64::Access kReadOnly{true, false, false};
inline constexpr arm64::Access kReadWrite{true, true, false};

using arm64::MemoryKind;
// Indexed by MemoryType; the static_assert below keeps the order honest.
inline constexpr TypeAttributes kTypeAttributes[kMemoryTypeCount] = {
    {MemoryType::kTeeRam, "TEE_RAM", Placement::kMappedAtBoot, true, kReadWriteExecute, MemoryKind::kNormalWriteBack},
    {MemoryType::kTeeRamRx, "TEE_RAM_RX", Placement::kMappedAtBoot, true, kReadExecute, MemoryKind::kNormalWriteBack},
    {MemoryType::kTeeRamRo, "TEE_RAM_RO", Placement::kMappedAtBoot, true, kReadOnly, MemoryKind::kNormalWriteBack},
    {MemoryType::kTeeRamRw, "TEE_RAM_RW", Placement::kMappedAtBoot, true, kReadWrite, MemoryKind::kNormalWriteBack},
    // OP-TEE maps TEE_COHERENT as RWX device memory. teemm: Normal non-cacheable and RW (see
    // docs/ARCHITECTURE.md, "Choices worth knowing"): coherent data needs no cache, not Device
    // semantics, and nothing executes from it, so W^X holds.
    {MemoryType::kTeeCoherent, "TEE_COHERENT", Placement::kMappedAtBoot, true, kReadWrite,
     MemoryKind::kNormalNonCacheable},
    {MemoryType::kTeeAsan, "TEE_ASAN", Placement::kMappedAtBoot, true, kReadWrite, MemoryKind::kNormalWriteBack},
    {MemoryType::kTaRam, "TA_RAM", Placement::kMappedAtBoot, true, kReadWrite, MemoryKind::kNormalWriteBack},
    {MemoryType::kNsecShm, "NSEC_SHM", Placement::kMappedAtBoot, false, kReadWrite, MemoryKind::kNormalWriteBack},
    {MemoryType::kRamNsec, "RAM_NSEC", Placement::kMappedAtBoot, false, kReadWrite, MemoryKind::kNormalWriteBack},
    {MemoryType::kRamSec, "RAM_SEC", Placement::kMappedAtBoot, true, kReadWrite, MemoryKind::kNormalWriteBack},
    {MemoryType::kIoNsec, "IO_NSEC", Placement::kMappedAtBoot, false, kReadWrite, MemoryKind::kDevice},
    {MemoryType::kIoSec, "IO_SEC", Placement::kMappedAtBoot, true, kReadWrite, MemoryKind::kDevice},
    {MemoryType::kResVaspace, "RES_VASPACE", Placement::kVaReservation, false, kNoAccess, MemoryKind::kNormalWriteBack},
    {MemoryType::kShmVaspace, "SHM_VASPACE", Placement::kVaReservation, false, kNoAccess, MemoryKind::kNormalWriteBack},
    {MemoryType::kTaVaspace, "TA_VASPACE", Placement::kNotMapped, false, kNoAccess, MemoryKind::kNormalWriteBack},
    {MemoryType::kPagerVaspace, "PAGER_VASPACE", Placement::kVaReservation, true, kNoAccess,
     MemoryKind::kNormalWriteBack},
    {MemoryType::kSdpMem, "SDP_MEM", Placement::kNotMapped, true, kNoAccess, MemoryKind::kNormalWriteBack},
    {MemoryType::kDdrOverall, "DDR_OVERALL", Placement::kNotMapped, false, kNoAccess, MemoryKind::kNormalWriteBack},
};

constexpr bool type_table_is_ordered() {
  for (unsigned i = 0; i < kMemoryTypeCount; ++i)
    if (static_cast<unsigned>(kTypeAttributes[i].type) != i) return false;
  return true;
}
static_assert(type_table_is_ordered(), "kTypeAttributes must be indexed by MemoryType");

constexpr bool is_valid_type(MemoryType type) { return static_cast<unsigned>(type) < kMemoryTypeCount; }
constexpr const TypeAttributes& type_attributes(MemoryType type) {
  return kTypeAttributes[static_cast<unsigned>(type)];
}
constexpr const char* memory_type_name(MemoryType type) {
  return is_valid_type(type) ? type_attributes(type).name : "INVALID";
}

// The architecture-level attributes the static map uses for a type (privileged access only: the
// static map is the core's own; user mappings belong to TA contexts).
constexpr arm64::MappingAttributes mapping_attributes(MemoryType type) {
  const TypeAttributes& t = type_attributes(type);
  arm64::MappingAttributes a;
  a.memory = t.memory;
  a.privileged = t.privileged;
  a.non_secure = !t.secure;
  a.global = true;
  return a;
}

// Looks a type up by its OP-TEE name ("TEE_RAM_RX"); false when there is no such type.
bool parse_memory_type(const char* name, MemoryType* out);

}  // namespace teemm::mm
