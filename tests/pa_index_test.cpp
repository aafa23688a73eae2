// tests/pa_index_test: unit tests of every PaIndex operation and error, its bound, its page hash
// (mm/page_hash) and a property test against a std::map reference model, with and without the
// hash, including hash tables too small for the pages and PAs chosen to collide.
#include "mm/pa_index.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <vector>

namespace teemm::mm {
namespace {

constexpr uint64_t kPage = kPageSize;

PhysRun run(uint64_t pa, uint64_t va, uint64_t page_count, MemoryType type = MemoryType::kNsecShm, uint16_t owner = 0) {
  return PhysRun{PhysAddr(pa), VirtAddr(va), Size(page_count * kPage), type, GuestId(owner)};
}

bool same_run(const PhysRun& a, const PhysRun& b) {
  return a.pa == b.pa && a.va == b.va && a.size == b.size && a.type == b.type && a.owner == b.owner;
}

uint64_t typed_page(MemoryType type, uint64_t pa) {
  return (uint64_t{static_cast<uint8_t>(type)} << kRunTypeShift) | pa;
}

// `count` page addresses from `first` up whose keys (with `type`) share one home in a page hash of
// `slots` slots: in an empty table a key lands on its home, so a scratch table tells it.
std::vector<uint64_t> colliding_pages(size_t slots, size_t count, MemoryType type, uint64_t first) {
  std::vector<PageSlot> scratch(slots);
  PageHash hash;
  hash.init(scratch.data(), scratch.size());
  auto home_of = [&](uint64_t pa) {
    EXPECT_TRUE(hash.put(typed_page(type, pa), 0, 1));
    PageSlot* slot = hash.find(typed_page(type, pa));
    const size_t home = static_cast<size_t>(slot - scratch.data());
    hash.erase(slot);
    return home;
  };
  const size_t target = home_of(first);
  std::vector<uint64_t> pages;
  for (uint64_t pa = first; pages.size() < count; pa += kPage) {
    if (home_of(pa) == target) pages.push_back(pa);
  }
  return pages;
}

std::vector<PhysRun> all_runs(const PaIndex& index) {
  std::vector<PhysRun> runs;
  index.for_each([&](const PhysRun& r) { runs.push_back(r); });
  return runs;
}

// Expects `call` to fail with `error` and leave the index exactly as it was.
template <typename Call>
void expect_refused(PaIndex& index, Error error, Call call) {
  const std::vector<PhysRun> before = all_runs(index);
  const PaIndexStats stats = index.stats();
  EXPECT_EQ(call(), error);
  const std::vector<PhysRun> after = all_runs(index);
  ASSERT_EQ(after.size(), before.size());
  for (size_t i = 0; i < after.size(); ++i) EXPECT_TRUE(same_run(after[i], before[i]));
  EXPECT_EQ(index.stats().nodes_in_use, stats.nodes_in_use);
  EXPECT_TRUE(index.audit());
}

class PaIndexTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(index.init(storage.nodes, storage.kCount).ok()); }
  PaIndexStorage<16> storage;
  PaIndex index;
};

TEST_F(PaIndexTest, TranslatesBothWays) {
  ASSERT_TRUE(index.insert(run(0x8000'0000, 0x4000'0000, 4)).ok());
  EXPECT_EQ(index.virt_to_phys(VirtAddr(0x4000'0000)).value(), PhysAddr(0x8000'0000));
  EXPECT_EQ(index.virt_to_phys(VirtAddr(0x4000'3fff)).value(), PhysAddr(0x8000'3fff));
  EXPECT_EQ(index.virt_to_phys(VirtAddr(0x4000'4000)).error(), Error::kNotFound);
  EXPECT_EQ(index.virt_to_phys(VirtAddr(0x3fff'ffff)).error(), Error::kNotFound);
  EXPECT_EQ(index.phys_to_virt(PhysAddr(0x8000'1234), Size(16), MemoryType::kNsecShm).value(), VirtAddr(0x4000'1234));
  EXPECT_EQ(index.phys_to_virt(PhysAddr(0x8000'0000), Size(4 * kPage), MemoryType::kNsecShm).value(),
            VirtAddr(0x4000'0000));
  const Result<PhysRun> found = index.find_by_va(VirtAddr(0x4000'2000));
  ASSERT_TRUE(found.ok());
  EXPECT_TRUE(same_run(found.value(), run(0x8000'0000, 0x4000'0000, 4)));
  EXPECT_EQ(index.stats().runs, 1u);
  EXPECT_TRUE(index.audit());
}

TEST_F(PaIndexTest, PhysToVirtNeedsOneRunOfTheTypeCoveringAll) {
  ASSERT_TRUE(index.insert(run(0x8000'0000, 0x4000'0000, 2)).ok());
  ASSERT_TRUE(index.insert(run(0x8000'2000, 0x5000'0000, 2)).ok());  // PA-contiguous, VA apart
  const MemoryType shm = MemoryType::kNsecShm;
  EXPECT_EQ(index.phys_to_virt(PhysAddr(0x8000'1000), Size(2 * kPage), shm).error(), Error::kNotFound);
  EXPECT_EQ(index.phys_to_virt(PhysAddr(0x8000'1000), Size(kPage + 1), shm).error(), Error::kNotFound);
  EXPECT_EQ(index.phys_to_virt(PhysAddr(0x8000'1000), Size(kPage), shm).value(), VirtAddr(0x4000'1000));
  EXPECT_EQ(index.phys_to_virt(PhysAddr(0x8000'2000), Size(kPage), shm).value(), VirtAddr(0x5000'0000));
  EXPECT_EQ(index.phys_to_virt(PhysAddr(0x8000'1000), Size(kPage), MemoryType::kIoSec).error(), Error::kNotFound);
  EXPECT_EQ(index.phys_to_virt(PhysAddr(0x7fff'f000), Size(kPage), shm).error(), Error::kNotFound);
  EXPECT_EQ(index.phys_to_virt(PhysAddr(0x8000'4000), Size(0), shm).error(), Error::kNotFound);
  EXPECT_EQ(index.phys_to_virt(PhysAddr(0x8000'3fff), Size(0), shm).value(), VirtAddr(0x5000'1fff));
  EXPECT_EQ(index.phys_to_virt(PhysAddr(kAddressLimit - 1), Size(2), shm).error(), Error::kNotFound);
  EXPECT_EQ(index.phys_to_virt(PhysAddr(0x8000'0000), Size(kPage), static_cast<MemoryType>(kMemoryTypeCount)).error(),
            Error::kInvalidArgument);
}

TEST_F(PaIndexTest, OverlappingPhysicalRunsAnswerByLowestStartThenLowestVa) {
  const MemoryType shm = MemoryType::kNsecShm;
  ASSERT_TRUE(index.insert(run(0x8000'2000, 0x1000'0000, 2)).ok());
  ASSERT_TRUE(index.insert(run(0x8000'0000, 0x3000'0000, 8)).ok());  // covers the first
  ASSERT_TRUE(index.insert(run(0x8000'0000, 0x2000'0000, 8)).ok());  // same PA, lower VA
  ASSERT_TRUE(index.insert(run(0x8000'0000, 0x0800'0000, 8, MemoryType::kIoNsec)).ok());
  EXPECT_EQ(index.phys_to_virt(PhysAddr(0x8000'2000), Size(kPage), shm).value(), VirtAddr(0x2000'2000));
  EXPECT_EQ(index.phys_to_virt(PhysAddr(0x8000'2000), Size(kPage), MemoryType::kIoNsec).value(), VirtAddr(0x0800'2000));
  ASSERT_TRUE(index.remove(VirtAddr(0x2000'0000)).ok());
  EXPECT_EQ(index.phys_to_virt(PhysAddr(0x8000'2000), Size(kPage), shm).value(), VirtAddr(0x3000'2000));
  ASSERT_TRUE(index.remove(VirtAddr(0x3000'0000)).ok());
  EXPECT_EQ(index.phys_to_virt(PhysAddr(0x8000'2000), Size(kPage), shm).value(), VirtAddr(0x1000'0000));
  EXPECT_EQ(index.phys_to_virt(PhysAddr(0x8000'1000), Size(kPage), shm).error(), Error::kNotFound);
  EXPECT_TRUE(index.audit());
}

TEST_F(PaIndexTest, LongLowerRunOfAnotherTypeDoesNotHideTheAnswer) {
  // A huge run of a lower type must not satisfy, nor block, the search for a higher type.
  ASSERT_TRUE(index.insert(run(0x0, 0x1'0000'0000, 0x10'0000, MemoryType::kTeeRam)).ok());
  ASSERT_TRUE(index.insert(run(0x9000'0000, 0x2000'0000, 1, MemoryType::kNsecShm)).ok());
  EXPECT_EQ(index.phys_to_virt(PhysAddr(0x9000'0000), Size(kPage), MemoryType::kNsecShm).value(),
            VirtAddr(0x2000'0000));
  EXPECT_EQ(index.phys_to_virt(PhysAddr(0x1000), Size(kPage), MemoryType::kNsecShm).error(), Error::kNotFound);
  EXPECT_EQ(index.phys_to_virt(PhysAddr(0x9000'0000), Size(kPage), MemoryType::kTeeRam).value(),
            VirtAddr(0x1'9000'0000));
}

TEST_F(PaIndexTest, InsertRefusesBadRunsWithoutChange) {
  ASSERT_TRUE(index.insert(run(0x8000'0000, 0x4000'0000, 4)).ok());
  auto insert = [&](const PhysRun& r) { return index.insert(r).error(); };
  expect_refused(index, Error::kZeroSize, [&] { return insert(run(0x9000'0000, 0x5000'0000, 0)); });
  expect_refused(index, Error::kMisaligned, [&] {
    return insert(PhysRun{PhysAddr(0x9000'0010), VirtAddr(0x5000'0000), Size(kPage), MemoryType::kNsecShm, {}});
  });
  expect_refused(index, Error::kMisaligned, [&] {
    return insert(PhysRun{PhysAddr(0x9000'0000), VirtAddr(0x5000'0010), Size(kPage), MemoryType::kNsecShm, {}});
  });
  expect_refused(index, Error::kMisaligned, [&] {
    return insert(PhysRun{PhysAddr(0x9000'0000), VirtAddr(0x5000'0000), Size(kPage + 8), MemoryType::kNsecShm, {}});
  });
  expect_refused(index, Error::kInvalidArgument,
                 [&] { return insert(run(0x9000'0000, 0x5000'0000, 1, static_cast<MemoryType>(kMemoryTypeCount))); });
  expect_refused(index, Error::kAddressOverflow, [&] { return insert(run(kAddressLimit - kPage, 0x5000'0000, 2)); });
  expect_refused(index, Error::kAddressOverflow, [&] { return insert(run(kAddressLimit, 0x5000'0000, 1)); });
  expect_refused(index, Error::kAddressOverflow, [&] { return insert(run(0x9000'0000, ~kPageMask, 2)); });
  expect_refused(index, Error::kOverlap, [&] { return insert(run(0x9000'0000, 0x4000'0000, 1)); });
  expect_refused(index, Error::kOverlap, [&] { return insert(run(0x9000'0000, 0x4000'3000, 4)); });
  expect_refused(index, Error::kOverlap, [&] { return insert(run(0x9000'0000, 0x3fff'f000, 2)); });
  expect_refused(index, Error::kOverlap, [&] { return insert(run(0x9000'0000, 0x3fff'0000, 32)); });
  // Touching is not overlapping, and the same PA may be mapped again elsewhere.
  EXPECT_TRUE(index.insert(run(0x8000'0000, 0x4000'4000, 1)).ok());
  EXPECT_TRUE(index.insert(run(0x8000'0000, 0x3fff'f000, 1)).ok());
  EXPECT_TRUE(index.insert(run(kAddressLimit - kPage, 0x7000'0000, 1)).ok());
  EXPECT_TRUE(index.audit());
}

TEST_F(PaIndexTest, RemoveTakesOnlyTheRunStartingThere) {
  ASSERT_TRUE(index.insert(run(0x8000'0000, 0x4000'0000, 4)).ok());
  expect_refused(index, Error::kNotFound, [&] { return index.remove(VirtAddr(0x4000'1000)).error(); });
  expect_refused(index, Error::kNotFound, [&] { return index.remove(VirtAddr(0x5000'0000)).error(); });
  expect_refused(index, Error::kNotFound, [&] { return index.remove(VirtAddr(0)).error(); });
  ASSERT_TRUE(index.remove(VirtAddr(0x4000'0000)).ok());
  EXPECT_EQ(index.virt_to_phys(VirtAddr(0x4000'0000)).error(), Error::kNotFound);
  EXPECT_EQ(index.phys_to_virt(PhysAddr(0x8000'0000), Size(1), MemoryType::kNsecShm).error(), Error::kNotFound);
  EXPECT_EQ(index.stats().nodes_in_use, 0u);
  expect_refused(index, Error::kNotFound, [&] { return index.remove(VirtAddr(0x4000'0000)).error(); });
  EXPECT_TRUE(index.insert(run(0x8000'0000, 0x4000'0000, 4)).ok());
  EXPECT_TRUE(index.audit());
}

TEST_F(PaIndexTest, VisitsRunsInVaOrder) {
  ASSERT_TRUE(index.insert(run(0x1000, 0x30'0000, 1, MemoryType::kIoSec, 2)).ok());
  ASSERT_TRUE(index.insert(run(0x9000, 0x10'0000, 1, MemoryType::kNsecShm, 1)).ok());
  ASSERT_TRUE(index.insert(run(0x5000, 0x20'0000, 1, MemoryType::kRamSec, 3)).ok());
  const std::vector<PhysRun> runs = all_runs(index);
  ASSERT_EQ(runs.size(), 3u);
  EXPECT_TRUE(same_run(runs[0], run(0x9000, 0x10'0000, 1, MemoryType::kNsecShm, 1)));
  EXPECT_TRUE(same_run(runs[1], run(0x5000, 0x20'0000, 1, MemoryType::kRamSec, 3)));
  EXPECT_TRUE(same_run(runs[2], run(0x1000, 0x30'0000, 1, MemoryType::kIoSec, 2)));
}

TEST(PaIndexBoundTest, PoolExhaustionIsCleanAndExact) {
  PaIndexStorage<3> storage;
  PaIndex index;
  ASSERT_TRUE(index.init(storage.nodes, storage.kCount).ok());
  for (uint64_t i = 0; i < 3; ++i) ASSERT_TRUE(index.insert(run(0x8000'0000, 0x1000'0000 + i * kPage, 1)).ok());
  EXPECT_EQ(index.stats().nodes_in_use, index.stats().node_capacity);
  expect_refused(index, Error::kOutOfMemory, [&] { return index.insert(run(0x8000'0000, 0x2000'0000, 1)).error(); });
  ASSERT_TRUE(index.remove(VirtAddr(0x1000'1000)).ok());
  EXPECT_TRUE(index.insert(run(0x8000'0000, 0x2000'0000, 1)).ok());
  EXPECT_TRUE(index.audit());

  PaIndex empty;
  ASSERT_TRUE(empty.init(nullptr, 0).ok());
  EXPECT_EQ(empty.insert(run(0x8000'0000, 0x2000'0000, 1)).error(), Error::kOutOfMemory);
  EXPECT_EQ(empty.init(nullptr, 5).error(), Error::kInvalidArgument);
  EXPECT_TRUE(empty.audit());
}

// The pool holds node_count runs at the trees' worst fill: churn at full capacity with removals
// that leave leaves half empty, in both VA and PA order, never runs out of storage.
TEST(PaIndexBoundTest, FullPoolSurvivesChurnAtLargeSizes) {
  constexpr size_t kRuns = 5000;
  auto nodes = std::make_unique<PaIndex::Node[]>(kRuns);
  PaIndex index;
  ASSERT_TRUE(index.init(nodes.get(), kRuns).ok());
  std::mt19937_64 rng(3);
  std::vector<uint64_t> pa_of(kRuns);
  for (uint64_t i = 0; i < kRuns; ++i) {
    pa_of[i] = 0x8000'0000 + (rng() % 512) * kPage;  // many runs share a PA
    ASSERT_TRUE(index.insert(run(pa_of[i], 0x1000'0000 + i * kPage, 1, MemoryType::kNsecShm)).ok());
  }
  EXPECT_EQ(index.stats().nodes_in_use, index.stats().node_capacity);
  ASSERT_TRUE(index.audit());
  for (int round = 0; round < 4; ++round) {
    std::vector<uint64_t> removed;
    for (uint64_t i = 0; i < kRuns; ++i) {
      if (rng() % 3 == 0) continue;
      ASSERT_TRUE(index.remove(VirtAddr(0x1000'0000 + i * kPage)).ok());
      removed.push_back(i);
    }
    ASSERT_TRUE(index.audit());
    for (uint64_t i : removed) {
      ASSERT_TRUE(index.insert(run(pa_of[i], 0x1000'0000 + i * kPage, 1, MemoryType::kNsecShm)).ok());
    }
    ASSERT_TRUE(index.audit());
  }
  expect_refused(index, Error::kOutOfMemory, [&] { return index.insert(run(0x8000'0000, 0x2000'0000, 1)).error(); });
  EXPECT_EQ(index.phys_to_virt(PhysAddr(pa_of[17]), Size(kPage), MemoryType::kNsecShm).ok(), true);
}

// ---- Page hash --------------------------------------------------------------------------------

TEST(PageHashTest, FullWindowStoresNothingAndEraseMakesRoom) {
  PageSlot slots[PageHash::kWindow];  // one window: every key shares it
  PageHash hash;
  hash.init(slots, PageHash::kWindow);
  for (uint64_t i = 0; i < PageHash::kWindow; ++i) ASSERT_TRUE(hash.put((i + 1) * kPage, 0x10'0000 + i * kPage, i + 1));
  EXPECT_FALSE(hash.put(0x100 * kPage, 0x20'0000, 1));
  EXPECT_EQ(hash.find(0x100 * kPage), nullptr);
  EXPECT_EQ(hash.used(), size_t{PageHash::kWindow});
  ASSERT_TRUE(hash.put(3 * kPage, 0x30'0000, PageHash::kMaxPages + 5));  // replaces, saturated
  const PageSlot* replaced = hash.find(3 * kPage);
  ASSERT_NE(replaced, nullptr);
  EXPECT_EQ(PageHash::va_of(*replaced), 0x30'0000u);
  EXPECT_EQ(PageHash::pages_of(*replaced), PageHash::kMaxPages);
  EXPECT_EQ(PageHash::pages_of(*hash.find(2 * kPage)), 2u);
  EXPECT_TRUE(hash.audit());
  hash.erase(hash.find(5 * kPage));
  EXPECT_EQ(hash.find(5 * kPage), nullptr);
  EXPECT_TRUE(hash.put(0x100 * kPage, 0x20'0000, 1));
  EXPECT_TRUE(hash.audit());

  PageHash none;
  none.init(nullptr, 0);
  EXPECT_FALSE(none.enabled());
  EXPECT_FALSE(none.put(kPage, 0, 1));
  EXPECT_EQ(none.find(kPage), nullptr);
  EXPECT_TRUE(none.audit());
}

TEST(PaIndexHashTest, RemovalRecomputesPagesFromTheTrees) {
  PaIndexStorage<16> storage;
  PageSlot slots[64];
  PaIndex index;
  ASSERT_TRUE(index.init(storage.nodes, storage.kCount, slots, 64).ok());
  EXPECT_EQ(index.init(storage.nodes, storage.kCount, nullptr, 4).error(), Error::kInvalidArgument);
  ASSERT_TRUE(index.init(storage.nodes, storage.kCount, slots, 64).ok());
  const MemoryType shm = MemoryType::kNsecShm;
  ASSERT_TRUE(index.insert(run(0x8000'2000, 0x1000'0000, 2)).ok());
  EXPECT_EQ(index.stats().hashed_pages, 2u);
  ASSERT_TRUE(index.insert(run(0x8000'0000, 0x3000'0000, 8)).ok());  // better for the first run's pages
  ASSERT_TRUE(index.insert(run(0x8000'0000, 0x2000'0000, 8)).ok());  // better still: same PA, lower VA
  ASSERT_TRUE(index.insert(run(0x8000'0000, 0x0800'0000, 8, MemoryType::kIoNsec)).ok());
  EXPECT_EQ(index.stats().hashed_pages, 16u);  // (type, page) pairs, not runs
  EXPECT_EQ(index.stats().hash_slots, 64u);
  ASSERT_TRUE(index.audit());
  EXPECT_EQ(index.phys_to_virt(PhysAddr(0x8000'2010), Size(16), shm).value(), VirtAddr(0x2000'2010));
  ASSERT_TRUE(index.remove(VirtAddr(0x2000'0000)).ok());
  ASSERT_TRUE(index.audit());
  EXPECT_EQ(index.phys_to_virt(PhysAddr(0x8000'2010), Size(16), shm).value(), VirtAddr(0x3000'2010));
  ASSERT_TRUE(index.remove(VirtAddr(0x3000'0000)).ok());
  ASSERT_TRUE(index.audit());
  EXPECT_EQ(index.stats().hashed_pages, 10u);
  EXPECT_EQ(index.phys_to_virt(PhysAddr(0x8000'2000), Size(kPage), shm).value(), VirtAddr(0x1000'0000));
  EXPECT_EQ(index.phys_to_virt(PhysAddr(0x8000'2000), Size(3 * kPage), shm).error(), Error::kNotFound);
  EXPECT_EQ(index.phys_to_virt(PhysAddr(0x8000'1000), Size(kPage), shm).error(), Error::kNotFound);
  ASSERT_TRUE(index.remove(VirtAddr(0x1000'0000)).ok());
  ASSERT_TRUE(index.remove(VirtAddr(0x0800'0000)).ok());
  EXPECT_EQ(index.stats().hashed_pages, 0u);
  EXPECT_TRUE(index.audit());
}

// A run longer than the slots can count: its early pages are hashed with a saturated count, so
// a lookup reaching past it falls back to the tree, and gets the same answer.
TEST(PaIndexHashTest, LongRunsSaturateAndLongLookupsFallBack) {
  PaIndexStorage<4> storage;
  PageSlot slots[16];
  PaIndex index;
  ASSERT_TRUE(index.init(storage.nodes, storage.kCount, slots, 16).ok());
  const uint64_t pages = PageHash::kMaxPages + 16;
  ASSERT_TRUE(index.insert(run(0x1'0000'0000, 0x100'0000'0000, pages)).ok());
  EXPECT_GT(index.stats().hashed_pages, 8u);  // the table fills, then the rest of the run is skipped
  ASSERT_TRUE(index.audit());
  for (uint64_t i = 0; i < 64; ++i) {
    const PhysAddr pa(0x1'0000'0000 + i * kPage + 8);
    const uint64_t va = 0x100'0000'0000 + i * kPage + 8;
    EXPECT_EQ(index.phys_to_virt(pa, Size(kPage), MemoryType::kNsecShm).value(), VirtAddr(va));
    EXPECT_EQ(index.phys_to_virt(pa, Size((pages - i) * kPage - 8), MemoryType::kNsecShm).value(), VirtAddr(va));
    EXPECT_EQ(index.phys_to_virt(pa, Size((pages - i) * kPage - 7), MemoryType::kNsecShm).error(), Error::kNotFound);
  }
  ASSERT_TRUE(index.remove(VirtAddr(0x100'0000'0000)).ok());
  EXPECT_EQ(index.stats().hashed_pages, 0u);
  EXPECT_TRUE(index.audit());
}

// PAs chosen so every page lands in one window: the window holds kWindow of them, the rest stay
// unhashed, and every lookup still answers; removing hashed runs makes room for later ones.
TEST(PaIndexHashTest, CollidingPagesGoUnhashedAndStillAnswer) {
  constexpr size_t kSlots = 64;
  constexpr size_t kRuns = 24;
  const std::vector<uint64_t> pas = colliding_pages(kSlots, kRuns, MemoryType::kNsecShm, 0x8000'0000);
  PaIndexStorage<kRuns> storage;
  PageSlot slots[kSlots];
  PaIndex index;
  ASSERT_TRUE(index.init(storage.nodes, storage.kCount, slots, kSlots).ok());
  auto va_of = [](size_t i) { return 0x4000'0000 + i * 2 * kPage; };
  for (size_t i = 0; i < kRuns; ++i) ASSERT_TRUE(index.insert(run(pas[i], va_of(i), 1)).ok());
  EXPECT_EQ(index.stats().hashed_pages, size_t{PageHash::kWindow});
  ASSERT_TRUE(index.audit());
  auto check_all = [&](size_t from) {
    for (size_t i = from; i < kRuns; ++i) {
      EXPECT_EQ(index.phys_to_virt(PhysAddr(pas[i] + 5), Size(1), MemoryType::kNsecShm).value(),
                VirtAddr(va_of(i) + 5));
    }
  };
  check_all(0);
  for (size_t i = 0; i < 4; ++i) ASSERT_TRUE(index.remove(VirtAddr(va_of(i))).ok());
  EXPECT_EQ(index.stats().hashed_pages, size_t{PageHash::kWindow} - 4);
  ASSERT_TRUE(index.insert(run(pas[0], va_of(0), 1)).ok());  // there is room again
  EXPECT_EQ(index.stats().hashed_pages, size_t{PageHash::kWindow} - 3);
  ASSERT_TRUE(index.remove(VirtAddr(va_of(0))).ok());
  ASSERT_TRUE(index.audit());
  check_all(4);
}

// ---- Property test ----------------------------------------------------------------------------

// The plain model: runs by VA start; phys_to_virt scans them all.
struct Model {
  std::map<uint64_t, PhysRun> by_va;

  bool va_overlaps(uint64_t va, uint64_t size) const {
    for (const auto& [start, r] : by_va) {
      if (start < va + size && va < start + r.size.bytes) return true;
    }
    return false;
  }
  std::optional<uint64_t> phys_to_virt(uint64_t pa, uint64_t size, MemoryType type) const {
    std::optional<std::tuple<uint64_t, uint64_t>> best;  // (pa, va) of the answering run
    for (const auto& [va, r] : by_va) {
      if (r.type != type || r.pa.value > pa || r.pa.value + r.size.bytes < pa + size) continue;
      const std::tuple<uint64_t, uint64_t> key{r.pa.value, va};
      if (!best || key < *best) best = key;
    }
    if (!best) return std::nullopt;
    return std::get<1>(*best) + (pa - std::get<0>(*best));
  }
  std::optional<uint64_t> virt_to_phys(uint64_t va) const {
    auto it = by_va.upper_bound(va);
    if (it == by_va.begin()) return std::nullopt;
    --it;
    if (va >= it->first + it->second.size.bytes) return std::nullopt;
    return it->second.pa.value + (va - it->first);
  }
};

// How the property test's second index hashes pages (the first never does).
enum class HashMode { kNone, kAmple, kTiny, kColliding };

const char* mode_name(HashMode mode) {
  switch (mode) {
    case HashMode::kNone: return "None";
    case HashMode::kAmple: return "Ample";
    case HashMode::kTiny: return "Tiny";
    case HashMode::kColliding: return "Colliding";
  }
  return "?";
}

class PaIndexProperty : public ::testing::TestWithParam<std::tuple<uint32_t, HashMode>> {};

// Two indexes, one plain and one with a page hash (per the mode), take the same random steps; after
// each, both audit clean (the hashed one's audit checks every slot against the trees) and hold the
// model's runs, and every so often every page of the PA universe is looked up in both, for every
// type, and compared with the model.
TEST_P(PaIndexProperty, AgreesWithReferenceModel) {
  const auto [seed, mode] = GetParam();
  constexpr size_t kCapacity = 40;
  constexpr uint64_t kPaBase = 0x8000'0000;
  constexpr uint64_t kVaBase = 0x4000'0000;
  const MemoryType kTypes[] = {MemoryType::kNsecShm, MemoryType::kIoSec, MemoryType::kTeeRam};
  std::mt19937_64 rng(seed);
  auto below = [&](uint64_t bound) { return std::uniform_int_distribution<uint64_t>(0, bound - 1)(rng); };

  // The slots: ample (more than twice the most pages that can be live: 40 runs of <= 8 pages),
  // one window's worth (most pages go unhashed), or a table where every run's first page has the
  // same home (for kNsecShm: the other types then land elsewhere).
  const size_t slot_count = mode == HashMode::kNone ? 0 : mode == HashMode::kTiny ? PageHash::kWindow : 1024;
  // Run starts are drawn from 64 pages and lookups from these 72: contiguous pages, so runs overlap
  // physically, or pages that collide.
  std::vector<uint64_t> universe;
  if (mode == HashMode::kColliding) {
    universe = colliding_pages(slot_count, 72, MemoryType::kNsecShm, kPaBase);
  } else {
    for (uint64_t i = 0; i < 72; ++i) universe.push_back(kPaBase + i * kPage);
  }

  auto nodes = std::make_unique<PaIndex::Node[]>(kCapacity);
  auto hashed_nodes = std::make_unique<PaIndex::Node[]>(kCapacity);
  std::vector<PageSlot> slots(slot_count);
  PaIndex index;
  PaIndex hashed;
  ASSERT_TRUE(index.init(nodes.get(), kCapacity).ok());
  ASSERT_TRUE(hashed.init(hashed_nodes.get(), kCapacity, slots.data(), slots.size()).ok());
  Model model;
  int inserted = 0, full = 0, overlaps = 0, hits = 0;
  size_t most_hashed = 0, most_unhashed = 0;

  // Both indexes and the model agree on [pa, pa + size) of `type`; counts answers found.
  auto check_lookup = [&](uint64_t pa, uint64_t size, MemoryType type) {
    const Result<VirtAddr> got = index.phys_to_virt(PhysAddr(pa), Size(size), type);
    const Result<VirtAddr> got_hashed = hashed.phys_to_virt(PhysAddr(pa), Size(size), type);
    const std::optional<uint64_t> expected = model.phys_to_virt(pa, size == 0 ? 1 : size, type);
    ASSERT_EQ(got.ok(), expected.has_value());
    ASSERT_EQ(got_hashed.ok(), expected.has_value());
    if (expected) {
      ASSERT_EQ(got.value().value, *expected);
      ASSERT_EQ(got_hashed.value().value, *expected);
      ++hits;
    }
  };

  for (int step = 0; step < 5000; ++step) {
    SCOPED_TRACE(testing::Message() << "step " << step);
    const uint64_t op = below(100);
    if (op < 35) {
      // VAs spread over 1024 pages.
      const PhysRun r = run(universe[below(64)], kVaBase + below(1024) * kPage, 1 + below(8), kTypes[below(3)],
                            static_cast<uint16_t>(below(8)));
      Error expected = Error::kOk;
      if (model.va_overlaps(r.va.value, r.size.bytes)) {
        expected = Error::kOverlap;
      } else if (model.by_va.size() == kCapacity) {
        expected = Error::kOutOfMemory;
      }
      ASSERT_EQ(index.insert(r).error(), expected);
      ASSERT_EQ(hashed.insert(r).error(), expected);
      if (expected == Error::kOk) model.by_va[r.va.value] = r;
      inserted += expected == Error::kOk;
      full += expected == Error::kOutOfMemory;
      overlaps += expected == Error::kOverlap;
    } else if (op < 60) {
      uint64_t va = kVaBase + below(1024) * kPage;
      if (!model.by_va.empty() && below(8) != 0) {
        auto it = model.by_va.begin();
        std::advance(it, below(model.by_va.size()));
        va = it->first;
      }
      const Status removed = index.remove(VirtAddr(va));
      ASSERT_EQ(hashed.remove(VirtAddr(va)).error(), removed.error());
      ASSERT_EQ(removed.ok(), model.by_va.erase(va) == 1);
      if (!removed.ok()) {
        ASSERT_EQ(removed.error(), Error::kNotFound);
      }
    } else if (op < 85) {
      const uint64_t pa = universe[below(72)] - kPage + below(6 * kPage);
      const uint64_t size = below(3) == 0 ? 0 : 1 + below(4 * kPage);
      check_lookup(pa, size, kTypes[below(3)]);
    } else {
      const uint64_t va = kVaBase - kPage + below(1030 * kPage);
      const Result<PhysAddr> got = index.virt_to_phys(VirtAddr(va));
      const std::optional<uint64_t> expected = model.virt_to_phys(va);
      ASSERT_EQ(got.ok(), expected.has_value());
      ASSERT_EQ(hashed.virt_to_phys(VirtAddr(va)).ok(), expected.has_value());
      if (expected) {
        ASSERT_EQ(got.value().value, *expected);
      }
    }
    ASSERT_TRUE(index.audit());
    ASSERT_TRUE(hashed.audit());
    ASSERT_EQ(index.stats().runs, model.by_va.size());
    const std::vector<PhysRun> runs = all_runs(index);
    const std::vector<PhysRun> hashed_runs = all_runs(hashed);
    ASSERT_EQ(runs.size(), model.by_va.size());
    ASSERT_EQ(hashed_runs.size(), model.by_va.size());
    size_t i = 0;
    for (const auto& [va, r] : model.by_va) {
      ASSERT_TRUE(same_run(runs[i], r));
      ASSERT_TRUE(same_run(hashed_runs[i++], r));
    }

    // Pages the hash could hold (distinct (type, page) pairs covered) against those it holds.
    std::set<uint64_t> covered;
    for (const auto& [va, r] : model.by_va) {
      for (uint64_t pa = r.pa.value; pa < r.pa.value + r.size.bytes; pa += kPage)
        covered.insert(typed_page(r.type, pa));
    }
    const size_t hashed_pages = hashed.stats().hashed_pages;
    ASSERT_LE(hashed_pages, covered.size());
    most_hashed = std::max(most_hashed, hashed_pages);
    most_unhashed = std::max(most_unhashed, covered.size() - hashed_pages);
    if (step % 16 == 0) {
      for (uint64_t page : universe) {
        for (MemoryType type : kTypes) {
          ASSERT_NO_FATAL_FAILURE(check_lookup(page, kPage, type));
          ASSERT_NO_FATAL_FAILURE(check_lookup(page + 0x800, 0, type));
          ASSERT_NO_FATAL_FAILURE(check_lookup(page + 0x10, 2 * kPage, type));
        }
      }
    }
  }
  EXPECT_GT(inserted, 300);
  EXPECT_GT(full, 10);
  EXPECT_GT(overlaps, 10);
  EXPECT_GT(hits, 200);
  if (mode == HashMode::kNone) {
    EXPECT_EQ(most_hashed, 0u);
  } else {
    EXPECT_GT(most_hashed, mode == HashMode::kTiny ? 4u : 100u);
  }
  if (mode == HashMode::kTiny || mode == HashMode::kColliding) {
    EXPECT_GT(most_unhashed, 10u);
  }

  while (!model.by_va.empty()) {
    ASSERT_TRUE(index.remove(VirtAddr(model.by_va.begin()->first)).ok());
    ASSERT_TRUE(hashed.remove(VirtAddr(model.by_va.begin()->first)).ok());
    model.by_va.erase(model.by_va.begin());
    ASSERT_TRUE(index.audit());
    ASSERT_TRUE(hashed.audit());
  }
  EXPECT_EQ(index.stats().nodes_in_use, 0u);
  EXPECT_EQ(hashed.stats().nodes_in_use, 0u);
  EXPECT_EQ(hashed.stats().hashed_pages, 0u);
}

INSTANTIATE_TEST_SUITE_P(Seeds, PaIndexProperty,
                         ::testing::Combine(::testing::Values(11u, 12u, 13u),
                                            ::testing::Values(HashMode::kNone, HashMode::kAmple, HashMode::kTiny,
                                                              HashMode::kColliding)),
                         [](const ::testing::TestParamInfo<PaIndexProperty::ParamType>& info) {
                           return mode_name(std::get<1>(info.param)) + std::to_string(std::get<0>(info.param));
                         });

}  // namespace
}  // namespace teemm::mm
