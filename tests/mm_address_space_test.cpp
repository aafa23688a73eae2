// The live address space: shared-memory mapping, ioremap sharing, guest teardown, lookups, TLB
// maintenance, bounds, and a long random sequence against a plain reference model.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <vector>

#include "support/address_space_fixture.hpp"

namespace teemm::mm {
namespace {

using testing::AddressSpaceFixture;
namespace q = platform::qemu_virt;

std::vector<PhysAddr> contiguous(uint64_t first, uint64_t count) {
  std::vector<PhysAddr> pages;
  for (uint64_t i = 0; i < count; ++i) pages.push_back(PhysAddr(first + i * kPageSize));
  return pages;
}

TEST(AddressSpace, MapSharedPlacesPagesInTheShmReservationWithAGuard) {
  AddressSpaceFixture f;
  const std::vector<PhysAddr> pages = {PhysAddr(0x4010'0000), PhysAddr(0x4010'1000), PhysAddr(0x4700'0000)};
  const Result<VirtAddr> va = f.space.map_shared(GuestId(3), pages.data(), PageCount(3), 0xC00C1E);
  ASSERT_TRUE(va);
  const MapEntry* shm = f.map.find_type(MemoryType::kShmVaspace);
  EXPECT_GE(*va, shm->va);
  EXPECT_LE(*va + Size(4 * kPageSize), shm->end_va());
  for (size_t i = 0; i < pages.size(); ++i) {
    const arm64::WalkResult r = f.space.translate(*va + Size(i * kPageSize + 0x10));
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.output, pages[i].value + 0x10);
    EXPECT_TRUE(r.attributes.non_secure);
    EXPECT_EQ(r.attributes.privileged, (arm64::Access{true, true, false}));
  }
  EXPECT_FALSE(f.space.translate(*va + Size(3 * kPageSize)).ok());  // the guard page
  EXPECT_EQ(*f.space.virt_to_phys(*va + Size(0x1234)), PhysAddr(0x4010'1234));
  EXPECT_EQ(*f.space.phys_to_virt(PhysAddr(0x4010'0800), Size(0x1000), MemoryType::kNsecShm), *va + Size(0x800));
  EXPECT_FALSE(f.space.phys_to_virt(PhysAddr(0x4010'1800), Size(0x1000), MemoryType::kNsecShm));  // spans two runs
  EXPECT_EQ(f.space.pa_index_stats().runs, 2u);
  EXPECT_EQ(f.space.shm_usage().ranges, 1u);
  EXPECT_EQ(f.space.shm_usage().in_use, Size(4 * kPageSize));
  EXPECT_TRUE(f.space.audit());

  f.tlb.calls.clear();
  ASSERT_TRUE(f.space.unmap_shared(GuestId(3), *va));
  ASSERT_EQ(f.tlb.calls.size(), 1u);  // exactly the range that changed, once
  EXPECT_EQ(f.tlb.calls[0].input, va->value);
  EXPECT_EQ(f.tlb.calls[0].size, 3 * kPageSize);
  EXPECT_FALSE(f.space.translate(*va).ok());
  EXPECT_EQ(f.host.pool.used(), f.static_table_pages);  // tables reclaimed
  EXPECT_EQ(f.space.pa_index_stats().runs, 0u);
  EXPECT_EQ(f.space.unmap_shared(GuestId(3), *va).error(), Error::kNotFound);
}

TEST(AddressSpace, AlignedBuffersUseLevel2Blocks) {
  AddressSpaceFixture f;
  const std::vector<PhysAddr> pages = contiguous(0x4040'0000, 1024);  // 4 MiB, 2 MiB aligned
  const Result<VirtAddr> va = f.space.map_shared(GuestId(1), pages.data(), PageCount(pages.size()), 1);
  ASSERT_TRUE(va);
  EXPECT_TRUE(va->is_aligned(2u << 20));
  EXPECT_EQ(f.space.translate(*va).level, 2u);
  EXPECT_EQ(f.space.translate(*va + Size(3u << 20)).output, 0x4070'0000u);
  ASSERT_TRUE(f.space.unmap_shared(GuestId(1), *va));
  EXPECT_EQ(f.host.pool.used(), f.static_table_pages);
}

TEST(AddressSpace, StaticRegionsAnswerLookupsToo) {
  AddressSpaceFixture f;
  EXPECT_EQ(*f.space.phys_to_virt(PhysAddr(q::kTaRamBase + 0x5000), Size(0x1000), MemoryType::kTaRam),
            VirtAddr(q::kTaRamBase + 0x5000));
  EXPECT_FALSE(f.space.phys_to_virt(PhysAddr(q::kTaRamBase), Size(0x1000), MemoryType::kTeeRamRw));  // wrong type
  EXPECT_FALSE(
      f.space.phys_to_virt(PhysAddr(q::kTaRamBase + q::kTaRamSize - 0x1000), Size(0x2000), MemoryType::kTaRam));
  EXPECT_EQ(*f.space.virt_to_phys(VirtAddr(q::kUart0Base + 4)), PhysAddr(q::kUart0Base + 4));
  EXPECT_FALSE(f.space.virt_to_phys(VirtAddr(0x1000)));
}

TEST(AddressSpace, IoremapSharesAndCountsAndReusesStaticDevices) {
  AddressSpaceFixture f;
  const GuestId core(0);
  // The platform's own UART is statically mapped: answered from the map, nothing allocated.
  EXPECT_EQ(*f.space.ioremap(core, PhysAddr(q::kUart0Base + 0x18), Size(4), false), VirtAddr(q::kUart0Base + 0x18));
  EXPECT_EQ(f.space.io_usage().ranges, 0u);
  EXPECT_TRUE(f.space.iounmap(core, VirtAddr(q::kUart0Base)));
  // A device is secure or not: the non-secure UART is no secure device.
  EXPECT_EQ(f.space.ioremap(core, PhysAddr(q::kUart0Base), Size(0x1000), true).error(), Error::kForbiddenMemory);
  const Result<VirtAddr> secure_gpio = f.space.ioremap(core, PhysAddr(q::kSecureGpioBase), Size(0x1000), true);
  ASSERT_TRUE(secure_gpio);
  EXPECT_FALSE(f.space.translate(*secure_gpio).attributes.non_secure);

  const Result<VirtAddr> a = f.space.ioremap(core, PhysAddr(0x0a00'0010), Size(0x2000), false);  // spans 3 pages
  ASSERT_TRUE(a);
  EXPECT_EQ(a->page_offset(), 0x10u);
  EXPECT_EQ(f.space.translate(*a).attributes.memory, arm64::MemoryKind::kDevice);
  const Result<VirtAddr> b = f.space.ioremap(core, PhysAddr(0x0a00'1000), Size(0x100), false);  // inside a: shared
  ASSERT_TRUE(b);
  EXPECT_EQ(*b, *a - Size(0x10) + Size(0x1000));
  EXPECT_EQ(f.space.io_usage().ranges, 2u);
  ASSERT_TRUE(f.space.iounmap(core, *b));  // one reference left
  EXPECT_TRUE(f.space.translate(*a).ok());
  ASSERT_TRUE(f.space.iounmap(core, *a));  // last reference: unmapped
  EXPECT_FALSE(f.space.translate(*a).ok());
  EXPECT_EQ(f.space.iounmap(core, *a).error(), Error::kNotFound);
  ASSERT_TRUE(f.space.iounmap(core, *secure_gpio));
  EXPECT_EQ(f.space.io_usage().ranges, 0u);
  EXPECT_EQ(f.space.ioremap(core, PhysAddr(0x1000), Size(0), false).error(), Error::kZeroSize);
  EXPECT_EQ(f.space.ioremap(core, PhysAddr((1ull << 48) - 0x1000), Size(0x2000), false).error(),
            Error::kAddressOverflow);
}

TEST(AddressSpace, ReleaseGuestFreesEverythingItOwnedAndNothingElse) {
  AddressSpaceFixture f;
  std::vector<VirtAddr> kept;
  for (int i = 0; i < 100; ++i) {
    const std::vector<PhysAddr> pages = contiguous(0x4100'0000 + i * 0x10000, 1 + i % 5);
    const GuestId owner(i % 3 == 0 ? 7 : 8);
    const Result<VirtAddr> va = f.space.map_shared(owner, pages.data(), PageCount(pages.size()), i);
    ASSERT_TRUE(va);
    if (owner == GuestId(8)) kept.push_back(*va);
  }
  EXPECT_EQ(f.space.release_guest(GuestId(7)).released, 34u);
  EXPECT_EQ(f.space.release_guest(GuestId(7)).released, 0u);
  EXPECT_EQ(f.space.shm_usage().ranges, kept.size());
  for (VirtAddr va : kept) EXPECT_TRUE(f.space.translate(va).ok());
  EXPECT_TRUE(f.space.audit());
  const TeardownResult rest = f.space.release_guest(GuestId(8));
  EXPECT_EQ(rest.released, kept.size());
  EXPECT_EQ(rest.failed, 0u);
  EXPECT_EQ(f.host.pool.used(), f.static_table_pages);
  EXPECT_EQ(f.space.pa_index_stats().nodes_in_use, 0u);
}

// A list inside one allowed range is cleared in one pass; its runs are still counted exactly, and
// a bad page anywhere still names its own error.
TEST(AddressSpace, ListsCountTheirRunsWhicheverWayTheyAreChecked) {
  AddressSpaceFixture f;
  std::vector<PhysAddr> pages = contiguous(0x4500'0000, 3);          // run 1
  pages.push_back(PhysAddr(0x4400'0000));                            // run 2, lower
  for (PhysAddr p : contiguous(0x4600'0000, 2)) pages.push_back(p);  // run 3
  const Result<VirtAddr> va = f.space.map_shared(GuestId(1), pages.data(), PageCount(pages.size()), 1);
  ASSERT_TRUE(va);
  EXPECT_EQ(f.space.pa_index_stats().runs, 3u);
  for (size_t i = 0; i < pages.size(); ++i) EXPECT_EQ(*f.space.virt_to_phys(*va + PageCount(i).size()), pages[i]);
  ASSERT_TRUE(f.space.unmap_shared(GuestId(1), *va));
  pages[4] = PhysAddr(q::kNsecShmBase);  // the carve-out, between good pages
  EXPECT_EQ(f.space.map_shared(GuestId(1), pages.data(), PageCount(pages.size()), 1).error(), Error::kForbiddenMemory);
  pages[4] = PhysAddr(0x4600'0010);
  EXPECT_EQ(f.space.map_shared(GuestId(1), pages.data(), PageCount(pages.size()), 1).error(), Error::kMisaligned);
  EXPECT_EQ(f.space.shm_usage().ranges, 0u);
  EXPECT_EQ(f.host.pool.used(), f.static_table_pages);
  EXPECT_TRUE(f.space.audit());
}

TEST(AddressSpace, RefusalsChangeNothing) {
  AddressSpaceFixture f(512, 4096, 2);  // a PA index of two runs
  const std::vector<PhysAddr> scattered = {PhysAddr(0x4000'0000), PhysAddr(0x4800'0000), PhysAddr(0x4900'0000)};
  EXPECT_EQ(f.space.map_shared(GuestId(1), scattered.data(), PageCount(3), 0).error(), Error::kOutOfMemory);
  EXPECT_EQ(f.space.shm_usage().ranges, 0u);
  const std::vector<PhysAddr> bad = {PhysAddr(0x4000'0000), PhysAddr(0x4000'0800)};
  EXPECT_EQ(f.space.map_shared(GuestId(1), bad.data(), PageCount(2), 0).error(), Error::kMisaligned);
  EXPECT_EQ(f.space.shm_usage().ranges, 0u);
  EXPECT_EQ(f.space.map_shared(GuestId(1), bad.data(), PageCount(0), 0).error(), Error::kZeroSize);
  const std::vector<PhysAddr> huge = contiguous(0x4000'0000, (q::kShmVaSpaceSize / kPageSize));  // + guard > window
  EXPECT_EQ(f.space.map_shared(GuestId(1), huge.data(), PageCount(huge.size()), 0).error(), Error::kNoVirtualSpace);
  EXPECT_EQ(f.host.pool.used(), f.static_table_pages);
  EXPECT_TRUE(f.space.audit());
}

TEST(AddressSpace, TablePoolExhaustionIsRefusedAndUndone) {
  AddressSpaceFixture f(8);  // 7 static table pages + 1 spare
  const std::vector<PhysAddr> pages = contiguous(0x4000'0000, 1);
  // The SHM reservation lies in a level-2 table that exists; a level-3 table is the one spare page.
  const Result<VirtAddr> first = f.space.map_shared(GuestId(1), pages.data(), PageCount(1), 0);
  ASSERT_TRUE(first);
  // Far enough away to need another level-3 table: refused, VA handed back.
  const std::vector<PhysAddr> big = contiguous(0x4000'1000, 600);
  EXPECT_EQ(f.space.map_shared(GuestId(1), big.data(), PageCount(big.size()), 0).error(), Error::kOutOfMemory);
  EXPECT_EQ(f.space.shm_usage().ranges, 1u);
  EXPECT_TRUE(f.space.audit());
}

// ---- Property test against a reference model ----------------------------------------------------

struct ModelRange {
  std::vector<PhysAddr> pages;
  GuestId owner;
  bool io = false;
  bool secure = false;
  int references = 1;
};

class Model {
 public:
  std::map<uint64_t, ModelRange> ranges;  // by VA

  void check_against(const AddressSpace& space, std::mt19937_64& random) const {
    for (const auto& [va, range] : ranges) {
      for (size_t i = 0; i < range.pages.size(); ++i) {
        if (range.pages.size() > 8 && random() % 4 != 0) continue;  // sample long ranges
        const VirtAddr page_va(va + i * kPageSize);
        const arm64::WalkResult r = space.translate(page_va);
        ASSERT_TRUE(r.ok());
        ASSERT_EQ(r.output, range.pages[i].value);
        ASSERT_EQ(r.attributes.memory, range.io ? arm64::MemoryKind::kDevice : arm64::MemoryKind::kNormalWriteBack);
        ASSERT_EQ(r.attributes.non_secure, !range.secure);
        ASSERT_EQ(*space.virt_to_phys(page_va), range.pages[i]);
        const MemoryType type =
            range.io ? (range.secure ? MemoryType::kIoSec : MemoryType::kIoNsec) : MemoryType::kNsecShm;
        const Result<VirtAddr> back = space.phys_to_virt(range.pages[i], Size(kPageSize), type);
        ASSERT_TRUE(back);
        // Several live ranges may hold the same page; whichever answers must map it.
        ASSERT_EQ(space.translate(*back).output, range.pages[i].value);
      }
      ASSERT_FALSE(space.translate(VirtAddr(va + range.pages.size() * kPageSize)).ok());  // guard
    }
  }
};

std::vector<PhysAddr> random_pages(std::mt19937_64& random) {
  std::vector<PhysAddr> pages;
  const uint64_t count = 1 + random() % (random() % 8 == 0 ? 600 : 12);
  uint64_t pa = q::kDramBase + (random() % 0x3000) * kPageSize;
  for (uint64_t i = 0; i < count; ++i) {
    pages.push_back(PhysAddr(pa));
    pa = random() % 3 == 0 ? q::kDramBase + (random() % 0x3'0000) * kPageSize : pa + kPageSize;
  }
  return pages;
}

// The reserved-SHM carve-out is never dynamic shared memory.
bool in_carve_out(const std::vector<PhysAddr>& pages) {
  for (PhysAddr page : pages)
    if (page.value >= q::kNsecShmBase && page.value < q::kNsecShmBase + q::kNsecShmSize) return true;
  return false;
}

TEST(AddressSpaceProperty, RandomOperationsAgreeWithModelAndLeaveNothingBehind) {
  for (uint64_t seed = 1; seed <= 6; ++seed) {
    AddressSpaceFixture f(2048, 1024, 4096, /*page_hash=*/seed % 2 == 1);  // odd seeds with the PA index's page hash
    std::mt19937_64 random(seed);
    Model model;
    for (int step = 0; step < 1500; ++step) {
      const unsigned op = random() % 100;
      if (op < 40) {
        const std::vector<PhysAddr> pages = random_pages(random);
        const GuestId owner(1 + random() % 4);
        const Result<VirtAddr> va = f.space.map_shared(owner, pages.data(), PageCount(pages.size()), step);
        if (va) {
          ASSERT_FALSE(in_carve_out(pages));
          model.ranges[va->value] = ModelRange{pages, owner};
        } else if (in_carve_out(pages)) {
          ASSERT_EQ(va.error(), Error::kForbiddenMemory);
        } else {
          ASSERT_TRUE(va.error() == Error::kNoVirtualSpace || va.error() == Error::kOutOfMemory)
              << error_name(va.error());
        }
      } else if (op < 70 && !model.ranges.empty()) {
        auto it = std::next(model.ranges.begin(), random() % model.ranges.size());
        const GuestId stranger(it->second.owner.value + 1);
        if (it->second.io) {
          ASSERT_EQ(f.space.iounmap(stranger, VirtAddr(it->first)).error(), Error::kPermissionDenied);
          ASSERT_TRUE(f.space.iounmap(it->second.owner, VirtAddr(it->first)));
          if (--it->second.references == 0) model.ranges.erase(it);
        } else {
          ASSERT_EQ(f.space.unmap_shared(stranger, VirtAddr(it->first)).error(), Error::kPermissionDenied);
          ASSERT_TRUE(f.space.unmap_shared(it->second.owner, VirtAddr(it->first)));
          model.ranges.erase(it);
        }
      } else if (op < 85) {
        const bool secure = random() % 2;
        const GuestId owner(1 + random() % 4);
        // A small device window: reuse happens.
        const uint64_t page =
            (secure ? testing::kTestDeviceSecure : testing::kTestDeviceNonSecure) + (random() % 16) * kPageSize;
        const uint64_t pages = 1 + random() % 3;
        // Which live mapping is shared: the covering one the index answers with (lowest PA, then
        // VA) when it is the caller's own, else the caller's own covering one with the lowest VA.
        const ModelRange* expected = nullptr;
        uint64_t expected_va = 0;
        const ModelRange* own = nullptr;
        uint64_t own_va = 0;
        for (const auto& [va, range] : model.ranges) {
          const uint64_t first = range.pages.front().value;
          if (!range.io || range.secure != secure || first > page ||
              page + pages * kPageSize > first + range.pages.size() * kPageSize)
            continue;
          if (expected == nullptr || first < expected->pages.front().value) {
            expected = &range;
            expected_va = va;
          }
          if (own == nullptr && range.owner == owner) {
            own = &range;
            own_va = va;
          }
        }
        if (expected == nullptr || expected->owner != owner) {
          expected = own;
          expected_va = own_va;
        }
        const Result<VirtAddr> va = f.space.ioremap(owner, PhysAddr(page), Size(pages * kPageSize), secure);
        ASSERT_TRUE(va) << error_name(va.error());
        if (expected != nullptr && expected->owner == owner) {
          ASSERT_EQ(va->value, expected_va + (page - expected->pages.front().value));
          ++model.ranges[expected_va].references;
        } else {
          ModelRange fresh{{}, owner, true, secure, 1};
          for (uint64_t i = 0; i < pages; ++i) fresh.pages.push_back(PhysAddr(page + i * kPageSize));
          ASSERT_EQ(model.ranges.count(va->value), 0u);
          model.ranges[va->value] = fresh;
        }
      } else if (op < 88) {
        const GuestId owner(1 + random() % 4);
        const size_t expected =
            std::erase_if(model.ranges, [&](const auto& entry) { return entry.second.owner == owner; });
        const TeardownResult released = f.space.release_guest(owner);
        ASSERT_EQ(released.released, expected);
        ASSERT_EQ(released.failed, 0u);
      } else {
        model.check_against(f.space, random);
      }
      ASSERT_TRUE(f.space.audit()) << "seed " << seed << " step " << step;
    }
    model.check_against(f.space, random);
    for (const auto& [va, range] : model.ranges) {
      if (range.io) {
        for (int i = 0; i < range.references; ++i) ASSERT_TRUE(f.space.iounmap(range.owner, VirtAddr(va)));
      } else {
        ASSERT_TRUE(f.space.unmap_shared(range.owner, VirtAddr(va)));
      }
    }
    EXPECT_EQ(f.host.pool.used(), f.static_table_pages);
    EXPECT_EQ(f.space.pa_index_stats().nodes_in_use, 0u);
    EXPECT_EQ(f.space.shm_usage().ranges, 0u);
    EXPECT_EQ(f.space.io_usage().ranges, 0u);
  }
}

}  // namespace
}  // namespace teemm::mm
