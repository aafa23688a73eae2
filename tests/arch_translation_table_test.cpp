// The table builder/mapper, checked through the independent walker: blocks and pages, splitting,
// reclaim, refusals that change nothing, pool bounds, TLB-maintenance calls, stage 2.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "arch/arm64/translation_table.hpp"
#include "arch/arm64/walker.hpp"
#include "support/host_pool.hpp"

namespace teemm::arm64 {
namespace {

constexpr uint64_t KiB = 1024, MiB = 1024 * KiB, GiB = 1024 * MiB;

MappingAttributes rw(bool non_secure = false) {
  MappingAttributes a;
  a.privileged = {true, true, false};
  a.non_secure = non_secure;
  return a;
}

struct RecordingTlb final : TlbMaintenance {
  struct Call {
    uint64_t input, size, stride;
    bool leaf_only;
  };
  void invalidate(Stage, uint64_t input, uint64_t size, uint64_t stride, bool leaf_only) override {
    calls.push_back({input, size, stride, leaf_only});
  }
  std::vector<Call> calls;
};

struct Fixture : ::testing::Test {
  testing::HostPool host{256};
  Stage1Table table = Stage1Table::create(host.pool, 39).value();
  WalkResult walk_va(uint64_t va) const { return walk(host.memory(), table.raw().root(), Stage::kStage1, 39, va); }
  // A snapshot of every table page in use, to prove a refused call wrote nothing.
  std::vector<uint8_t> snapshot() const {
    std::vector<uint8_t> bytes(host.pool.capacity() * kPageSize);
    std::memcpy(bytes.data(), host.pages.get(), bytes.size());
    return bytes;
  }
};

using TranslationTableTest = Fixture;

TEST_F(TranslationTableTest, UsesBlocksWhereAlignedAndPagesElsewhere) {
  // 0x3fe0'0000 .. 0x8020'0000: a 2 MiB block, a 1 GiB block, a 2 MiB block, with pages around.
  ASSERT_TRUE(table.map(VirtAddr(0x3fdf'f000), PhysAddr(0x3fdf'f000), Size(GiB + 4 * MiB + 8 * KiB), rw()));
  EXPECT_EQ(walk_va(0x3fdf'f000).level, 3u);
  EXPECT_EQ(walk_va(0x3fe0'0000).level, 2u);
  EXPECT_EQ(walk_va(0x4000'0000).level, 1u);
  EXPECT_EQ(walk_va(0x7fff'ffff).level, 1u);
  EXPECT_EQ(walk_va(0x8000'0000).level, 2u);
  EXPECT_EQ(walk_va(0x8020'0000).level, 3u);
  EXPECT_EQ(walk_va(0x8020'1000).fault, FaultKind::kTranslation);
  EXPECT_EQ(walk_va(0x3fdf'e000).fault, FaultKind::kTranslation);
  const TableStatistics& s = table.raw().statistics();
  EXPECT_EQ(s.leaves[1], 1u);
  EXPECT_EQ(s.leaves[2], 2u);
  EXPECT_EQ(s.leaves[3], 2u);
  EXPECT_EQ(s.table_pages, host.pool.used());
}

TEST_F(TranslationTableTest, OutputMisalignedWithInputForcesPages) {
  ASSERT_TRUE(table.map(VirtAddr(0x4000'0000), PhysAddr(0x4000'1000), Size(4 * MiB), rw()));
  const WalkResult r = walk_va(0x4012'3456);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.level, 3u);
  EXPECT_EQ(r.output, 0x4012'4456u);
  EXPECT_EQ(table.raw().statistics().leaves[3], 1024u);
}

TEST_F(TranslationTableTest, AllowBlocksFalseMapsPagesOnly) {
  ASSERT_TRUE(table.map(VirtAddr(0x4000'0000), PhysAddr(0x4000'0000), Size(2 * MiB), rw(), MapOptions{false}));
  EXPECT_EQ(walk_va(0x4000'0000).level, 3u);
}

TEST_F(TranslationTableTest, RefusalsChangeNothing) {
  ASSERT_TRUE(table.map(VirtAddr(0x4000'0000), PhysAddr(0x4000'0000), Size(2 * MiB), rw()));
  const std::vector<uint8_t> before = snapshot();
  const size_t used = host.pool.used();
  // Overlapping the live block at its last page, from a range that starts in free space.
  EXPECT_EQ(table.map(VirtAddr(0x3fff'0000), PhysAddr(0), Size(0x20000), rw()).error(), Error::kAlreadyMapped);
  EXPECT_EQ(table.map(VirtAddr(0x4000'1000), PhysAddr(0), Size(0x1000), rw()).error(), Error::kAlreadyMapped);
  EXPECT_EQ(table.map(VirtAddr(0x1000), PhysAddr(0), Size(0), rw()).error(), Error::kZeroSize);
  EXPECT_EQ(table.map(VirtAddr(0x1800), PhysAddr(0), Size(0x1000), rw()).error(), Error::kMisaligned);
  EXPECT_EQ(table.map(VirtAddr(0x1000), PhysAddr(0x800), Size(0x1000), rw()).error(), Error::kMisaligned);
  EXPECT_EQ(table.map(VirtAddr((1ull << 39) - 0x1000), PhysAddr(0), Size(0x2000), rw()).error(),
            Error::kAddressOverflow);
  EXPECT_EQ(table.map(VirtAddr(0x1000), PhysAddr((1ull << 48) - 0x1000), Size(0x2000), rw()).error(),
            Error::kAddressOverflow);
  MappingAttributes none;
  EXPECT_EQ(table.map(VirtAddr(0x1000), PhysAddr(0), Size(0x1000), none).error(), Error::kInvalidArgument);
  EXPECT_EQ(table.unmap(VirtAddr(0x3fff'f000), Size(0x2000)).error(), Error::kNotMapped);
  EXPECT_EQ(table.unmap(VirtAddr(0x8000'0000), Size(0x1000)).error(), Error::kNotMapped);
  EXPECT_EQ(host.pool.used(), used);
  EXPECT_EQ(snapshot(), before);
}

TEST(TranslationTablePool, ExhaustionIsRefusedUpFront) {
  testing::HostPool host{3};  // root + one level-2 table + one level-3 table
  Stage1Table table = Stage1Table::create(host.pool, 39).value();
  ASSERT_TRUE(table.map(VirtAddr(0x1000), PhysAddr(0x1000), Size(0x1000), rw()));
  EXPECT_EQ(host.pool.used(), 3u);
  // Needs a new level-2 table and a level-3 table: refused before anything is written.
  EXPECT_EQ(table.map(VirtAddr(GiB + 0x1000), PhysAddr(0x1000), Size(0x1000), rw()).error(), Error::kOutOfMemory);
  EXPECT_EQ(walk(host.memory(), table.raw().root(), Stage::kStage1, 39, GiB + 0x1000).fault, FaultKind::kTranslation);
  // Still room within the existing level-3 table.
  EXPECT_TRUE(table.map(VirtAddr(0x2000), PhysAddr(0x2000), Size(0x1000), rw()));
  EXPECT_FALSE(Stage1Table::create(host.pool, 39));
}

TEST_F(TranslationTableTest, UnmapReclaimsTablesAndInvalidatesExactlyTheRange) {
  RecordingTlb tlb;
  table.raw().set_tlb_maintenance(&tlb);
  const size_t empty = host.pool.used();
  ASSERT_TRUE(table.map(VirtAddr(0x4000'0000), PhysAddr(0x9000'0000), Size(16 * KiB), rw(true)));
  EXPECT_TRUE(tlb.calls.empty());  // invalid -> valid needs no invalidation
  ASSERT_TRUE(table.unmap(VirtAddr(0x4000'1000), Size(8 * KiB)));
  ASSERT_EQ(tlb.calls.size(), 1u);
  EXPECT_EQ(tlb.calls[0].input, 0x4000'1000u);
  EXPECT_EQ(tlb.calls[0].size, 8 * KiB);
  EXPECT_EQ(tlb.calls[0].stride, 4 * KiB);
  EXPECT_TRUE(tlb.calls[0].leaf_only);
  EXPECT_TRUE(walk_va(0x4000'0000).ok());
  EXPECT_FALSE(walk_va(0x4000'1000).ok());
  EXPECT_TRUE(walk_va(0x4000'3000).ok());
  ASSERT_TRUE(table.unmap(VirtAddr(0x4000'0000), Size(4 * KiB)));
  ASSERT_TRUE(table.unmap(VirtAddr(0x4000'3000), Size(4 * KiB)));
  EXPECT_FALSE(tlb.calls.back().leaf_only);  // the level-3 and level-2 tables went too
  EXPECT_EQ(host.pool.used(), empty);
  const TableStatistics& s = table.raw().statistics();
  EXPECT_EQ(s.leaves[3], 0u);
  EXPECT_EQ(s.table_pages, 1u);
}

TEST_F(TranslationTableTest, PartialUnmapSplitsBlocksWithBreakBeforeMake) {
  RecordingTlb tlb;
  table.raw().set_tlb_maintenance(&tlb);
  ASSERT_TRUE(table.map(VirtAddr(GiB), PhysAddr(2 * GiB), Size(GiB), rw()));
  ASSERT_EQ(walk_va(GiB).level, 1u);
  // Remove one page in the middle: the 1 GiB block becomes 2 MiB blocks, one of them pages.
  ASSERT_TRUE(table.unmap(VirtAddr(GiB + 3 * MiB), Size(4 * KiB)));
  EXPECT_EQ(walk_va(GiB).level, 2u);
  EXPECT_EQ(walk_va(GiB + 3 * MiB).fault, FaultKind::kTranslation);
  const WalkResult after = walk_va(GiB + 3 * MiB + 4 * KiB);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after.level, 3u);
  EXPECT_EQ(after.output, 2 * GiB + 3 * MiB + 4 * KiB);
  EXPECT_EQ(walk_va(GiB + 3 * MiB - 1).output, 2 * GiB + 3 * MiB - 1);
  // Two break-before-make invalidations (1 GiB block, then 2 MiB block) and the range itself.
  ASSERT_EQ(tlb.calls.size(), 3u);
  EXPECT_EQ(tlb.calls[0].size, GiB);
  EXPECT_EQ(tlb.calls[1].size, 2 * MiB);
  EXPECT_EQ(tlb.calls[2].input, GiB + 3 * MiB);
  const TableStatistics& s = table.raw().statistics();
  EXPECT_EQ(s.leaves[1], 0u);
  EXPECT_EQ(s.leaves[2], 511u);
  EXPECT_EQ(s.leaves[3], 511u);
  // Remapping the hole restores a full translation.
  ASSERT_TRUE(table.map(VirtAddr(GiB + 3 * MiB), PhysAddr(2 * GiB + 3 * MiB), Size(4 * KiB), rw()));
  EXPECT_EQ(walk_va(GiB + 3 * MiB).output, 2 * GiB + 3 * MiB);
}

TEST_F(TranslationTableTest, MapPagesUsesBlocksForContiguousAlignedRuns) {
  std::vector<PhysAddr> pages;
  for (uint64_t i = 0; i < 512; ++i) pages.push_back(PhysAddr(0x8000'0000 + i * 4096));   // contiguous, aligned
  for (uint64_t i = 0; i < 3; ++i) pages.push_back(PhysAddr(0x1234'5000 + i * 0x10000));  // scattered
  ASSERT_TRUE(table.map_pages(VirtAddr(0x4000'0000), pages.data(), PageCount(pages.size()), rw()));
  EXPECT_EQ(walk_va(0x4000'0000).level, 2u);
  EXPECT_EQ(walk_va(0x401F'F000).output, 0x801F'F000u);
  EXPECT_EQ(walk_va(0x4020'1000).output, 0x1235'5000u);
  pages[513] = PhysAddr(0x1234'5800);
  EXPECT_EQ(table.map_pages(VirtAddr(0x5000'0000), pages.data(), PageCount(pages.size()), rw()).error(),
            Error::kMisaligned);
  EXPECT_EQ(walk_va(0x5000'0000).fault, FaultKind::kTranslation);
}

TEST(Stage2Table, SameCodePathIpaToPa) {
  testing::HostPool host{64};
  Stage2Table table = Stage2Table::create(host.pool, 40).value();
  MappingAttributes ro;
  ro.privileged = {true, false, true};
  ASSERT_TRUE(table.map(IntermediatePhysAddr(0x4000'0000), PhysAddr(0x8000'0000), Size(2 * MiB), ro));
  const WalkResult r = walk(host.memory(), table.raw().root(), Stage::kStage2, 40, 0x4000'1234);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.output, 0x8000'1234u);
  EXPECT_EQ(r.level, 2u);
  EXPECT_TRUE(r.attributes.privileged.read);
  EXPECT_FALSE(r.attributes.privileged.write);
  EXPECT_TRUE(r.attributes.privileged.execute);
  EXPECT_EQ(r.descriptor & kS2APWrite, 0u);
  // 40-bit IPA starts at level 1 with 2 root tables' worth of input: the top address faults cleanly.
  const WalkResult outside = walk(host.memory(), table.raw().root(), Stage::kStage2, 40, 1ull << 40);
  EXPECT_EQ(outside.fault, FaultKind::kTranslation);
  EXPECT_EQ(outside.level, 0u);
}

TEST(TranslationTableCreate, RejectsBadInputSizes) {
  testing::HostPool host{4};
  EXPECT_EQ(TranslationTable::create(host.pool, Stage::kStage1, 24).error(), Error::kInvalidArgument);
  EXPECT_EQ(TranslationTable::create(host.pool, Stage::kStage1, 49).error(), Error::kInvalidArgument);
  Result<TranslationTable> t = TranslationTable::create(host.pool, Stage::kStage1, 48);
  ASSERT_TRUE(t);
  EXPECT_EQ(t.value().start_level(), 0u);
  t.value().destroy();
  EXPECT_EQ(host.pool.used(), 0u);
}

}  // namespace
}  // namespace teemm::arm64
