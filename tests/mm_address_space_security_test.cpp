// Issue 8: the memory manager enforces its own rules whoever calls it. Each test names the defect
// it covers; each failed on the code before the fix.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
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

// Everything a refused call must leave as it was.
struct Snapshot {
  size_t shm_ranges, io_ranges, runs, pool_used;
  uint64_t shm_in_use, io_in_use;
  bool operator==(const Snapshot&) const = default;
};
Snapshot snapshot(const AddressSpaceFixture& f) {
  return {f.space.shm_usage().ranges, f.space.io_usage().ranges,        f.space.pa_index_stats().runs,
          f.host.pool.used(),         f.space.shm_usage().in_use.bytes, f.space.io_usage().in_use.bytes};
}

// Defect 2: secure memory, devices, flash, the carve-out and addresses past DRAM never become SHM.
TEST(AddressSpaceSecurity, MapSharedRefusesEveryPageThatIsNotNonSecureDdr) {
  AddressSpaceFixture f;
  const uint64_t forbidden[] = {
      q::kTeeRamBase,                   // TEE code
      q::kTeeRamRwBase,                 // TEE data, where the table pool lives
      q::kTaRamBase + 0x3000,           // TA RAM
      q::kSdpBase,                      // secure data path
      q::kSecureRamBase,                // secure RAM below the TEE (boot firmware)
      q::kGicBase,                      // devices
      q::kUart0Base,                    //
      q::kVirtioMmioBase,               // a device declared for ioremap
      0,                                // flash
      q::kNsecShmBase + 0x1000,         // the reserved-SHM carve-out
      q::kDramBase + q::kDramSize,      // just past the end of DRAM
      uint64_t{1} << 40,                // above the tables' output size
      (uint64_t{1} << 48) - kPageSize,  // at the architectural limit
  };
  const Snapshot before = snapshot(f);
  for (uint64_t bad : forbidden) {
    SCOPED_TRACE(bad);
    std::vector<PhysAddr> pages = contiguous(0x4100'0000, 4);
    ASSERT_TRUE(f.space.map_shared(GuestId(1), pages.data(), PageCount(4), 0));  // the good list maps
    ASSERT_EQ(f.space.release_guest(GuestId(1)).released, 1u);
    pages[2] = PhysAddr(bad);  // one hostile page in the middle of good ones
    EXPECT_EQ(f.space.map_shared(GuestId(1), pages.data(), PageCount(4), 0).error(), Error::kForbiddenMemory);
    EXPECT_EQ(snapshot(f), before);
    // No NSEC_SHM alias of it exists (the carve-out has its static one, which is legitimate).
    if (bad != q::kNsecShmBase + 0x1000) {
      EXPECT_FALSE(f.space.phys_to_virt(PhysAddr(bad), Size(kPageSize), MemoryType::kNsecShm));
    }
  }
  // A run that starts in DRAM and runs into the carve-out is refused as a whole.
  const std::vector<PhysAddr> into_carve_out = contiguous(q::kNsecShmBase - 0x2000, 3);
  EXPECT_EQ(f.space.map_shared(GuestId(1), into_carve_out.data(), PageCount(3), 0).error(), Error::kForbiddenMemory);
  EXPECT_EQ(snapshot(f), before);
  EXPECT_TRUE(f.space.audit());
}

// Defect 3: only declared devices of the right security are ioremapped; RAM of any kind never.
TEST(AddressSpaceSecurity, IoremapRefusesRamAndUndeclaredOrMismatchedDevices) {
  AddressSpaceFixture f;
  const std::vector<PhysAddr> live = contiguous(0x4040'0000, 1);
  ASSERT_TRUE(f.space.map_shared(GuestId(1), live.data(), PageCount(1), 0));
  const Snapshot before = snapshot(f);
  struct Case {
    uint64_t pa, size;
    bool secure;
  };
  const Case refused[] = {
      {q::kTeeRamBase, 0x1000, true},                // TEE code as a secure rw device: W^X bypassed
      {q::kTeeRamRwBase, 0x1000, true},              // the table pool
      {q::kTaRamBase, 0x1000, false},                // secure RAM as non-secure
      {0x4040'0000, 0x1000, false},                  // DRAM live as cacheable SHM: mismatched aliases
      {q::kDramBase, 0x1000, true},                  //
      {q::kNsecShmBase, 0x1000, false},              // the carve-out
      {q::kUart0Base, 0x1000, true},                 // a non-secure device asked for as secure
      {q::kSecureGpioBase, 0x1000, false},           // and the other way round
      {0x0b00'0000, 0x1000, false},                  // undeclared
      {q::kVirtioMmioBase + 0x3000, 0x2000, false},  // runs past the declared device
      {0, 0x1000, false},                            // flash
  };
  for (const Case& c : refused) {
    SCOPED_TRACE(c.pa);
    EXPECT_EQ(f.space.ioremap(GuestId(0), PhysAddr(c.pa), Size(c.size), c.secure).error(), Error::kForbiddenMemory);
    EXPECT_EQ(snapshot(f), before);
  }
  const Result<VirtAddr> ok = f.space.ioremap(GuestId(0), PhysAddr(q::kVirtioMmioBase), Size(0x200), false);
  ASSERT_TRUE(ok);
  EXPECT_TRUE(f.space.translate(*ok).attributes.non_secure);
  EXPECT_TRUE(f.space.audit());
}

// Defect 5: SDP may not meet any static mapping; both regions are named.
TEST(AddressSpaceSecurity, SdpOverlappingStaticMappingsIsRefusedWithBothNames) {
  std::vector<Region> storage(32);
  PhysMemRegistry registry(storage.data(), storage.size());
  ASSERT_TRUE(registry.add(mapped_region("ta-ram", MemoryType::kTaRam, 0x0e40'0000, 0x80'0000)).ok());
  ASSERT_TRUE(registry.add(mapped_region("tee-code", MemoryType::kTeeRamRx, 0x0e10'0000, 0x10'0000)).ok());
  Refusal r = registry.add(sdp_region("sdp", 0x0ebf'0000, 0x40'0000));
  EXPECT_EQ(r.error, Error::kOverlap);
  EXPECT_STREQ(r.region, "sdp");
  EXPECT_STREQ(r.conflicting, "ta-ram");
  r = registry.add(sdp_region("sdp-code", 0x0e1f'f000, 0x1000));
  EXPECT_EQ(r.error, Error::kOverlap);
  EXPECT_STREQ(r.conflicting, "tee-code");
  EXPECT_EQ(registry.count(), 2u);
  EXPECT_TRUE(registry.add(sdp_region("sdp", 0x0ec0'0000, 0x40'0000)).ok());  // beside them: fine
  // Devices are never memory, and never both secure and not.
  r = registry.add(device_region("dev", MemoryType::kIoNsec, 0x0e40'0000, 0x1000));
  EXPECT_EQ(r.error, Error::kOverlap);
  ASSERT_TRUE(registry.add(device_region("uart", MemoryType::kIoNsec, 0x0900'0000, 0x1000)).ok());
  EXPECT_EQ(registry.add(device_region("suart", MemoryType::kIoSec, 0x0900'0000, 0x1000)).error, Error::kOverlap);
  EXPECT_EQ(registry.add(ddr_region("dram", 0x0800'0000, 0x1000'0000)).error, Error::kOverlap);
}

// Defect 7: every call is safe before init.
TEST(AddressSpaceSecurity, CallsBeforeInitAreRefusedNotCrashes) {
  AddressSpace space;
  EXPECT_FALSE(space.translate(VirtAddr(0x1000)).ok());
  const PhysAddr page(0x4000'0000);
  EXPECT_FALSE(space.map_shared(GuestId(1), &page, PageCount(1), 0));
  EXPECT_FALSE(space.unmap_shared(GuestId(1), VirtAddr(0x1000)));
  EXPECT_FALSE(space.ioremap(GuestId(1), PhysAddr(0x0a00'0000), Size(0x200), false));
  EXPECT_FALSE(space.iounmap(GuestId(1), VirtAddr(0x1000)));
  EXPECT_EQ(space.release_guest(GuestId(1)).released, 0u);
  EXPECT_FALSE(space.audit());
}

// Defect 10: only the owner may unmap, and a stale VA kept after release_guest cannot reach the
// next guest's buffer that reuses it.
TEST(AddressSpaceSecurity, ForeignOwnersAreRefusedAndStaleVasAreHarmless) {
  AddressSpaceFixture f;
  const std::vector<PhysAddr> a_pages = contiguous(0x4100'0000, 2);
  const Result<VirtAddr> a = f.space.map_shared(GuestId(1), a_pages.data(), PageCount(2), 11);
  ASSERT_TRUE(a);
  EXPECT_EQ(f.space.unmap_shared(GuestId(2), *a).error(), Error::kPermissionDenied);
  EXPECT_TRUE(f.space.translate(*a).ok());
  EXPECT_EQ(f.space.release_guest(GuestId(1)).released, 1u);
  const std::vector<PhysAddr> b_pages = contiguous(0x4200'0000 + 0x40'0000, 2);
  const Result<VirtAddr> b = f.space.map_shared(GuestId(2), b_pages.data(), PageCount(2), 22);
  ASSERT_TRUE(b);
  ASSERT_EQ(*b, *a);  // first fit hands the same VA to the next guest
  EXPECT_EQ(f.space.unmap_shared(GuestId(1), *a).error(), Error::kPermissionDenied);
  EXPECT_EQ(f.space.translate(*b).output, b_pages[0].value);
  // The same for device mappings.
  const Result<VirtAddr> io = f.space.ioremap(GuestId(3), PhysAddr(q::kRtcBase), Size(0x1000), false);
  ASSERT_TRUE(io);
  EXPECT_EQ(f.space.iounmap(GuestId(4), *io).error(), Error::kPermissionDenied);
  EXPECT_TRUE(f.space.translate(*io).ok());
  // Another owner's request for the same device gets its own mapping, not a share of this one.
  const Result<VirtAddr> other = f.space.ioremap(GuestId(4), PhysAddr(q::kRtcBase), Size(0x1000), false);
  ASSERT_TRUE(other);
  EXPECT_NE(*other, *io);
  EXPECT_EQ(f.space.release_guest(GuestId(3)).released, 1u);
  EXPECT_FALSE(f.space.translate(*io).ok());
  EXPECT_TRUE(f.space.translate(*other).ok());
  EXPECT_TRUE(f.space.audit());
}

// Defect 11: a list the normal world rewrites during the call. Every mapping made must agree with
// itself: the table, the PA index and the policy see one and the same copy.
TEST(AddressSpaceSecurity, PageListChangingDuringTheCallIsReadOnce) {
  AddressSpaceFixture f(2048, 4096, 4096);
  constexpr size_t kPages = 64;
  std::vector<PhysAddr> list = contiguous(0x4400'0000, kPages);
  std::atomic<bool> stop{false};
  // The hostile writer flips entries between a good page, another good page and TEE code.
  std::thread writer([&] {
    uint64_t round = 0;
    while (!stop.load(std::memory_order_relaxed)) {
      for (size_t i = 0; i < kPages; ++i) {
        const uint64_t choice = (round + i) % 3;
        const uint64_t pa = choice == 0   ? 0x4400'0000 + i * kPageSize
                            : choice == 1 ? 0x4800'0000 + i * 2 * kPageSize
                                          : q::kTeeRamBase + i * kPageSize;
        std::atomic_ref<uint64_t>(list[i].value).store(pa, std::memory_order_relaxed);
      }
      ++round;
    }
  });
  int mapped = 0;
  for (int attempt = 0; attempt < 3000; ++attempt) {
    const Result<VirtAddr> va = f.space.map_shared(GuestId(1), list.data(), PageCount(kPages), attempt);
    if (!va) {
      ASSERT_TRUE(va.error() == Error::kForbiddenMemory) << error_name(va.error());
      continue;
    }
    ++mapped;
    for (size_t i = 0; i < kPages; ++i) {
      const arm64::WalkResult r = f.space.translate(*va + PageCount(i).size());
      ASSERT_TRUE(r.ok());
      ASSERT_EQ(*f.space.virt_to_phys(*va + PageCount(i).size()), PhysAddr(r.output));
      ASSERT_GE(r.output, q::kDramBase);  // never the TEE's code
      ASSERT_FALSE(r.attributes.unprivileged.read);
    }
    ASSERT_TRUE(f.space.audit());
    ASSERT_TRUE(f.space.unmap_shared(GuestId(1), *va));
  }
  stop = true;
  writer.join();
  EXPECT_EQ(f.host.pool.used(), f.static_table_pages);
  RecordProperty("mapped", mapped);
}

// Defect 12: release_guest always ends, even when a range's tables were edited behind the address
// space's back, and frees what it can. Guest 5 maps `count` ranges after `others` ranges of guest
// 7, and one page of one of its ranges is then unmapped directly through the shared table.
void release_with_a_page_unmapped_behind_its_back(int others, int count) {
  AddressSpaceFixture f;
  for (int i = 0; i < others; ++i) {
    const std::vector<PhysAddr> pages = contiguous(0x4300'0000 + i * kPageSize, 1);
    ASSERT_TRUE(f.space.map_shared(GuestId(7), pages.data(), PageCount(1), 1000 + i).ok());
  }
  std::vector<VirtAddr> ranges;
  for (int i = 0; i < count; ++i) {
    const std::vector<PhysAddr> pages = contiguous(0x4100'0000 + i * 0x10000, 3);
    ranges.push_back(f.space.map_shared(GuestId(5), pages.data(), PageCount(3), i).value());
  }
  ASSERT_TRUE(f.table.unmap(ranges[count / 2] + Size(kPageSize), Size(kPageSize)));
  const TeardownResult result = f.space.release_guest(GuestId(5));
  EXPECT_EQ(result.released, static_cast<size_t>(count));
  EXPECT_EQ(result.failed, 0u);
  EXPECT_EQ(f.space.shm_usage().ranges, static_cast<size_t>(others));
  if (others == 0) {
    EXPECT_EQ(f.space.pa_index_stats().runs, 0u);
    EXPECT_EQ(f.host.pool.used(), f.static_table_pages);
  }
  EXPECT_TRUE(f.space.audit());
}

// A guest alone with 100 ranges: one pass over the allocator's inline array.
TEST(AddressSpaceSecurity, ReleaseGuestEndsWhenATableWasEditedBehindItsBack) {
  release_with_a_page_unmapped_behind_its_back(0, 100);
}

// A guest with a small share of an allocator in its tree, whose ranges go a span at a time (one
// table call per span): the page missing from the span is passed over, and the other guest's
// ranges stay.
TEST(AddressSpaceSecurity, ReleaseGuestEndsWhenATableWasEditedBehindItsBackAmongMany) {
  release_with_a_page_unmapped_behind_its_back(800, 10);
}

// Defect 12, the one-pass teardown (a guest holding half the ranges): a range whose tables cannot
// give it up — a 2 MiB block was mapped over it behind the address space's back, and no table page
// is left to split the block — stays owned and is counted as failed, every other range goes, and
// a second call finds the same ranges again.
TEST(AddressSpaceSecurity, OnePassReleaseKeepsTheRangesItCannotUnmap) {
  AddressSpaceFixture f;
  std::vector<VirtAddr> ranges;
  for (int i = 0; i < 600; ++i) {
    const std::vector<PhysAddr> pages = contiguous(0x4100'0000 + i * kPageSize, 1);
    ranges.push_back(f.space.map_shared(GuestId(i % 2 ? 5 : 6), pages.data(), PageCount(1), i).value());
  }
  const uint64_t block = uint64_t{2} << 20;
  const uint64_t region = (ranges[301].value + block - 1) & ~(block - 1);  // a 2 MiB region inside
  size_t inside = 0;
  for (int i = 1; i < 600; i += 2) inside += ranges[i].value >= region && ranges[i].value < region + block;
  ASSERT_GT(inside, 0u);
  ASSERT_LT(inside, 300u);
  ASSERT_TRUE(f.table.unmap_present(VirtAddr(region), Size(block)));
  ASSERT_TRUE(f.table.map(VirtAddr(region), PhysAddr(0x4200'0000), Size(block), shared_memory_attributes()));
  while (f.host.pool.allocate()) {
  }
  const TeardownResult result = f.space.release_guest(GuestId(5));
  EXPECT_EQ(result.released, 300u - inside);
  EXPECT_EQ(result.failed, inside);
  EXPECT_EQ(f.space.shm_usage().ranges, 300u + inside);
  for (int i = 1; i < 600; i += 2) {
    const bool kept = ranges[i].value >= region && ranges[i].value < region + block;
    EXPECT_EQ(f.space.translate(ranges[i]).ok(), kept) << i;
  }
  const TeardownResult again = f.space.release_guest(GuestId(5));
  EXPECT_EQ(again.released, 0u);
  EXPECT_EQ(again.failed, inside);
  // The other guest's ranges go too, as far as table pages allow: the tables emptied on the way
  // give back pages, with which blocks can be split again. Every range is counted once.
  const TeardownResult other = f.space.release_guest(GuestId(6));
  EXPECT_EQ(other.released + other.failed, 300u);
  EXPECT_EQ(f.space.shm_usage().ranges, inside + other.failed);
}

// Defect 13: the audit sees the tables from both sides and every attribute the policy fixes.
TEST(AddressSpaceSecurity, AuditCatchesStrayMappingsAndWrongAttributes) {
  {  // a mapping inside the SHM window that no range owns
    AddressSpaceFixture f;
    const MapEntry* shm = f.map.find_type(MemoryType::kShmVaspace);
    ASSERT_TRUE(
        f.table.map(shm->va + Size(0x10'0000), PhysAddr(0x4000'0000), Size(kPageSize), shared_memory_attributes()));
    EXPECT_FALSE(f.space.audit());
  }
  {  // the guard page of a live range mapped
    AddressSpaceFixture f;
    const std::vector<PhysAddr> pages = contiguous(0x4100'0000, 2);
    const VirtAddr va = f.space.map_shared(GuestId(1), pages.data(), PageCount(2), 0).value();
    ASSERT_TRUE(
        f.table.map(va + Size(2 * kPageSize), PhysAddr(0x4100'2000), Size(kPageSize), shared_memory_attributes()));
    EXPECT_FALSE(f.space.audit());
  }
  // A leaf of a live range whose bits were changed: EL0 access, executable, secure, read-only,
  // device; in a range the PA index lists and in one it does not.
  const uint64_t flips[] = {arm64::kAP1, arm64::kPXN, arm64::kNS, arm64::kAP2, arm64::kAttrIndxMask, arm64::kUXN};
  for (AddressSpace::Indexing indexing : {AddressSpace::Indexing::kIndexed, AddressSpace::Indexing::kNotIndexed})
    for (uint64_t flip : flips) {
      SCOPED_TRACE(flip);
      AddressSpaceFixture f;
      const std::vector<PhysAddr> pages = contiguous(0x4100'0000, 2);
      const VirtAddr va = f.space.map_shared(GuestId(1), pages.data(), PageCount(2), 0, indexing).value();
      ASSERT_TRUE(f.space.audit());
      const arm64::WalkResult leaf = f.space.translate(va);
      uint64_t* table = nullptr;
      for (size_t i = 0; i < f.host.pool.capacity() && table == nullptr; ++i) {
        uint64_t* entries = f.host.pages[i].entries;
        for (unsigned e = 0; e < arm64::kEntriesPerTable; ++e)
          if (entries[e] == leaf.descriptor) table = &entries[e];
      }
      ASSERT_NE(table, nullptr);
      *table ^= flip;
      EXPECT_FALSE(f.space.audit());
    }
}

// Defect 14: size is checked before any per-page work; a list too long for the reservation is
// "no virtual space", not "out of memory", and its pages are never read (ASan would see it).
TEST(AddressSpaceSecurity, OversizedListsAreRefusedBeforeBeingRead) {
  AddressSpaceFixture f;
  const PhysAddr one_page(0x4000'0000);
  EXPECT_EQ(f.space.map_shared(GuestId(1), &one_page, PageCount(uint64_t{1} << 36), 0).error(), Error::kNoVirtualSpace);
  EXPECT_EQ(f.space.map_shared(GuestId(1), &one_page, PageCount(q::kShmVaSpaceSize / kPageSize), 0).error(),
            Error::kNoVirtualSpace);
  // A scratch smaller than the reservation bounds one call: a configured limit.
  AddressSpaceFixture small;
  small.scratch.resize(8);
  AddressSpace space;
  ASSERT_TRUE(space.init(small.table, small.map, small.registry, small.storage()));
  const std::vector<PhysAddr> nine = contiguous(0x4100'0000, 9);
  EXPECT_EQ(space.map_shared(GuestId(1), nine.data(), PageCount(9), 0).error(), Error::kLimitReached);
  EXPECT_TRUE(space.map_shared(GuestId(1), nine.data(), PageCount(8), 0));
}

// The table pool must be memory the normal world cannot be given.
TEST(AddressSpaceSecurity, InitRefusesATablePoolInShareableMemory) {
  testing::HostPool pool(64, 0x4800'0000);  // in non-secure DRAM
  AddressSpaceFixture f;
  arm64::Stage1Table table = arm64::Stage1Table::create(pool.pool, q::kVaBits).value();
  AddressSpace space;
  EXPECT_EQ(space.init(table, f.map, f.registry, f.storage()).error(), Error::kForbiddenMemory);
  EXPECT_FALSE(space.translate(VirtAddr(q::kTeeRamBase)).ok());  // unusable, not half-built
}

}  // namespace
}  // namespace teemm::mm

namespace teemm::mm {
namespace {

// Buffers mapped without the PA index: the same policy, the same audit, lookups by walk.
TEST(AddressSpaceSecurity, UnindexedBuffersKeepEveryRule) {
  AddressSpaceFixture f;
  std::vector<PhysAddr> pages = contiguous(0x4100'0000, 600);
  std::swap(pages[3], pages[400]);
  const Result<VirtAddr> va =
      f.space.map_shared(GuestId(2), pages.data(), PageCount(600), 7, AddressSpace::Indexing::kNotIndexed);
  ASSERT_TRUE(va);
  EXPECT_EQ(f.space.pa_index_stats().runs, 0u);
  EXPECT_EQ(*f.space.virt_to_phys(*va + Size(3 * kPageSize + 5)), pages[3] + Size(5));
  EXPECT_FALSE(f.space.phys_to_virt(pages[3], Size(kPageSize), MemoryType::kNsecShm));
  EXPECT_TRUE(f.space.audit());
  pages[9] = PhysAddr(q::kTeeRamBase);
  EXPECT_EQ(
      f.space.map_shared(GuestId(2), pages.data(), PageCount(600), 8, AddressSpace::Indexing::kNotIndexed).error(),
      Error::kForbiddenMemory);
  EXPECT_EQ(f.space.unmap_shared(GuestId(3), *va).error(), Error::kPermissionDenied);
  ASSERT_TRUE(f.space.unmap_shared(GuestId(2), *va));
  EXPECT_EQ(f.host.pool.used(), f.static_table_pages);
  EXPECT_TRUE(f.space.audit());
}

}  // namespace
}  // namespace teemm::mm

namespace teemm::mm {
namespace {

// Found by the fuzz target: an owner's own covering mapping is shared even when another owner's
// mapping of the device is the lowest the index knows (fuzz/regressions/ioremap_share_foreign_lowest).
TEST(AddressSpaceSecurity, IoremapSharesTheOwnersMappingWhateverOthersHold) {
  AddressSpaceFixture f;
  const PhysAddr device(testing::kTestDeviceNonSecure);
  const Result<VirtAddr> foreign = f.space.ioremap(GuestId(32), device, Size(kPageSize), false);
  const Result<VirtAddr> own = f.space.ioremap(GuestId(0), device, Size(kPageSize), false);
  ASSERT_TRUE(foreign && own);
  EXPECT_NE(*own, *foreign);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(*f.space.ioremap(GuestId(0), device, Size(kPageSize), false), *own);
  EXPECT_EQ(f.space.io_usage().ranges, 2u);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(f.space.iounmap(GuestId(0), *own));
  EXPECT_TRUE(f.space.translate(*own).ok());  // one reference left
  EXPECT_TRUE(f.space.audit());
}

}  // namespace
}  // namespace teemm::mm
