// Deriving a platform (mm::Region table) from a device tree and what the tree cannot say.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "mm/phys_mem_registry.hpp"
#include "platform/host/device_tree.hpp"
#include "platform/host/dt_platform.hpp"

namespace {

using namespace teemm;
using namespace teemm::platform::host;

std::string fixture(const std::string& name) {
  const std::string here = __FILE__;
  return here.substr(0, here.rfind('/')) + "/dt/" + name;
}

DeviceTree board() {
  DtReadResult r = read_dts_file(fixture("reader/board.dts"));
  EXPECT_TRUE(r.ok()) << r.error;
  return r.tree;
}

PlatformSpec board_spec() {
  PlatformSpec spec;
  spec.tee_ram = TeeRamSpec{0x7e00'0000, 0x10'0000, 0x8'0000, 0x18'0000};
  spec.ta_ram = RangeSpec{0x7e40'0000, 0x80'0000};
  spec.shm_vaspace = 0x400'0000;
  return spec;
}

const mm::Region* find(const DtPlatform& p, const std::string& name) {
  for (const mm::Region& r : p.regions)
    if (name == r.name) return &r;
  return nullptr;
}

std::vector<Interval> of_kind(const DtPlatform& p, mm::RegionKind kind) {
  std::vector<Interval> out;
  for (const mm::Region& r : p.regions)
    if (r.kind == kind) out.push_back(Interval{r.base.value, r.end()});
  return out;
}

void expect_region(const DtPlatform& p, const std::string& name, mm::RegionKind kind, mm::MemoryType type,
                   uint64_t base, uint64_t size) {
  const mm::Region* r = find(p, name);
  ASSERT_NE(r, nullptr) << name;
  EXPECT_EQ(r->kind, kind) << name;
  EXPECT_EQ(r->type, type) << name;
  EXPECT_EQ(r->base.value, base) << name;
  EXPECT_EQ(r->size.bytes, size) << name;
}

TEST(DtIntervals, UnionAndSubtract) {
  const std::vector<Interval> u = interval_union({{10, 20}, {0, 5}, {5, 8}, {15, 30}, {40, 40}});
  ASSERT_EQ(u.size(), 2u);
  EXPECT_EQ(u[0].begin, 0u);
  EXPECT_EQ(u[0].end, 8u);
  EXPECT_EQ(u[1].begin, 10u);
  EXPECT_EQ(u[1].end, 30u);
  const std::vector<Interval> d = interval_subtract({{0, 100}, {200, 300}}, {{10, 20}, {90, 210}, {250, 260}});
  ASSERT_EQ(d.size(), 4u);
  EXPECT_EQ(d[0].end, 10u);
  EXPECT_EQ(d[1].begin, 20u);
  EXPECT_EQ(d[1].end, 90u);
  EXPECT_EQ(d[2].begin, 210u);
  EXPECT_EQ(d[3].begin, 260u);
  EXPECT_TRUE(interval_subtract({{0, 10}}, {{0, 10}}).empty());
  EXPECT_EQ(page_ceil(UINT64_MAX), UINT64_MAX & ~kPageMask);  // saturates, never wraps
}

TEST(DtPlatform, MissingMembersAreNamed) {
  PlatformSpec spec;
  EXPECT_EQ(missing_members(spec), (std::vector<std::string>{"tee_ram", "ta_ram", "shm_vaspace"}));
  spec.ta_ram = RangeSpec{0x1000, 0x1000};
  EXPECT_EQ(missing_members(spec), (std::vector<std::string>{"tee_ram", "shm_vaspace"}));
  EXPECT_TRUE(missing_members(board_spec()).empty());
}

TEST(DtPlatform, TheBoardBecomesARegistryTable) {
  const DtPlatform p = derive_platform(board(), board_spec());
  ASSERT_EQ(p.regions.size(), p.origins.size());
  EXPECT_TRUE(mm::validate_regions(p.regions.data(), p.regions.size()).ok());
  using K = mm::RegionKind;
  using T = mm::MemoryType;
  expect_region(p, "tee-code", K::kMapped, T::kTeeRamRx, 0x7e00'0000, 0x10'0000);
  expect_region(p, "tee-rodata", K::kMapped, T::kTeeRamRo, 0x7e10'0000, 0x8'0000);
  expect_region(p, "tee-data", K::kMapped, T::kTeeRamRw, 0x7e18'0000, 0x18'0000);
  expect_region(p, "ta-ram", K::kMapped, T::kTaRam, 0x7e40'0000, 0x80'0000);
  // The GIC's CPU-facing frames are mapped secure; its GICC frame is a device of the node's security.
  expect_region(p, "interrupt-controller@8000000", K::kMapped, T::kIoSec, 0x800'0000, 0x1'0000);
  expect_region(p, "interrupt-controller@8000000[2]", K::kMapped, T::kIoSec, 0x81a'0000, 0x10'0000);
  expect_region(p, "interrupt-controller@8000000[3]", K::kDeviceIo, T::kIoNsec, 0x830'0000, 0x2000);
  // UARTs rounded out to a page, typed by their security.
  expect_region(p, "serial@10000", K::kMapped, T::kIoNsec, 0x1001'0000, 0x1000);
  expect_region(p, "serial@11000", K::kMapped, T::kIoSec, 0x1001'1000, 0x1000);
  expect_region(p, "optee_shm@7f000000", K::kMapped, T::kNsecShm, 0x7f00'0000, 0x20'0000);
  expect_region(p, "shm-vaspace", K::kMapped, T::kShmVaspace, 0, 0x400'0000);
  EXPECT_EQ(find(p, "io-vaspace"), nullptr);  // optional, not given
  expect_region(p, "timer@80000000", K::kDeviceIo, T::kIoNsec, 0x1'8000'0000, 0x1000);
  expect_region(p, "gpio@4000", K::kDeviceIo, T::kIoNsec, 0x1020'4000, 0x1000);
  expect_region(p, "memory@40000000", K::kOverallDdr, T::kDdrOverall, 0x4000'0000, 0x4000'0000);
  expect_region(p, "memory@40000000[1]", K::kOverallDdr, T::kDdrOverall, 0x8'8000'0000, 0x8000'0000);
  expect_region(p, "secmem@e000000", K::kOverallDdr, T::kDdrOverall, 0xe00'0000, 0x100'0000);
  EXPECT_EQ(p.origin_of("serial@10000"), "/soc@10000000/serial@10000 reg[0]");
  EXPECT_EQ(p.origin_of("tee-code"), "tee_ram (code)");

  // Non-secure DDR: the normal world's memory minus OP-TEE's carve-out and SHM (no-map), the secure
  // TF-A reservation; the ramoops reservation (mapped by the OS) stays.
  const std::vector<Interval> ns = of_kind(p, K::kNonSecureDdr);
  const std::vector<Interval> expected = {{0x4000'0000, 0x7e00'0000},
                                          {0x7f20'0000, 0x7fa0'0000},
                                          {0x7fc0'0000, 0x8000'0000},
                                          {0x1'0000'0000, 0x1'2000'0000},
                                          {0x8'8000'0000, 0x9'0000'0000}};
  ASSERT_EQ(ns.size(), expected.size());
  for (size_t i = 0; i < ns.size(); ++i) {
    EXPECT_EQ(ns[i].begin, expected[i].begin) << i;
    EXPECT_EQ(ns[i].end, expected[i].end) << i;
  }
  EXPECT_NE(find(p, "nsec-ddr@40000000"), nullptr);
}

TEST(DtPlatform, SpecOverridesAndRounding) {
  DeviceTree tree;
  tree.source = "t";
  tree.memory.push_back(DtMemory{"/memory@40000800", 0, DtRange{0x4000'0800, 0x1000'0000}, {}});
  tree.reserved.push_back(DtReserved{"/reserved-memory/optee_shm@42000000",
                                     0,
                                     DtRange{0x4200'0000, 0x20'0000},
                                     true,
                                     false,
                                     ReservedRole::kOpteeShm,
                                     {}});
  // Eight virtio-like devices of 0x200 bytes in one page: one region; a second page: another.
  for (unsigned i = 0; i < 9; ++i)
    tree.devices.push_back(DtDevice{"/virtio@" + std::to_string(i),
                                    0,
                                    DtRange{0xa00'0000 + 0x200 * i, 0x200},
                                    "virtio,mmio",
                                    DeviceClass::kOther,
                                    false,
                                    {}});
  PlatformSpec spec = board_spec();
  spec.tee_ram = TeeRamSpec{0x0e10'0000, 0x10'0000, 0, 0x10'0000};  // no rodata: no empty region
  spec.ta_ram = RangeSpec{0x0e40'0000, 0x40'0000};
  spec.nsec_shm = RangeSpec{0x4300'0000, 0x10'0000};
  spec.sdp = RangeSpec{0x4800'0000, 0x100'0000};
  spec.io_vaspace = 0x100'0000;
  const DtPlatform p = derive_platform(tree, spec);
  EXPECT_EQ(find(p, "tee-rodata"), nullptr);
  EXPECT_NE(find(p, "io-vaspace"), nullptr);
  expect_region(p, "nsec-shm", mm::RegionKind::kMapped, mm::MemoryType::kNsecShm, 0x4300'0000, 0x10'0000);
  EXPECT_EQ(find(p, "optee_shm@42000000"), nullptr);  // the spec's static SHM replaces the tree's
  expect_region(p, "sdp", mm::RegionKind::kSecureDataPath, mm::MemoryType::kSdpMem, 0x4800'0000, 0x100'0000);
  expect_region(p, "virtio@0", mm::RegionKind::kDeviceIo, mm::MemoryType::kIoNsec, 0xa00'0000, 0x1000);
  expect_region(p, "virtio@8", mm::RegionKind::kDeviceIo, mm::MemoryType::kIoNsec, 0xa00'1000, 0x1000);
  EXPECT_EQ(of_kind(p, mm::RegionKind::kDeviceIo).size(), 2u);
  // Memory rounded in to whole pages; SDP and the no-map SHM carve-out withheld from non-secure DDR.
  expect_region(p, "memory@40000800", mm::RegionKind::kOverallDdr, mm::MemoryType::kDdrOverall, 0x4000'1000,
                0x1000'0000 - 0x1000);
  const std::vector<Interval> ns = of_kind(p, mm::RegionKind::kNonSecureDdr);
  ASSERT_EQ(ns.size(), 3u);
  EXPECT_EQ(ns[0].begin, 0x4000'1000u);
  EXPECT_EQ(ns[0].end, 0x4200'0000u);
  EXPECT_EQ(ns[1].begin, 0x4220'0000u);
  EXPECT_EQ(ns[1].end, 0x4800'0000u);
  EXPECT_EQ(ns[2].begin, 0x4900'0000u);
  EXPECT_EQ(ns[2].end, 0x5000'0000u);
  EXPECT_TRUE(mm::validate_regions(p.regions.data(), p.regions.size()).ok());
}

TEST(DtPlatform, NamesStayValidWhenThePlatformMoves) {
  DtPlatform moved = derive_platform(board(), board_spec());
  const std::vector<mm::Region> before = moved.regions;
  DtPlatform other = std::move(moved);
  ASSERT_EQ(other.regions.size(), before.size());
  for (size_t i = 0; i < before.size(); ++i) EXPECT_STREQ(other.regions[i].name, before[i].name);
}

}  // namespace
