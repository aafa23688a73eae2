// The static memory map's layout: order, merging, VA assignment, reservations, bounds.
#include <gtest/gtest.h>

#include <vector>

#include "mm/memory_map.hpp"
#include "platform/builtin/qemu_virt.hpp"

namespace teemm::mm {
namespace {

constexpr uint64_t MiB = 1 << 20;

struct Layout {
  explicit Layout(std::vector<Region> regions, size_t capacity = 32)
      : region_storage(capacity),
        entries(capacity),
        registry(region_storage.data(), capacity),
        map(entries.data(), capacity) {
    refusal = registry.add_all(regions.data(), regions.size());
  }
  Refusal build(LayoutOptions options = {}) { return map.build(registry, options); }
  std::vector<Region> region_storage;
  std::vector<MapEntry> entries;
  PhysMemRegistry registry;
  MemoryMap map;
  Refusal refusal;
};

TEST(MemoryMap, QemuVirtIsSortedIdentityMappedWithReservationsAboveTeeRam) {
  Layout l({std::begin(platform::qemu_virt::kRegions), std::end(platform::qemu_virt::kRegions)});
  ASSERT_TRUE(l.refusal.ok());
  ASSERT_TRUE(l.build().ok());
  // 8 physical regions mapped + 2 reservations; SDP and DDR lists are not in the map.
  ASSERT_EQ(l.map.count(), 10u);
  for (size_t i = 1; i < l.map.count(); ++i) EXPECT_LE(l.map[i - 1].end_va(), l.map[i].va);
  const MapEntry* code = l.map.find_type(MemoryType::kTeeRamRx);
  ASSERT_NE(code, nullptr);
  EXPECT_EQ(code->va.value, code->pa.value);
  const MapEntry* shm = l.map.find_type(MemoryType::kShmVaspace);
  ASSERT_NE(shm, nullptr);
  const MapEntry* data = l.map.find_type(MemoryType::kTeeRamRw);
  EXPECT_GE(shm->va, data->end_va());
  EXPECT_TRUE(shm->va.is_aligned(2 * MiB));
  EXPECT_EQ(shm->size.bytes, platform::qemu_virt::kShmVaSpaceSize);
  EXPECT_EQ(l.map.find(VirtAddr(0x0e10'0123)), code);
  EXPECT_EQ(l.map.find(VirtAddr(0x100)), nullptr);
}

TEST(MemoryMap, MergesSameTypeNeighboursOnly) {
  Layout l({mapped_region("a", MemoryType::kTaRam, 0x1000'0000, MiB),
            mapped_region("b", MemoryType::kTaRam, 0x1010'0000, MiB),    // touches a: merged
            mapped_region("c", MemoryType::kTaRam, 0x1018'0000, MiB),    // overlaps b: merged
            mapped_region("d", MemoryType::kRamSec, 0x1028'0000, MiB),   // touches, other type
            mapped_region("e", MemoryType::kTaRam, 0x1040'0000, MiB)});  // gap: separate
  ASSERT_TRUE(l.refusal.ok());
  ASSERT_TRUE(l.build().ok());
  ASSERT_EQ(l.map.count(), 3u + 0u);
  EXPECT_STREQ(l.map[0].name, "a");
  EXPECT_EQ(l.map[0].size.bytes, 0x28'0000u);
  EXPECT_EQ(l.map[0].merged, 3u);
  EXPECT_EQ(l.map[1].type, MemoryType::kRamSec);
}

TEST(MemoryMap, AppliesVaOffsetAndRefusesPastTheVaSpace) {
  Layout l({mapped_region("a", MemoryType::kTaRam, 0x1000'0000, MiB)});
  LayoutOptions options;
  options.va_offset = 0x40'0000'0000;
  ASSERT_TRUE(l.build(options).ok());
  EXPECT_EQ(l.map[0].va.value, 0x40'1000'0000u);
  options.va_bits = 32;
  options.va_offset = 0xF000'0000;
  const Refusal refusal = l.build(options);
  EXPECT_EQ(refusal.error, Error::kAddressOverflow);
  EXPECT_STREQ(refusal.region, "a");
  EXPECT_EQ(l.map.count(), 0u);  // a refused layout leaves nothing behind
}

TEST(MemoryMap, RefusesBadOptions) {
  Layout l({mapped_region("a", MemoryType::kTaRam, 0x1000'0000, MiB)});
  LayoutOptions options;
  options.va_bits = 49;
  EXPECT_EQ(l.build(options).error, Error::kInvalidArgument);
  options = {};
  options.va_offset = 0x800;
  EXPECT_EQ(l.build(options).error, Error::kInvalidArgument);
  options = {};
  options.reservation_alignment = 3 * 4096;
  EXPECT_EQ(l.build(options).error, Error::kInvalidArgument);
}

TEST(MemoryMap, ReservationsFindFreeVaOrFailCleanly) {
  Layout l({mapped_region("tee", MemoryType::kTeeRamRw, 0x0e00'0000, 2 * MiB),
            mapped_region("blocker", MemoryType::kIoSec, 0x0e40'0000, MiB),
            va_reservation("small", MemoryType::kResVaspace, 2 * MiB),
            va_reservation("big", MemoryType::kShmVaspace, 8 * MiB)});
  ASSERT_TRUE(l.refusal.ok());
  ASSERT_TRUE(l.build().ok());
  const MapEntry* big = l.map.find_type(MemoryType::kShmVaspace);
  const MapEntry* small = l.map.find_type(MemoryType::kResVaspace);
  EXPECT_EQ(big->va.value, 0x0e60'0000u);    // does not fit between tee and blocker
  EXPECT_EQ(small->va.value, 0x0e20'0000u);  // fits in the 2 MiB hole after tee
  LayoutOptions tight;
  tight.va_bits = 28;  // 256 MiB: everything ends below 0x0f00'0000, the 8 MiB reservation fits
  EXPECT_TRUE(l.build(tight).ok());
  Layout no_room({mapped_region("tee", MemoryType::kTeeRamRw, 0x0100'0000, 2 * MiB),
                  va_reservation("huge", MemoryType::kShmVaspace, 120 * MiB)});
  tight.va_bits = 27;  // 128 MiB of VA; above the TEE's RAM only 110 MiB remain
  const Refusal refusal = no_room.build(tight);
  EXPECT_EQ(refusal.error, Error::kNoVirtualSpace);
  EXPECT_STREQ(refusal.region, "huge");
  EXPECT_EQ(no_room.map.count(), 0u);
}

TEST(MemoryMap, EntryPoolIsABound) {
  Layout l({mapped_region("a", MemoryType::kTaRam, 0x1000'0000, MiB),
            mapped_region("b", MemoryType::kIoSec, 0x2000'0000, MiB)},
           2);
  ASSERT_TRUE(l.build().ok());
  std::vector<MapEntry> one(1);
  MemoryMap small(one.data(), 1);
  const Refusal refusal = small.build(l.registry, {});
  EXPECT_EQ(refusal.error, Error::kOutOfMemory);
  EXPECT_EQ(small.count(), 0u);
}

}  // namespace
}  // namespace teemm::mm
