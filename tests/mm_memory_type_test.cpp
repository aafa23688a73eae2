// Memory types: each type's attributes against ../shared/reference/memory-types.md, row by row.
#include <gtest/gtest.h>

#include "mm/memory_type.hpp"

namespace teemm::mm {
namespace {

struct Expected {
  MemoryType type;
  const char* name;
  Placement placement;
  bool secure;
  const char* access;  // privileged r/w/x
  arm64::MemoryKind memory;
};

std::string access(const arm64::Access& a) {
  return std::string(a.read ? "r" : "-") + (a.write ? "w" : "-") + (a.execute ? "x" : "-");
}

using arm64::MemoryKind;
constexpr Placement kMapped = Placement::kMappedAtBoot;
constexpr Placement kReserved = Placement::kVaReservation;
constexpr Placement kNot = Placement::kNotMapped;

const Expected kReference[] = {
    {MemoryType::kTeeRam, "TEE_RAM", kMapped, true, "rwx", MemoryKind::kNormalWriteBack},
    {MemoryType::kTeeRamRx, "TEE_RAM_RX", kMapped, true, "r-x", MemoryKind::kNormalWriteBack},
    {MemoryType::kTeeRamRo, "TEE_RAM_RO", kMapped, true, "r--", MemoryKind::kNormalWriteBack},
    {MemoryType::kTeeRamRw, "TEE_RAM_RW", kMapped, true, "rw-", MemoryKind::kNormalWriteBack},
    // OP-TEE: RWX device; teemm: RW Normal non-cacheable (docs/ARCHITECTURE.md says why).
    {MemoryType::kTeeCoherent, "TEE_COHERENT", kMapped, true, "rw-", MemoryKind::kNormalNonCacheable},
    {MemoryType::kTeeAsan, "TEE_ASAN", kMapped, true, "rw-", MemoryKind::kNormalWriteBack},
    {MemoryType::kTaRam, "TA_RAM", kMapped, true, "rw-", MemoryKind::kNormalWriteBack},
    {MemoryType::kNsecShm, "NSEC_SHM", kMapped, false, "rw-", MemoryKind::kNormalWriteBack},
    {MemoryType::kRamNsec, "RAM_NSEC", kMapped, false, "rw-", MemoryKind::kNormalWriteBack},
    {MemoryType::kRamSec, "RAM_SEC", kMapped, true, "rw-", MemoryKind::kNormalWriteBack},
    {MemoryType::kIoNsec, "IO_NSEC", kMapped, false, "rw-", MemoryKind::kDevice},
    {MemoryType::kIoSec, "IO_SEC", kMapped, true, "rw-", MemoryKind::kDevice},
    {MemoryType::kResVaspace, "RES_VASPACE", kReserved, false, "---", MemoryKind::kNormalWriteBack},
    {MemoryType::kShmVaspace, "SHM_VASPACE", kReserved, false, "---", MemoryKind::kNormalWriteBack},
    {MemoryType::kTaVaspace, "TA_VASPACE", kNot, false, "---", MemoryKind::kNormalWriteBack},
    {MemoryType::kPagerVaspace, "PAGER_VASPACE", kReserved, true, "---", MemoryKind::kNormalWriteBack},
    {MemoryType::kSdpMem, "SDP_MEM", kNot, true, "---", MemoryKind::kNormalWriteBack},
    {MemoryType::kDdrOverall, "DDR_OVERALL", kNot, false, "---", MemoryKind::kNormalWriteBack},
};

TEST(MemoryType, EveryTypeMatchesTheReferenceTable) {
  ASSERT_EQ(std::size(kReference), kMemoryTypeCount);
  for (const Expected& e : kReference) {
    SCOPED_TRACE(e.name);
    const TypeAttributes& t = type_attributes(e.type);
    EXPECT_STREQ(t.name, e.name);
    EXPECT_EQ(t.placement, e.placement);
    if (e.placement == kMapped) {
      EXPECT_EQ(t.secure, e.secure);
    }
    EXPECT_EQ(access(t.privileged), e.access);
    if (e.placement == kMapped) {
      EXPECT_EQ(t.memory, e.memory);
    }
  }
}

TEST(MemoryType, OnlyTeeRamIsWritableAndExecutable) {
  for (const TypeAttributes& t : kTypeAttributes) {
    const bool wx = t.privileged.write && t.privileged.execute;
    EXPECT_EQ(wx, t.type == MemoryType::kTeeRam) << t.name;
  }
}

TEST(MemoryType, MappingAttributesClearNsForSecureTypes) {
  EXPECT_FALSE(mapping_attributes(MemoryType::kTeeRamRx).non_secure);
  EXPECT_FALSE(mapping_attributes(MemoryType::kIoSec).non_secure);
  EXPECT_TRUE(mapping_attributes(MemoryType::kNsecShm).non_secure);
  EXPECT_TRUE(mapping_attributes(MemoryType::kIoNsec).non_secure);
  const uint64_t code = arm64::encode_leaf_attributes(arm64::Stage::kStage1, mapping_attributes(MemoryType::kTeeRamRx));
  EXPECT_EQ(code & arm64::kNS, 0u);
  EXPECT_EQ(code & arm64::kPXN, 0u);  // the core executes it
  EXPECT_NE(code & arm64::kUXN, 0u);  // EL0 never does
  EXPECT_NE(code & arm64::kAP2, 0u);
  const uint64_t shm = arm64::encode_leaf_attributes(arm64::Stage::kStage1, mapping_attributes(MemoryType::kNsecShm));
  EXPECT_NE(shm & arm64::kNS, 0u);
  EXPECT_NE(shm & arm64::kPXN, 0u);
}

TEST(MemoryType, ParseByName) {
  MemoryType type{};
  EXPECT_TRUE(parse_memory_type("TEE_RAM_RX", &type));
  EXPECT_EQ(type, MemoryType::kTeeRamRx);
  EXPECT_TRUE(parse_memory_type("DDR_OVERALL", &type));
  EXPECT_EQ(type, MemoryType::kDdrOverall);
  EXPECT_FALSE(parse_memory_type("TEE_RAM_R", &type));
  EXPECT_FALSE(parse_memory_type("", &type));
  EXPECT_FALSE(parse_memory_type(nullptr, &type));
  EXPECT_STREQ(memory_type_name(static_cast<MemoryType>(200)), "INVALID");
}

}  // namespace
}  // namespace teemm::mm
