// The mapper's one-pass paths, judged by the independent walker: runs of whole blocks cleared in
// one pass (a whole table's worth unlinks its table, reclaimed only after the invalidation), and
// small ranges mapped and unmapped directly in their level-3 table. Refusals change nothing.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "arch/arm64/translation_table.hpp"
#include "arch/arm64/walker.hpp"
#include "support/host_pool.hpp"

namespace teemm::arm64 {
namespace {

constexpr uint64_t KiB = 1024, MiB = 1024 * KiB, GiB = 1024 * MiB;
constexpr uint64_t kTarget = 8 * GiB;        // a 1 GiB-aligned VA: one level-1 entry, one level-2 table
constexpr uint64_t kOutput = 0x1'0020'0000;  // 2 MiB aligned, not 1 GiB: level-2 blocks

MappingAttributes rw() {
  MappingAttributes a;
  a.privileged = {true, true, false};
  return a;
}

// At every invalidation: the call, and whether the watched table page is pending (unlinked, not
// reusable) with every entry invalid, as a stale walk through it must find.
struct WatchingTlb final : TlbMaintenance {
  struct Call {
    uint64_t input, size, stride;
    bool leaf_only, watched_pending, watched_all_invalid;
  };
  void invalidate(Stage, uint64_t input, uint64_t size, uint64_t stride, bool leaf_only) override {
    bool all_invalid = true;
    if (pool != nullptr)
      for (unsigned i = 0; i < kEntriesPerTable; ++i) all_invalid &= !descriptor_is_valid(pool->entries(watched)[i]);
    calls.push_back({input, size, stride, leaf_only, pool != nullptr && pool->is_pending(watched), all_invalid});
  }
  TablePool* pool = nullptr;
  PhysAddr watched;
  std::vector<Call> calls;
};

struct FastPaths : ::testing::Test {
  testing::HostPool host{64};
  Stage1Table table = Stage1Table::create(host.pool, 39).value();
  WatchingTlb tlb;
  void SetUp() override { table.raw().set_tlb_maintenance(&tlb); }

  WalkResult walk_va(uint64_t va) const { return walk(host.memory(), table.raw().root(), Stage::kStage1, 39, va); }
  // The table page a walk for `va` reaches at `level` (through table descriptors only).
  PhysAddr table_at(uint64_t va, unsigned level) const {
    PhysAddr at = table.raw().root();
    for (unsigned l = table.raw().start_level(); l < level; ++l)
      at = descriptor_next_table(host.pool.entries(at)[level_index(va, l)]);
    return at;
  }
  // Every `step` of [va, va + size) faults at translation (the walker as oracle).
  void expect_unmapped(uint64_t va, uint64_t size, uint64_t step) const {
    for (uint64_t a = va; a < va + size; a += step)
      ASSERT_EQ(walk_va(a).fault, FaultKind::kTranslation) << std::hex << a;
  }
  std::vector<uint8_t> snapshot() const {
    std::vector<uint8_t> bytes(host.pool.capacity() * kPageSize);
    std::memcpy(bytes.data(), host.pages.get(), bytes.size());
    return bytes;
  }
};

TEST_F(FastPaths, AWholeTableOfBlocksGoesWithItsTableAfterTheInvalidation) {
  ASSERT_TRUE(table.map(VirtAddr(kTarget - 4 * KiB), PhysAddr(0x9000'0000), Size(4 * KiB), rw()));  // neighbours
  ASSERT_TRUE(table.map(VirtAddr(kTarget + GiB), PhysAddr(0x9000'1000), Size(4 * KiB), rw()));
  const size_t used = host.pool.used();
  ASSERT_TRUE(table.map(VirtAddr(kTarget), PhysAddr(kOutput), Size(GiB), rw()));
  ASSERT_EQ(table.raw().statistics().leaves[2], 512u);
  tlb.pool = &host.pool;
  tlb.watched = table_at(kTarget, 2);

  ASSERT_TRUE(table.unmap(VirtAddr(kTarget), Size(GiB)));
  ASSERT_EQ(tlb.calls.size(), 1u);
  const WatchingTlb::Call& call = tlb.calls[0];
  EXPECT_EQ(call.input, kTarget);
  EXPECT_EQ(call.size, GiB);
  EXPECT_EQ(call.stride, 2 * MiB);
  EXPECT_FALSE(call.leaf_only);  // a table descriptor went: walk caches must go too
  EXPECT_TRUE(call.watched_pending) << "the level-2 table was reusable before its invalidation";
  EXPECT_TRUE(call.watched_all_invalid);
  EXPECT_EQ(host.pool.pending(), 0u);
  EXPECT_EQ(host.pool.used(), used);  // reclaimed
  expect_unmapped(kTarget, GiB, 2 * MiB);
  EXPECT_EQ(walk_va(kTarget - 4 * KiB).output, 0x9000'0000u);
  EXPECT_EQ(walk_va(kTarget + GiB).output, 0x9000'1000u);
  EXPECT_EQ(table.raw().statistics().leaves[2], 0u);
  EXPECT_EQ(table.raw().statistics().table_descriptors[1], 2u);  // the neighbours' tables only
}

TEST_F(FastPaths, RunsOfWholeBlocksInTwoTablesKeepTheRestOfEach) {
  const uint64_t va = kTarget + 2 * MiB;  // 511 blocks in one level-2 table, 1 in the next
  ASSERT_TRUE(table.map(VirtAddr(kTarget), PhysAddr(0x8000'0000), Size(2 * MiB), rw()));  // stays
  const size_t used = host.pool.used();
  ASSERT_TRUE(table.map(VirtAddr(va), PhysAddr(kOutput), Size(GiB), rw()));
  ASSERT_EQ(table.raw().statistics().leaves[2], 513u);
  ASSERT_TRUE(table.unmap(VirtAddr(va), Size(GiB)));
  ASSERT_EQ(tlb.calls.size(), 1u);
  EXPECT_EQ(tlb.calls[0].stride, 2 * MiB);
  EXPECT_FALSE(tlb.calls[0].leaf_only);  // the second table emptied and went
  EXPECT_EQ(host.pool.used(), used);
  expect_unmapped(va, GiB, 2 * MiB);
  const WalkResult kept = walk_va(kTarget + 0x1234);
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(kept.level, 2u);
  EXPECT_EQ(kept.output, 0x8000'1234u);
  EXPECT_EQ(table.raw().statistics().leaves[2], 1u);
}

TEST_F(FastPaths, Level1BlocksAreClearedInOnePass) {
  ASSERT_TRUE(table.map(VirtAddr(2 * GiB), PhysAddr(2 * GiB), Size(2 * GiB), rw()));
  ASSERT_EQ(table.raw().statistics().leaves[1], 2u);
  const size_t used = host.pool.used();
  ASSERT_TRUE(table.unmap(VirtAddr(2 * GiB), Size(2 * GiB)));
  ASSERT_EQ(tlb.calls.size(), 1u);
  EXPECT_EQ(tlb.calls[0].stride, GiB);
  EXPECT_TRUE(tlb.calls[0].leaf_only);  // the root stays
  EXPECT_EQ(host.pool.used(), used);
  expect_unmapped(2 * GiB, 2 * GiB, 2 * MiB);
  EXPECT_EQ(table.raw().statistics().leaves[1], 0u);
}

TEST_F(FastPaths, BlocksBesideTablesOrHolesTakeTheGeneralPath) {
  const size_t empty = host.pool.used();
  // Two blocks, then 2 MiB of pages (a level-3 table under the same level-2 table), then a block.
  ASSERT_TRUE(table.map(VirtAddr(kTarget), PhysAddr(kOutput), Size(4 * MiB), rw()));
  ASSERT_TRUE(table.map(VirtAddr(kTarget + 4 * MiB), PhysAddr(kOutput + 4 * MiB), Size(2 * MiB), rw(), {false}));
  ASSERT_TRUE(table.map(VirtAddr(kTarget + 8 * MiB), PhysAddr(kOutput + 8 * MiB), Size(2 * MiB), rw()));
  // A hole (6..8 MiB) inside the range: a strict unmap refuses and writes nothing.
  const std::vector<uint8_t> before = snapshot();
  EXPECT_EQ(table.unmap(VirtAddr(kTarget), Size(10 * MiB)).error(), Error::kNotMapped);
  EXPECT_EQ(snapshot(), before);
  EXPECT_TRUE(tlb.calls.empty());
  // Blocks, a table and the hole: unmap_present clears everything there and reclaims both tables.
  ASSERT_TRUE(table.unmap_present(VirtAddr(kTarget), Size(10 * MiB)));
  expect_unmapped(kTarget, 10 * MiB, 4 * KiB);
  EXPECT_EQ(host.pool.used(), empty);
  EXPECT_EQ(table.raw().statistics().leaves[2], 0u);
  EXPECT_EQ(table.raw().statistics().leaves[3], 0u);
  ASSERT_EQ(tlb.calls.size(), 1u);
  EXPECT_EQ(tlb.calls[0].stride, 4 * KiB);  // the finest leaf removed
  EXPECT_FALSE(tlb.calls[0].leaf_only);
}

TEST_F(FastPaths, MapsIntoAnExistingLevel3TableOnlyOverInvalidEntries) {
  const uint64_t base = 0x4000'0000;
  ASSERT_TRUE(table.map(VirtAddr(base + 8 * 4 * KiB), PhysAddr(0x9000'0000), Size(4 * KiB), rw()));
  const uint16_t live = host.pool.live_entries(table_at(base, 3));
  // Four scattered pages whose range meets the mapped one: refused, nothing written.
  const PhysAddr pages[] = {PhysAddr(0x9100'0000), PhysAddr(0x9300'0000), PhysAddr(0x9200'0000), PhysAddr(0x9400'0000)};
  const std::vector<uint8_t> before = snapshot();
  EXPECT_EQ(table.map_pages(VirtAddr(base + 6 * 4 * KiB), pages, PageCount(4), rw()).error(), Error::kAlreadyMapped);
  EXPECT_EQ(snapshot(), before);
  // Beside it: mapped in place, each page where the list says.
  const size_t used = host.pool.used();
  ASSERT_TRUE(table.map_pages(VirtAddr(base + 9 * 4 * KiB), pages, PageCount(4), rw()));
  EXPECT_EQ(host.pool.used(), used);  // no new table
  EXPECT_EQ(host.pool.live_entries(table_at(base, 3)), live + 4);
  for (uint64_t i = 0; i < 4; ++i) {
    const WalkResult r = walk_va(base + (9 + i) * 4 * KiB + 0x10);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.level, 3u);
    EXPECT_EQ(r.output, pages[i].value + 0x10);
  }
  EXPECT_EQ(table.raw().statistics().leaves[3], 5u);
}

TEST_F(FastPaths, UnmapsInsideALevel3TableThatStaysLive) {
  const uint64_t base = 0x4000'0000;
  ASSERT_TRUE(table.map(VirtAddr(base), PhysAddr(0x9000'0000), Size(8 * 4 * KiB), rw()));
  const PhysAddr level3 = table_at(base, 3);
  ASSERT_TRUE(table.unmap(VirtAddr(base + 2 * 4 * KiB), Size(3 * 4 * KiB)));
  ASSERT_EQ(tlb.calls.size(), 1u);
  EXPECT_EQ(tlb.calls[0].input, base + 2 * 4 * KiB);
  EXPECT_EQ(tlb.calls[0].size, 3 * 4 * KiB);
  EXPECT_EQ(tlb.calls[0].stride, 4 * KiB);
  EXPECT_TRUE(tlb.calls[0].leaf_only);
  EXPECT_EQ(host.pool.live_entries(level3), 5u);
  expect_unmapped(base + 2 * 4 * KiB, 3 * 4 * KiB, 4 * KiB);
  EXPECT_EQ(walk_va(base + 5 * 4 * KiB).output, 0x9000'5000u);
  // A strict unmap over the hole is refused and changes nothing; unmap_present clears the rest.
  const std::vector<uint8_t> before = snapshot();
  EXPECT_EQ(table.unmap(VirtAddr(base + 4 * KiB), Size(3 * 4 * KiB)).error(), Error::kNotMapped);
  EXPECT_EQ(snapshot(), before);
  ASSERT_TRUE(table.unmap_present(VirtAddr(base + 4 * KiB), Size(4 * 4 * KiB)));  // page 1, holes 2-4
  EXPECT_EQ(host.pool.live_entries(level3), 4u);
  EXPECT_EQ(table.raw().statistics().leaves[3], 4u);
  expect_unmapped(base + 4 * KiB, 4 * 4 * KiB, 4 * KiB);
  for (uint64_t page : {0, 5, 6, 7}) EXPECT_TRUE(walk_va(base + page * 4 * KiB).ok()) << page;
  // Holes only, inside a live table: nothing to invalidate.
  const size_t calls = tlb.calls.size();
  ASSERT_TRUE(table.unmap_present(VirtAddr(base + 2 * 4 * KiB), Size(2 * 4 * KiB)));
  EXPECT_EQ(tlb.calls.size(), calls);
}

// A batch unmaps each range at once (the walker sees it gone, a refusal changes nothing), but
// invalidates once, over the span of them all, at finish; a table page a range emptied stays
// pending until that invalidation. Ranges in and out of one level-3 table, with the general path
// (which empties a table) between them, land where they should.
TEST_F(FastPaths, ABatchInvalidatesOnceAtTheEnd) {
  const uint64_t a = 0x4000'0000;            // a level-3 table that stays live
  const uint64_t b = 0x4000'0000 + 2 * MiB;  // one page: its table empties
  ASSERT_TRUE(table.map(VirtAddr(a), PhysAddr(0x9000'0000), Size(16 * 4 * KiB), rw()));
  ASSERT_TRUE(table.map(VirtAddr(b + 5 * 4 * KiB), PhysAddr(0x9100'0000), Size(4 * KiB), rw()));
  const size_t used_before_b = host.pool.used() - 1;
  tlb.pool = &host.pool;
  tlb.watched = table_at(b, 3);
  {
    TranslationTable::UnmapBatch batch(table.raw());
    ASSERT_TRUE(batch.unmap(a + 2 * 4 * KiB, 4 * KiB));
    ASSERT_TRUE(batch.unmap(a + 4 * 4 * KiB, 2 * 4 * KiB));  // the same table, found again
    ASSERT_TRUE(batch.unmap(b + 5 * 4 * KiB, 4 * KiB));      // the general path: b's table goes
    const std::vector<uint8_t> before = snapshot();
    EXPECT_EQ(batch.unmap(a + 2 * 4 * KiB, 4 * KiB).error(), Error::kNotMapped);  // already gone
    EXPECT_EQ(snapshot(), before);
    ASSERT_TRUE(batch.unmap_present(a + 7 * 4 * KiB, 3 * 4 * KiB));  // back in a's table
    expect_unmapped(a + 2 * 4 * KiB, 4 * KiB, 4 * KiB);
    expect_unmapped(a + 4 * 4 * KiB, 2 * 4 * KiB, 4 * KiB);
    expect_unmapped(a + 7 * 4 * KiB, 3 * 4 * KiB, 4 * KiB);
    expect_unmapped(b, 2 * MiB, 4 * KiB);
    for (uint64_t page : {0, 1, 3, 6, 10, 15}) EXPECT_TRUE(walk_va(a + page * 4 * KiB).ok()) << page;
    EXPECT_TRUE(tlb.calls.empty());
    EXPECT_EQ(host.pool.pending(), 1u);  // b's table, unlinked, not reusable yet
  }                                      // finish
  ASSERT_EQ(tlb.calls.size(), 1u);
  EXPECT_EQ(tlb.calls[0].input, a + 2 * 4 * KiB);
  EXPECT_EQ(tlb.calls[0].size, b + 6 * 4 * KiB - (a + 2 * 4 * KiB));
  EXPECT_EQ(tlb.calls[0].stride, 4 * KiB);
  EXPECT_FALSE(tlb.calls[0].leaf_only);  // a table went: walk caches too
  EXPECT_TRUE(tlb.calls[0].watched_pending);
  EXPECT_EQ(host.pool.pending(), 0u);
  EXPECT_EQ(host.pool.used(), used_before_b);
  EXPECT_EQ(table.raw().statistics().leaves[3], 10u);
}

TEST_F(FastPaths, PageListsAreCheckedWhateverTheirLength) {
  std::vector<PhysAddr> pages(64);
  for (uint64_t i = 0; i < pages.size(); ++i) pages[i] = PhysAddr(0x9000'0000 + 2 * i * 4 * KiB);
  const std::vector<uint8_t> before = snapshot();
  pages[37] = PhysAddr(pages[37].value + 8);
  EXPECT_EQ(table.map_pages(VirtAddr(0x4000'0000), pages.data(), PageCount(64), rw()).error(), Error::kMisaligned);
  pages[37] = PhysAddr(uint64_t{1} << 48);
  EXPECT_EQ(table.map_pages(VirtAddr(0x4000'0000), pages.data(), PageCount(64), rw()).error(), Error::kAddressOverflow);
  pages[3] = PhysAddr(0x123);  // the first page at fault names the error
  EXPECT_EQ(table.map_pages(VirtAddr(0x4000'0000), pages.data(), PageCount(64), rw()).error(), Error::kMisaligned);
  EXPECT_EQ(snapshot(), before);
}

}  // namespace
}  // namespace teemm::arm64
