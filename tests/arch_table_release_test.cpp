// Issue 8, defects 4 and 6: table pages go back to the pool only after the TLB invalidation that
// covers them, and stay invalid-looking until then; tables know their output-address size and the
// walker raises the CPU's address-size fault; unmap_present removes what is there.
#include <gtest/gtest.h>

#include <vector>

#include "arch/arm64/translation_table.hpp"
#include "arch/arm64/walker.hpp"
#include "support/host_pool.hpp"

namespace teemm::arm64 {
namespace {

constexpr uint64_t MiB = 1024 * 1024;

MappingAttributes rw() {
  MappingAttributes a;
  a.privileged = {true, true, false};
  return a;
}

// At every invalidation, records what the pool looks like: which watched pages are pending
// (unlinked but not reusable), what their entry 0 holds, and how many pages could be allocated.
struct OrderRecordingTlb final : TlbMaintenance {
  struct Seen {
    uint64_t input, size;
    size_t available;
    bool watched_pending;
    uint64_t watched_entry0;
  };
  void invalidate(Stage, uint64_t input, uint64_t size, uint64_t, bool) override {
    const uint64_t* entries = pool->entries(watched);
    seen.push_back({input, size, pool->available(), pool->is_pending(watched), entries[0]});
  }
  TablePool* pool = nullptr;
  PhysAddr watched;
  std::vector<Seen> seen;
};

// The PA of the level-3 table that holds `va` (the table a lone page mapping created).
PhysAddr level3_table_of(const TablePool& pool, const TranslationTable& table, uint64_t va) {
  uint64_t address = table.root().value;
  for (unsigned level = table.start_level(); level < 3; ++level) {
    const uint64_t d = pool.entries(PhysAddr(address))[level_index(va, level)];
    address = d & kOutputAddressMask;
  }
  return PhysAddr(address);
}

TEST(TableRelease, FreedTablesWaitForTheInvalidationThatCoversThem) {
  testing::HostPool host(64);
  Stage1Table table = Stage1Table::create(host.pool, 39).value();
  OrderRecordingTlb tlb;
  tlb.pool = &host.pool;
  table.raw().set_tlb_maintenance(&tlb);
  // A lone page at the end of one 2 MiB region (its own level-3 table), then a 2 MiB block right after.
  const uint64_t page_va = 0x4000'0000 + 2 * MiB - 0x1000;
  ASSERT_TRUE(table.map(VirtAddr(page_va), PhysAddr(0x9000'0000), Size(0x1000), rw()));
  ASSERT_TRUE(table.map(VirtAddr(0x4000'0000 + 2 * MiB), PhysAddr(0xa000'0000), Size(2 * MiB), rw()));
  tlb.watched = level3_table_of(host.pool, table.raw(), page_va);
  const size_t available_before = host.pool.available();

  // One unmap frees the page's table and splits the block, which needs a new table: the freed one
  // must not be it, since a walk cached through the old descriptor could still reach it.
  ASSERT_TRUE(table.unmap(VirtAddr(page_va), Size(0x2000)));
  ASSERT_FALSE(tlb.seen.empty());
  const OrderRecordingTlb::Seen& last = tlb.seen.back();
  EXPECT_EQ(last.input, page_va);
  EXPECT_EQ(last.size, 0x2000u);
  EXPECT_TRUE(last.watched_pending) << "the freed table was reusable before its invalidation";
  EXPECT_EQ(last.watched_entry0 & kDescriptorValid, 0u) << "a freed table's entry looked valid to a stale walk";
  EXPECT_EQ(last.available, available_before - 1) << "only the split's new table was taken";
  EXPECT_NE(level3_table_of(host.pool, table.raw(), 0x4000'0000 + 2 * MiB), tlb.watched);
  // After the call: reclaimed, and the pool counts it free again.
  EXPECT_FALSE(host.pool.is_pending(tlb.watched));
  EXPECT_EQ(host.pool.pending(), 0u);
  EXPECT_EQ(host.pool.available(), available_before);  // one freed, one taken by the split
}

TEST(TableRelease, FreeListLinksAreInvalidDescriptors) {
  testing::HostPool host(8);
  std::vector<PhysAddr> pages;
  for (int i = 0; i < 8; ++i) pages.push_back(host.pool.allocate().value());
  for (PhysAddr p : pages) host.pool.release(p);
  for (PhysAddr p : pages)
    for (unsigned i = 0; i < kEntriesPerTable; ++i) EXPECT_EQ(host.pool.entries(p)[i] & kDescriptorValid, 0u);
  for (int i = 0; i < 8; ++i) EXPECT_TRUE(host.pool.allocate());  // and the list still works
  EXPECT_FALSE(host.pool.allocate());
}

TEST(TableRelease, UnmapPresentSkipsHolesAndReclaims) {
  testing::HostPool host(64);
  Stage1Table table = Stage1Table::create(host.pool, 39).value();
  const size_t empty = host.pool.used();
  ASSERT_TRUE(table.map(VirtAddr(0x4000'0000), PhysAddr(0x9000'0000), Size(16 * 0x1000), rw()));
  ASSERT_TRUE(table.unmap(VirtAddr(0x4000'4000), Size(0x1000)));                                // a hole
  EXPECT_EQ(table.unmap(VirtAddr(0x4000'0000), Size(16 * 0x1000)).error(), Error::kNotMapped);  // strict
  ASSERT_TRUE(table.unmap_present(VirtAddr(0x4000'0000), Size(16 * 0x1000)));
  EXPECT_EQ(host.pool.used(), empty);
  EXPECT_EQ(table.raw().statistics().leaves[3], 0u);
  ASSERT_TRUE(table.unmap_present(VirtAddr(0x4000'0000), Size(16 * 0x1000)));  // nothing there: fine
}

TEST(OutputAddressSize, TablesRefuseOutputAboveTheirPs) {
  testing::HostPool host(16);
  Stage1Table table = Stage1Table::create(host.pool, 39, TranslationRegime::kEl1And0, 40).value();
  EXPECT_EQ(table.raw().output_bits(), 40u);
  EXPECT_EQ(table.map(VirtAddr(0x1000'0000), PhysAddr(uint64_t{1} << 40), Size(0x1000), rw()).error(),
            Error::kAddressOverflow);
  EXPECT_EQ(table.map(VirtAddr(0x1000'0000), PhysAddr((uint64_t{1} << 40) - 0x1000), Size(0x2000), rw()).error(),
            Error::kAddressOverflow);
  const PhysAddr pages[] = {PhysAddr(0x4000'0000), PhysAddr(uint64_t{1} << 44)};
  EXPECT_EQ(table.map_pages(VirtAddr(0x1000'0000), pages, PageCount(2), rw()).error(), Error::kAddressOverflow);
  EXPECT_EQ(host.pool.used(), 1u);  // nothing was built
  EXPECT_TRUE(table.map(VirtAddr(0x1000'0000), PhysAddr((uint64_t{1} << 40) - 0x1000), Size(0x1000), rw()));
  // A pool the walker could not reach at this output size is refused.
  testing::HostPool high(4, uint64_t{1} << 40);
  EXPECT_EQ(Stage1Table::create(high.pool, 39, TranslationRegime::kEl1And0, 40).error(), Error::kAddressOverflow);
  EXPECT_EQ(Stage1Table::create(host.pool, 39, TranslationRegime::kEl1And0, 31).error(), Error::kInvalidArgument);
}

TEST(OutputAddressSize, WalkerRaisesAddressSizeFaultsAsTheCpu) {
  testing::HostPool host(16);
  Stage1Table table = Stage1Table::create(host.pool, 39).value();  // built for 48 bits
  ASSERT_TRUE(table.map(VirtAddr(0x1000'0000), PhysAddr(uint64_t{1} << 42), Size(2 * MiB), rw()));
  ASSERT_TRUE(table.map(VirtAddr(0x2000'0000), PhysAddr(0x4000'0000), Size(0x1000), rw()));
  const auto at = [&](uint64_t va, unsigned ps) {
    return walk(host.memory(), table.raw().root(), Stage::kStage1, 39, va, ps);
  };
  EXPECT_TRUE(at(0x1000'0000, 48).ok());
  EXPECT_TRUE(at(0x1000'0000, 44).ok());
  EXPECT_EQ(at(0x1000'0000, 40).fault, FaultKind::kAddressSize);  // a block output above 2^40
  EXPECT_EQ(at(0x1000'0000, 40).level, 2u);
  EXPECT_TRUE(at(0x2000'0000, 40).ok());
  // A table descriptor pointing above the output size faults at the level that holds it.
  testing::HostPool high(16, uint64_t{1} << 41);
  Stage1Table far = Stage1Table::create(high.pool, 39).value();
  ASSERT_TRUE(far.map(VirtAddr(0x3000'0000), PhysAddr(0x4000'0000), Size(0x1000), rw()));
  const WalkResult r = walk(high.memory(), far.raw().root(), Stage::kStage1, 39, 0x3000'0000, 40);
  EXPECT_EQ(r.fault, FaultKind::kAddressSize);
  EXPECT_EQ(r.level, 0u);  // the root itself is above 2^40
  EXPECT_EQ(walk(high.memory(), far.raw().root(), Stage::kStage1, 39, 0x3000'0000, 42).fault, FaultKind::kNone);
}

}  // namespace
}  // namespace teemm::arm64
