// The physical-memory registry: valid tables, every refusal (with the regions it names), batch
// atomicity, capacity bounds and coverage queries.
#include <gtest/gtest.h>

#include <vector>

#include "mm/phys_mem_registry.hpp"
#include "platform/builtin/qemu_virt.hpp"

namespace teemm::mm {
namespace {

struct Registry {
  explicit Registry(size_t capacity = 32) : storage(capacity), registry(storage.data(), capacity) {}
  std::vector<Region> storage;
  PhysMemRegistry registry;
};

constexpr uint64_t MiB = 1 << 20;

TEST(Registry, QemuVirtTableIsValidAtCompileTimeAndRunTime) {
  static_assert(validate_regions(platform::qemu_virt::kRegions, platform::qemu_virt::kRegionCount).ok());
  Registry r;
  EXPECT_TRUE(r.registry.add_all(platform::qemu_virt::kRegions, platform::qemu_virt::kRegionCount).ok());
  EXPECT_EQ(r.registry.count(), platform::qemu_virt::kRegionCount);
}

void expect_refused(const Region& region, Error error) {
  Registry r;
  const Refusal refusal = r.registry.add(region);
  EXPECT_EQ(refusal.error, error) << region.name;
  EXPECT_STREQ(refusal.region, region.name);
  EXPECT_EQ(r.registry.count(), 0u);
}

TEST(Registry, RefusesBadRegionsAlone) {
  expect_refused(mapped_region("zero", MemoryType::kTaRam, 0x1000, 0), Error::kZeroSize);
  expect_refused(mapped_region("unaligned-base", MemoryType::kTaRam, 0x1800, 0x1000), Error::kMisaligned);
  expect_refused(mapped_region("unaligned-size", MemoryType::kTaRam, 0x1000, 0x1800), Error::kMisaligned);
  expect_refused(mapped_region("past-48-bits", MemoryType::kTaRam, (1ull << 48) - 0x1000, 0x2000),
                 Error::kAddressOverflow);
  expect_refused(mapped_region("wraps", MemoryType::kTaRam, 0xFFFF'FFFF'FFFF'F000ull, 0x2000), Error::kAddressOverflow);
  expect_refused(mapped_region("bad-type", static_cast<MemoryType>(99), 0x1000, 0x1000), Error::kInvalidArgument);
  expect_refused(mapped_region("sdp-as-mapped", MemoryType::kSdpMem, 0x1000, 0x1000), Error::kInvalidArgument);
  expect_refused(Region{"ddr-wrong-type", RegionKind::kOverallDdr, MemoryType::kTaRam, PhysAddr(0), Size(0x1000)},
                 Error::kInvalidArgument);
  expect_refused(
      Region{"reservation-with-pa", RegionKind::kMapped, MemoryType::kShmVaspace, PhysAddr(0x1000), Size(0x1000)},
      Error::kInvalidArgument);
  Registry r;
  EXPECT_EQ(r.registry.add(mapped_region(nullptr, MemoryType::kTaRam, 0x1000, 0x1000)).error, Error::kInvalidArgument);
}

TEST(Registry, RefusesIncompatibleOverlapNamingBothRegions) {
  Registry r;
  ASSERT_TRUE(r.registry.add(mapped_region("ta", MemoryType::kTaRam, 0x1000'0000, 4 * MiB)).ok());
  const Refusal refusal = r.registry.add(mapped_region("uart", MemoryType::kIoNsec, 0x1030'0000, 0x1000));
  EXPECT_EQ(refusal.error, Error::kOverlap);
  EXPECT_STREQ(refusal.region, "uart");
  EXPECT_STREQ(refusal.conflicting, "ta");
  EXPECT_EQ(r.registry.count(), 1u);
  // Same type may overlap and touch: the layout merges it.
  EXPECT_TRUE(r.registry.add(mapped_region("ta-more", MemoryType::kTaRam, 0x1030'0000, 4 * MiB)).ok());
  // Touching without overlap is fine for any types.
  EXPECT_TRUE(r.registry.add(mapped_region("after", MemoryType::kIoSec, 0x1070'0000, 0x1000)).ok());
}

TEST(Registry, NonSecureDdrMayNotCoverSecureMemoryAndSdpMayNotTouchNonSecure) {
  Registry r;
  ASSERT_TRUE(r.registry.add(mapped_region("tee", MemoryType::kTeeRamRw, 0x0e10'0000, MiB)).ok());
  ASSERT_TRUE(r.registry.add(mapped_region("shm", MemoryType::kNsecShm, 0x4200'0000, 2 * MiB)).ok());
  Refusal refusal = r.registry.add(nsec_ddr_region("ddr", 0x0e00'0000, 16 * MiB));
  EXPECT_EQ(refusal.error, Error::kOverlap);
  EXPECT_STREQ(refusal.conflicting, "tee");
  EXPECT_TRUE(r.registry.add(nsec_ddr_region("ddr", 0x4000'0000, 512 * MiB)).ok());  // covers non-secure shm: fine
  refusal = r.registry.add(sdp_region("sdp", 0x4100'0000, MiB));
  EXPECT_EQ(refusal.error, Error::kOverlap);
  EXPECT_STREQ(refusal.conflicting, "ddr");
  EXPECT_TRUE(r.registry.add(sdp_region("sdp", 0x0ec0'0000, 4 * MiB)).ok());
  EXPECT_TRUE(r.registry.add(ddr_region("all", 0, 4096 * MiB)).ok());  // overall DDR overlaps anything
}

TEST(Registry, BatchIsAllOrNothing) {
  Registry r;
  const Region batch[] = {
      mapped_region("a", MemoryType::kTaRam, 0x1000'0000, MiB),
      mapped_region("b", MemoryType::kIoSec, 0x2000'0000, 0x1000),
      mapped_region("c", MemoryType::kIoNsec, 0x1000'8000, 0x1000),  // overlaps a
  };
  const Refusal refusal = r.registry.add_all(batch, 3);
  EXPECT_EQ(refusal.error, Error::kOverlap);
  EXPECT_STREQ(refusal.region, "c");
  EXPECT_STREQ(refusal.conflicting, "a");
  EXPECT_EQ(r.registry.count(), 0u);
  EXPECT_FALSE(validate_regions(batch, 3).ok());
  EXPECT_TRUE(validate_regions(batch, 2).ok());
}

TEST(Registry, CapacityIsABoundNotACrash) {
  Registry r(2);
  EXPECT_TRUE(r.registry.add(mapped_region("a", MemoryType::kTaRam, 0x1000, 0x1000)).ok());
  EXPECT_TRUE(r.registry.add(mapped_region("b", MemoryType::kTaRam, 0x3000, 0x1000)).ok());
  const Refusal refusal = r.registry.add(mapped_region("c", MemoryType::kTaRam, 0x5000, 0x1000));
  EXPECT_EQ(refusal.error, Error::kOutOfMemory);
  EXPECT_STREQ(refusal.region, "c");
  EXPECT_EQ(r.registry.count(), 2u);
}

TEST(Registry, CoversJoinsAdjacentRegions) {
  Registry r;
  ASSERT_TRUE(r.registry.add(nsec_ddr_region("low", 0x4000'0000, 16 * MiB)).ok());
  ASSERT_TRUE(r.registry.add(nsec_ddr_region("high", 0x4100'0000, 16 * MiB)).ok());
  EXPECT_TRUE(r.registry.covers(RegionKind::kNonSecureDdr, PhysAddr(0x40ff'f000), Size(0x2000)));
  EXPECT_FALSE(r.registry.covers(RegionKind::kNonSecureDdr, PhysAddr(0x41ff'f000), Size(0x2000)));
  EXPECT_FALSE(r.registry.covers(RegionKind::kNonSecureDdr, PhysAddr(0x3fff'f000), Size(0x2000)));
  EXPECT_FALSE(r.registry.covers(RegionKind::kSecureDataPath, PhysAddr(0x4000'0000), Size(0x1000)));
  EXPECT_FALSE(r.registry.covers(RegionKind::kNonSecureDdr, PhysAddr(0x4000'0000), Size(0)));
}

}  // namespace
}  // namespace teemm::mm
