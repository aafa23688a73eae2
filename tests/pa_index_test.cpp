// tests/pa_index_test: unit tests of every PaIndex operation and error, its bound, and a property
// test against a std::map reference model.
#include "mm/pa_index.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <random>
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

class PaIndexProperty : public ::testing::TestWithParam<uint32_t> {};

TEST_P(PaIndexProperty, AgreesWithReferenceModel) {
  constexpr size_t kCapacity = 40;
  constexpr uint64_t kPaBase = 0x8000'0000;
  constexpr uint64_t kVaBase = 0x4000'0000;
  const MemoryType kTypes[] = {MemoryType::kNsecShm, MemoryType::kIoSec, MemoryType::kTeeRam};
  std::mt19937_64 rng(GetParam());
  auto below = [&](uint64_t bound) { return std::uniform_int_distribution<uint64_t>(0, bound - 1)(rng); };

  auto nodes = std::make_unique<PaIndex::Node[]>(kCapacity);
  PaIndex index;
  ASSERT_TRUE(index.init(nodes.get(), kCapacity).ok());
  Model model;
  int inserted = 0, full = 0, overlaps = 0, hits = 0;

  for (int step = 0; step < 5000; ++step) {
    const uint64_t op = below(100);
    if (op < 35) {
      // PAs crowd into 64 pages so runs overlap physically; VAs spread over 1024 pages.
      const PhysRun r = run(kPaBase + below(64) * kPage, kVaBase + below(1024) * kPage, 1 + below(8), kTypes[below(3)],
                            static_cast<uint16_t>(below(8)));
      Error expected = Error::kOk;
      if (model.va_overlaps(r.va.value, r.size.bytes)) {
        expected = Error::kOverlap;
      } else if (model.by_va.size() == kCapacity) {
        expected = Error::kOutOfMemory;
      }
      ASSERT_EQ(index.insert(r).error(), expected);
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
      ASSERT_EQ(removed.ok(), model.by_va.erase(va) == 1);
      if (!removed.ok()) {
        ASSERT_EQ(removed.error(), Error::kNotFound);
      }
    } else if (op < 85) {
      const uint64_t pa = kPaBase - kPage + below(72 * kPage);
      const uint64_t size = below(3) == 0 ? 0 : 1 + below(4 * kPage);
      const MemoryType type = kTypes[below(3)];
      const Result<VirtAddr> got = index.phys_to_virt(PhysAddr(pa), Size(size), type);
      const std::optional<uint64_t> expected = model.phys_to_virt(pa, size == 0 ? 1 : size, type);
      ASSERT_EQ(got.ok(), expected.has_value()) << "step " << step;
      if (expected) {
        ASSERT_EQ(got.value().value, *expected) << "step " << step;
        ++hits;
      }
    } else {
      const uint64_t va = kVaBase - kPage + below(1030 * kPage);
      const Result<PhysAddr> got = index.virt_to_phys(VirtAddr(va));
      const std::optional<uint64_t> expected = model.virt_to_phys(va);
      ASSERT_EQ(got.ok(), expected.has_value());
      if (expected) {
        ASSERT_EQ(got.value().value, *expected);
      }
    }
    ASSERT_TRUE(index.audit()) << "step " << step;
    ASSERT_EQ(index.stats().runs, model.by_va.size());
    const std::vector<PhysRun> runs = all_runs(index);
    ASSERT_EQ(runs.size(), model.by_va.size());
    size_t i = 0;
    for (const auto& [va, r] : model.by_va) ASSERT_TRUE(same_run(runs[i++], r));
  }
  EXPECT_GT(inserted, 300);
  EXPECT_GT(full, 10);
  EXPECT_GT(overlaps, 10);
  EXPECT_GT(hits, 200);

  while (!model.by_va.empty()) {
    ASSERT_TRUE(index.remove(VirtAddr(model.by_va.begin()->first)).ok());
    model.by_va.erase(model.by_va.begin());
    ASSERT_TRUE(index.audit());
  }
  EXPECT_EQ(index.stats().nodes_in_use, 0u);
}

INSTANTIATE_TEST_SUITE_P(Seeds, PaIndexProperty, ::testing::Values(11u, 12u, 13u));

}  // namespace
}  // namespace teemm::mm
