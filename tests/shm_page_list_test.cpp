// Reading non-contiguous page lists out of normal-world memory: chains, offsets, the 511-entry
// boundary, loops, bounds, and lists the normal world may not point at.
#include <gtest/gtest.h>

#include <vector>

#include "support/normal_world.hpp"

namespace teemm::shm {
namespace {

using testing::NormalWorld;

struct ListFixture {
  explicit ListFixture(size_t capacity = 2048)
      : nw(),
        pages(capacity),
        lists(PageListScratch::list_pages_for(capacity)),
        scratch{pages.data(), pages.size(), lists.data(), lists.size()} {}
  NormalWorld nw;
  std::vector<PhysAddr> pages;
  std::vector<PhysAddr> lists;
  PageListScratch scratch;
};

TEST(PageList, ChainsAcrossListPagesAndStopsAtTheCount) {
  for (uint64_t count : {1u, 510u, 511u, 512u, 1022u, 1023u, 1500u}) {
    SCOPED_TRACE(count);
    ListFixture f;
    const std::vector<uint64_t> pages = NormalWorld::contiguous(0x4800'0000, count);
    const uint64_t buf = tool::write_page_list(f.nw.world.ram(), NormalWorld::kLists, pages, 0x234);
    // The last list page's next pointer is garbage: it must not be followed.
    const uint64_t last_list = NormalWorld::kLists + ((count - 1) / 511) * kPageSize;
    f.nw.world.ram().poke_u64(last_list + 511 * 8, platform::qemu_virt::kTeeRamBase);
    const uint64_t size = count * kPageSize - 0x234;
    const Result<PageListResult> r = read_page_list(f.nw.world.ram(), buf, size, f.scratch);
    ASSERT_TRUE(r) << error_name(r.error());
    EXPECT_EQ(r->pages, count);
    EXPECT_EQ(r->offset, 0x234u);
    for (uint64_t i = 0; i < count; ++i) ASSERT_EQ(f.pages[i], PhysAddr(pages[i]));
  }
}

TEST(PageList, RefusesWhatItMayNotRead) {
  ListFixture f(1024);
  auto& ram = f.nw.world.ram();
  const std::vector<uint64_t> pages = NormalWorld::contiguous(0x4800'0000, 1024);
  const uint64_t buf = tool::write_page_list(ram, NormalWorld::kLists, pages);
  EXPECT_EQ(read_page_list(ram, buf, 1025 * kPageSize, f.scratch).error(), Error::kLimitReached);
  EXPECT_EQ(read_page_list(ram, buf, 0, f.scratch).error(), Error::kZeroSize);
  EXPECT_EQ(read_page_list(ram, buf | 0xFFF, UINT64_MAX - 0x100, f.scratch).error(), Error::kAddressOverflow);
  // The first list page, or a later one, in secure memory.
  EXPECT_EQ(read_page_list(ram, platform::qemu_virt::kTeeRamBase, kPageSize, f.scratch).error(),
            Error::kForbiddenMemory);
  ram.poke_u64(NormalWorld::kLists + 511 * 8, platform::qemu_virt::kTaRamBase);
  EXPECT_EQ(read_page_list(ram, buf, 1024 * kPageSize, f.scratch).error(), Error::kForbiddenMemory);
  // A next pointer that is not a page, and one that loops back.
  ram.poke_u64(NormalWorld::kLists + 511 * 8, NormalWorld::kLists + kPageSize + 8);
  EXPECT_EQ(read_page_list(ram, buf, 1024 * kPageSize, f.scratch).error(), Error::kMisaligned);
  ram.poke_u64(NormalWorld::kLists + 511 * 8, NormalWorld::kLists);
  EXPECT_EQ(read_page_list(ram, buf, 1024 * kPageSize, f.scratch).error(), Error::kInvalidArgument);
  // A data page that is not page aligned.
  ram.poke_u64(NormalWorld::kLists + 511 * 8, NormalWorld::kLists + kPageSize);
  ram.poke_u64(NormalWorld::kLists + 8, 0x4800'0010);
  EXPECT_EQ(read_page_list(ram, buf, 1024 * kPageSize, f.scratch).error(), Error::kMisaligned);
}

}  // namespace
}  // namespace teemm::shm
