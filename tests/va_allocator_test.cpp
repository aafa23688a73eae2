// tests/va_allocator_test: unit tests of every VaAllocator operation and error, its bounds, and
// span-wise teardown against a plain model (the property test is va_allocator_property_test).
#include "mm/va_allocator.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <vector>

#include "support/va_allocator_fixture.hpp"

namespace teemm::mm {
namespace {

using namespace va_test;

// Expects `call` to fail with `error` and leave the allocator exactly as it was.
template <typename Call>
void expect_refused(VaAllocator& allocator, Error error, Call call) {
  const Snapshot before = snapshot(allocator);
  EXPECT_EQ(call(), error);
  EXPECT_TRUE(snapshot(allocator) == before);
  EXPECT_TRUE(allocator.audit());
}

TEST(VaAllocatorTest, InitRejectsBadWindows) {
  VaAllocatorStorage<4> storage;
  VaAllocator allocator;
  EXPECT_EQ(allocator.init(VirtAddr(kBase), Size(0), storage.nodes, 4).error(), Error::kZeroSize);
  EXPECT_EQ(allocator.init(VirtAddr(kBase + 1), pages(4), storage.nodes, 4).error(), Error::kMisaligned);
  EXPECT_EQ(allocator.init(VirtAddr(kBase), Size(kPage + 8), storage.nodes, 4).error(), Error::kMisaligned);
  EXPECT_EQ(allocator.init(VirtAddr(~kPageMask), pages(2), storage.nodes, 4).error(), Error::kAddressOverflow);
  EXPECT_EQ(allocator.init(VirtAddr(0), Size(VaEntry::kMaxBytes + kPage), storage.nodes, 4).error(),
            Error::kAddressOverflow);  // sizes are kept in 40 bits of pages
  EXPECT_EQ(allocator.init(VirtAddr(kBase), pages(4), storage.nodes, 0).error(), Error::kOutOfMemory);
  EXPECT_EQ(allocator.init(VirtAddr(kBase), pages(4), nullptr, 4).error(), Error::kOutOfMemory);
  EXPECT_TRUE(allocator.audit());
  EXPECT_EQ(allocator.allocate(pages(1), {}).error(), Error::kNoVirtualSpace);
}

// Sizes are kept in 40 bits of pages: the largest window that fits (2^52 bytes less a page, the
// largest VA) works end to end.
TEST(VaAllocatorTest, TheLargestWindowWorks) {
  VaAllocatorStorage<4> storage;
  VaAllocator allocator;
  ASSERT_TRUE(allocator.init(VirtAddr(0), Size(VaEntry::kMaxBytes), storage.nodes, 4));
  EXPECT_EQ(allocator.stats().largest_free.bytes, VaEntry::kMaxBytes);
  EXPECT_EQ(allocator.allocate(Size(VaEntry::kMaxBytes - kPage), {}).value(), VirtAddr(0));
  EXPECT_EQ(allocator.stats().largest_free.bytes, kPage);
  EXPECT_TRUE(allocator.free(VirtAddr(0)));
  EXPECT_EQ(allocator.stats().largest_free.bytes, VaEntry::kMaxBytes);
  EXPECT_TRUE(allocator.audit());
}

TEST(VaAllocatorTest, StartsWithOneFreeRangeOverTheWindow) {
  Fixture f(64, 8);
  const VaStats stats = f.allocator.stats();
  EXPECT_EQ(stats.window, pages(64));
  EXPECT_EQ(stats.in_use, Size(0));
  EXPECT_EQ(stats.used_ranges, 0u);
  EXPECT_EQ(stats.free_ranges, 1u);
  EXPECT_EQ(stats.nodes_in_use, 1u);
  EXPECT_EQ(stats.node_capacity, 8u);
  EXPECT_EQ(stats.largest_free, pages(64));
  EXPECT_EQ(f.allocator.base(), VirtAddr(kBase));
  EXPECT_TRUE(f.allocator.audit());
}

TEST(VaAllocatorTest, AllocatesLowestAddressFirst) {
  Fixture f(64);
  EXPECT_EQ(f.allocator.allocate(pages(2), request_for(1)).value(), at_page(0));
  EXPECT_EQ(f.allocator.allocate(pages(3), request_for(1)).value(), at_page(2));
  EXPECT_EQ(f.allocator.allocate(pages(1), request_for(1)).value(), at_page(5));
  EXPECT_EQ(f.allocator.stats().in_use, pages(6));
  EXPECT_EQ(f.allocator.stats().used_ranges, 3u);
  EXPECT_EQ(f.allocator.stats().largest_free, pages(58));
  EXPECT_TRUE(f.allocator.audit());
}

TEST(VaAllocatorTest, ReusesTheLowestHoleThatFits) {
  Fixture f(64);
  ASSERT_TRUE(f.allocator.allocate(pages(2), {}).ok());  // pages 0-1
  ASSERT_TRUE(f.allocator.allocate(pages(4), {}).ok());  // pages 2-5
  ASSERT_TRUE(f.allocator.allocate(pages(2), {}).ok());  // pages 6-7
  ASSERT_TRUE(f.allocator.free(at_page(2)).ok());
  EXPECT_EQ(f.allocator.allocate(pages(5), {}).value(), at_page(8));  // hole too small
  EXPECT_EQ(f.allocator.allocate(pages(3), {}).value(), at_page(2));
  EXPECT_EQ(f.allocator.allocate(pages(1), {}).value(), at_page(5));  // exact fit of the rest
  EXPECT_EQ(f.allocator.stats().free_ranges, 1u);
  EXPECT_TRUE(f.allocator.audit());
}

TEST(VaAllocatorTest, HonoursAlignment) {
  Fixture f(256);
  ASSERT_TRUE(f.allocator.allocate(pages(1), {}).ok());
  AllocationRequest aligned;
  aligned.alignment = 64 * 1024;
  const Result<VirtAddr> va = f.allocator.allocate(pages(2), aligned);
  ASSERT_TRUE(va.ok());
  EXPECT_EQ(va.value(), at_page(16));
  // The skipped pages stay free and are found by the next page-aligned request.
  EXPECT_EQ(f.allocator.allocate(pages(15), {}).value(), at_page(1));
  EXPECT_TRUE(f.allocator.audit());
}

TEST(VaAllocatorTest, FindsTheOnlyAlignedSlotEvenBelowTheConservativeBound) {
  // A 2 MiB window on a 2 MiB boundary holds exactly one 2 MiB-aligned 2 MiB range, although no
  // free range is 4 MiB - 4 KiB long.
  constexpr uint64_t kTwoMiB = 2 * 1024 * 1024;
  VaAllocatorStorage<4> storage;
  VaAllocator allocator;
  ASSERT_TRUE(allocator.init(VirtAddr(kTwoMiB * 8), Size(kTwoMiB), storage.nodes, 4).ok());
  AllocationRequest aligned;
  aligned.alignment = kTwoMiB;
  EXPECT_EQ(allocator.allocate(Size(kTwoMiB), aligned).value(), VirtAddr(kTwoMiB * 8));
  EXPECT_EQ(allocator.stats().free_ranges, 0u);
  EXPECT_EQ(allocator.stats().largest_free, Size(0));
  EXPECT_TRUE(allocator.audit());
  expect_refused(allocator, Error::kNoVirtualSpace, [&] { return allocator.allocate(pages(1), {}).error(); });
}

TEST(VaAllocatorTest, GuardPageIsReservedWithTheRangeAndFreedWithIt) {
  Fixture f(16);
  AllocationRequest guarded = request_for(3, 77);
  guarded.guard_page = true;
  guarded.kind = VaRangeKind::kDeviceIo;
  ASSERT_EQ(f.allocator.allocate(pages(2), guarded).value(), at_page(0));
  EXPECT_EQ(f.allocator.stats().in_use, pages(3));
  EXPECT_EQ(f.allocator.allocate(pages(1), {}).value(), at_page(3));  // after the guard

  const Result<VaRange> found = f.allocator.find(at_page(1) + Size(5));
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->start, at_page(0));
  EXPECT_EQ(found->size, pages(2));
  EXPECT_TRUE(found->guard_page);
  EXPECT_EQ(found->reserved_size(), pages(3));
  EXPECT_EQ(found->owner, GuestId(3));
  EXPECT_EQ(found->kind, VaRangeKind::kDeviceIo);
  EXPECT_EQ(found->backing, 77u);
  EXPECT_EQ(f.allocator.find(at_page(2)).error(), Error::kNotFound);  // the guard page
  expect_refused(f.allocator, Error::kOverlap,
                 [&] { return f.allocator.allocate_at(at_page(2), pages(1), {}).error(); });

  ASSERT_TRUE(f.allocator.free(at_page(0)).ok());
  EXPECT_EQ(f.allocator.stats().in_use, pages(1));
  EXPECT_EQ(f.allocator.allocate(pages(3), {}).value(), at_page(0));
  EXPECT_TRUE(f.allocator.audit());
}

TEST(VaAllocatorTest, RefusesBadRequestsWithoutChange) {
  Fixture f(16);
  ASSERT_TRUE(f.allocator.allocate(pages(2), {}).ok());
  VaAllocator& a = f.allocator;
  expect_refused(a, Error::kZeroSize, [&] { return a.allocate(Size(0), {}).error(); });
  expect_refused(a, Error::kMisaligned, [&] { return a.allocate(Size(kPage + 1), {}).error(); });
  for (uint64_t alignment : {uint64_t{0}, uint64_t{2048}, uint64_t{3 * kPage}, uint64_t{kPage + 1}}) {
    AllocationRequest bad;
    bad.alignment = alignment;
    expect_refused(a, Error::kInvalidArgument, [&] { return a.allocate(pages(1), bad).error(); });
  }
  AllocationRequest bad_kind;
  bad_kind.kind = static_cast<VaRangeKind>(kVaRangeKindCount);
  expect_refused(a, Error::kInvalidArgument, [&] { return a.allocate(pages(1), bad_kind).error(); });
  expect_refused(a, Error::kNoVirtualSpace, [&] { return a.allocate(pages(15), {}).error(); });
  expect_refused(a, Error::kNoVirtualSpace, [&] { return a.allocate(pages(1000), {}).error(); });
  expect_refused(a, Error::kNoVirtualSpace, [&] { return a.allocate(Size(~kPageMask), {}).error(); });
  AllocationRequest guarded;
  guarded.guard_page = true;
  expect_refused(a, Error::kNoVirtualSpace, [&] { return a.allocate(pages(14), guarded).error(); });
  AllocationRequest huge_alignment;
  huge_alignment.alignment = uint64_t{1} << 63;
  expect_refused(a, Error::kNoVirtualSpace, [&] { return a.allocate(pages(1), huge_alignment).error(); });
  EXPECT_EQ(a.allocate(pages(14), {}).value(), at_page(2));  // the exact rest still fits
}

TEST(VaAllocatorTest, AllocateAtReservesExactlyTheAskedRange) {
  Fixture f(32);
  VaAllocator& a = f.allocator;
  EXPECT_EQ(a.allocate_at(at_page(10), pages(2), request_for(4)).value(), at_page(10));
  EXPECT_EQ(a.stats().free_ranges, 2u);
  EXPECT_EQ(a.allocate_at(at_page(0), pages(1), {}).value(), at_page(0));
  EXPECT_EQ(a.allocate_at(at_page(31), pages(1), {}).value(), at_page(31));   // last page
  EXPECT_EQ(a.allocate_at(at_page(12), pages(19), {}).value(), at_page(12));  // exact gap
  EXPECT_EQ(a.allocate(pages(1), {}).value(), at_page(1));
  EXPECT_EQ(a.find(at_page(11)).value().owner, GuestId(4));
  EXPECT_TRUE(a.audit());
}

TEST(VaAllocatorTest, AllocateAtRefusesWithoutChange) {
  Fixture f(32);
  VaAllocator& a = f.allocator;
  ASSERT_TRUE(a.allocate_at(at_page(10), pages(4), {}).ok());
  auto at = [&](VirtAddr start, Size size, AllocationRequest request = {}) {
    return a.allocate_at(start, size, request).error();
  };
  expect_refused(a, Error::kOverlap, [&] { return at(at_page(10), pages(1)); });
  expect_refused(a, Error::kOverlap, [&] { return at(at_page(13), pages(2)); });
  expect_refused(a, Error::kOverlap, [&] { return at(at_page(8), pages(3)); });
  expect_refused(a, Error::kOverlap, [&] { return at(at_page(8), pages(8)); });
  AllocationRequest guarded;
  guarded.guard_page = true;
  expect_refused(a, Error::kOverlap, [&] { return at(at_page(8), pages(2), guarded); });
  expect_refused(a, Error::kMisaligned, [&] { return at(at_page(1) + Size(8), pages(1)); });
  AllocationRequest aligned;
  aligned.alignment = 4 * kPage;
  expect_refused(a, Error::kMisaligned, [&] { return at(at_page(2), pages(1), aligned); });
  expect_refused(a, Error::kZeroSize, [&] { return at(at_page(1), Size(0)); });
  expect_refused(a, Error::kInvalidArgument, [&] { return at(at_page(0) - pages(1), pages(1)); });
  expect_refused(a, Error::kInvalidArgument, [&] { return at(at_page(31), pages(2)); });
  expect_refused(a, Error::kInvalidArgument, [&] { return at(at_page(32), pages(1)); });
  expect_refused(a, Error::kInvalidArgument, [&] { return at(at_page(31), pages(1), guarded); });
  expect_refused(a, Error::kAddressOverflow, [&] { return at(VirtAddr(~kPageMask), pages(2)); });
  EXPECT_EQ(at(at_page(8), pages(1), guarded), Error::kOk);  // guard ends where the range begins
  EXPECT_TRUE(a.audit());
}

TEST(VaAllocatorTest, FreeCoalescesWithBothNeighbours) {
  Fixture f(16);
  VaAllocator& a = f.allocator;
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(a.allocate(pages(4), {}).ok());
  EXPECT_EQ(a.stats().free_ranges, 0u);
  ASSERT_TRUE(a.free(at_page(4)).ok());
  ASSERT_TRUE(a.free(at_page(12)).ok());
  EXPECT_EQ(a.stats().free_ranges, 2u);
  ASSERT_TRUE(a.free(at_page(8)).ok());  // joins both sides
  EXPECT_EQ(a.stats().free_ranges, 1u);
  EXPECT_EQ(a.stats().largest_free, pages(12));
  ASSERT_TRUE(a.free(at_page(0)).ok());
  EXPECT_EQ(a.stats().nodes_in_use, 1u);
  EXPECT_EQ(a.stats().largest_free, pages(16));
  EXPECT_TRUE(a.audit());
}

TEST(VaAllocatorTest, FreeRefusesUnknownStartsWithoutChange) {
  Fixture f(16);
  VaAllocator& a = f.allocator;
  ASSERT_TRUE(a.allocate_at(at_page(2), pages(3), {}).ok());
  expect_refused(a, Error::kNotFound, [&] { return a.free(at_page(3)).error(); });   // inside
  expect_refused(a, Error::kNotFound, [&] { return a.free(at_page(0)).error(); });   // free range
  expect_refused(a, Error::kNotFound, [&] { return a.free(at_page(5)).error(); });   // free range
  expect_refused(a, Error::kNotFound, [&] { return a.free(VirtAddr(0)).error(); });  // below
  expect_refused(a, Error::kNotFound, [&] { return a.free(at_page(99)).error(); });  // above
  ASSERT_TRUE(a.free(at_page(2)).ok());
  expect_refused(a, Error::kNotFound, [&] { return a.free(at_page(2)).error(); });  // twice
}

TEST(VaAllocatorTest, FindReportsTheUsedRangeHoldingAnAddress) {
  Fixture f(16);
  VaAllocator& a = f.allocator;
  AllocationRequest request = request_for(9, 0xc0ffee);
  request.kind = VaRangeKind::kOther;
  ASSERT_TRUE(a.allocate_at(at_page(4), pages(2), request).ok());
  for (VirtAddr inside : {at_page(4), at_page(5), at_page(6) - Size(1)}) {
    const Result<VaRange> found = a.find(inside);
    ASSERT_TRUE(found.ok());
    EXPECT_EQ(found->start, at_page(4));
    EXPECT_EQ(found->end(), at_page(6));
    EXPECT_FALSE(found->guard_page);
    EXPECT_EQ(found->backing, 0xc0ffeeu);
    EXPECT_EQ(found->kind, VaRangeKind::kOther);
  }
  for (VirtAddr outside : {at_page(3), at_page(6), VirtAddr(0), at_page(100)}) {
    EXPECT_EQ(a.find(outside).error(), Error::kNotFound);
  }
}

TEST(VaAllocatorTest, VisitsUsedRangesInAddressOrder) {
  Fixture f(32);
  VaAllocator& a = f.allocator;
  ASSERT_TRUE(a.allocate_at(at_page(20), pages(1), request_for(1)).ok());
  ASSERT_TRUE(a.allocate_at(at_page(3), pages(2), request_for(2)).ok());
  ASSERT_TRUE(a.allocate_at(at_page(9), pages(1), request_for(3)).ok());
  std::vector<uint64_t> starts;
  a.for_each_used([&](const VaRange& range) { starts.push_back(range.start.value); });
  EXPECT_EQ(starts, (std::vector<uint64_t>{at_page(3).value, at_page(9).value, at_page(20).value}));
}

TEST(VaAllocatorTest, FreeAllOfReleasesOnlyThatOwner) {
  Fixture f(64);
  VaAllocator& a = f.allocator;
  // Owner 33 shares owner 1's mask bit: the teardown must still tell them apart.
  const uint16_t owners[] = {1, 2, 33, 1, 1, 33, 2, 1};
  for (uint16_t owner : owners) ASSERT_TRUE(a.allocate(pages(2), request_for(owner)).ok());
  EXPECT_EQ(a.free_all_of(GuestId(1)), 4u);
  EXPECT_TRUE(a.audit());
  size_t remaining = 0;
  a.for_each_used([&](const VaRange& range) {
    EXPECT_NE(range.owner, GuestId(1));
    ++remaining;
  });
  EXPECT_EQ(remaining, 4u);
  EXPECT_EQ(a.free_all_of(GuestId(1)), 0u);
  EXPECT_EQ(a.free_all_of(GuestId(5)), 0u);
  EXPECT_EQ(a.free_all_of(GuestId(33)), 2u);
  EXPECT_EQ(a.free_all_of(GuestId(2)), 2u);
  EXPECT_EQ(a.stats().nodes_in_use, 1u);
  EXPECT_TRUE(a.audit());
}

TEST(VaAllocatorTest, NodePoolExhaustionIsCleanAndExact) {
  Fixture f(16, 3);
  VaAllocator& a = f.allocator;
  // A range in the middle of the window needs two new nodes (free space on both sides).
  ASSERT_TRUE(a.allocate(pages(2), {}).ok());  // nodes: used + rest
  EXPECT_EQ(a.stats().nodes_in_use, 2u);
  expect_refused(a, Error::kOutOfMemory, [&] { return a.allocate_at(at_page(8), pages(1), {}).error(); });
  ASSERT_TRUE(a.allocate_at(at_page(14), pages(2), {}).ok());  // one new node: the pool is full
  EXPECT_EQ(a.stats().nodes_in_use, 3u);
  expect_refused(a, Error::kOutOfMemory, [&] { return a.allocate(pages(1), {}).error(); });
  expect_refused(a, Error::kOutOfMemory, [&] { return a.allocate_at(at_page(13), pages(1), {}).error(); });
  EXPECT_EQ(a.allocate(pages(12), {}).value(), at_page(2));  // exact fit: no new node
  ASSERT_TRUE(a.free(at_page(2)).ok());
  ASSERT_TRUE(a.free(at_page(14)).ok());
  ASSERT_TRUE(a.free(at_page(0)).ok());
  EXPECT_EQ(a.stats().nodes_in_use, 1u);
  EXPECT_TRUE(a.audit());
}

TEST(VaAllocatorTest, WorstCasePoolHoldsTheAdvertisedRanges) {
  constexpr size_t kRanges = 50;
  Fixture f(2 * kRanges + 1, VaAllocator::nodes_needed(kRanges));
  VaAllocator& a = f.allocator;
  // Every other page: each used range is surrounded by free ones, the worst case for nodes.
  for (size_t i = 0; i < kRanges; ++i) ASSERT_TRUE(a.allocate_at(at_page(2 * i + 1), pages(1), {}).ok());
  EXPECT_EQ(a.stats().nodes_in_use, a.stats().node_capacity);
  EXPECT_TRUE(a.audit());
  // Exact fits of the gaps need no node even now.
  EXPECT_EQ(a.allocate_at(at_page(0), pages(1), {}).value(), at_page(0));
  EXPECT_EQ(a.allocate(pages(1), {}).value(), at_page(2));
  EXPECT_EQ(a.stats().nodes_in_use, a.stats().node_capacity);
}

// The pool bound holds for large trees too: at 2n + 1 nodes, n used ranges each between two free
// ranges fill every node, and churn at that bound (frees that leave B-tree leaves half empty,
// then allocations that fill them again) never runs out of storage.
TEST(VaAllocatorTest, WorstCasePoolHoldsLargeTreesUnderChurn) {
  constexpr size_t kRanges = 3000;
  Fixture f(2 * kRanges + 1, VaAllocator::nodes_needed(kRanges));
  VaAllocator& a = f.allocator;
  for (size_t i = 0; i < kRanges; ++i) ASSERT_TRUE(a.allocate_at(at_page(2 * i + 1), pages(1), {}).ok());
  EXPECT_EQ(a.stats().nodes_in_use, a.stats().node_capacity);
  ASSERT_TRUE(a.audit());
  std::mt19937_64 rng(7);
  for (int round = 0; round < 4; ++round) {
    std::vector<uint64_t> freed;
    for (size_t i = 0; i < kRanges; ++i) {
      if (rng() % 3 == 0) continue;
      ASSERT_TRUE(a.free(at_page(2 * i + 1)).ok());
      freed.push_back(i);
    }
    ASSERT_TRUE(a.audit());
    for (uint64_t i : freed) ASSERT_TRUE(a.allocate_at(at_page(2 * i + 1), pages(1), {}).ok()) << i;
    EXPECT_EQ(a.stats().nodes_in_use, a.stats().node_capacity);
    ASSERT_TRUE(a.audit());
  }
  // Full: only exact fits of the one-page gaps remain possible, and they need no node.
  EXPECT_EQ(a.allocate(pages(1), {}).value(), at_page(0));
  EXPECT_EQ(a.stats().nodes_in_use, a.stats().node_capacity);
}

// Span-wise teardown against a plain model: owners' ranges interleaved with others' and with
// holes; every span stops at another owner, honours the budget, and leaves one coalesced hole.
// `allocations` decides the store: a few dozen stay in the inline array, hundreds go to the tree.
void release_spans_against_a_model(int allocations, bool in_tree) {
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    Fixture f(4096, 4096);
    std::mt19937_64 random(seed);
    std::map<uint64_t, uint16_t> live;  // start -> owner
    for (int i = 0; i < allocations; ++i) {
      AllocationRequest request;
      request.owner = GuestId(static_cast<uint16_t>(random() % 3));
      request.guard_page = random() % 2 == 0;
      const Result<VirtAddr> va = f.allocator.allocate(pages(1 + random() % 4), request);
      ASSERT_TRUE(va);
      live[va->value] = request.owner.value;
      if (random() % 4 == 0) {  // holes
        auto it = std::next(live.begin(), random() % live.size());
        ASSERT_TRUE(f.allocator.free(VirtAddr(it->first)));
        live.erase(it);
      }
    }
    ASSERT_EQ(f.allocator.uses_tree(), in_tree);
    const GuestId dying(static_cast<uint16_t>(seed % 3));
    const size_t budget = 1 + seed % 7;
    size_t released = 0;
    for (;;) {
      const VaAllocator::OwnerSpan span = f.allocator.plan_span_of(dying, budget);
      if (span.ranges == 0) break;
      ASSERT_LE(span.ranges, budget);
      size_t visited = 0;
      ASSERT_EQ(f.allocator.release_span_of(dying, span,
                                            [&](const VaRange& r) {
                                              ASSERT_EQ(r.owner, dying);
                                              ASSERT_GE(r.start, span.first);
                                              ASSERT_LE(r.start + r.reserved_size(), span.last);
                                              ASSERT_EQ(live.erase(r.start.value), 1u);
                                              ++visited;
                                            }),
                span.ranges);
      ASSERT_EQ(visited, span.ranges);
      ASSERT_TRUE(f.allocator.audit());  // tiling, coalesced holes, accounting
      released += visited;
    }
    for (const auto& [start, owner] : live) {
      ASSERT_NE(owner, dying.value);
      ASSERT_TRUE(f.allocator.find(VirtAddr(start)));
    }
    ASSERT_EQ(f.allocator.stats().used_ranges, live.size());
    ASSERT_GT(released, 0u);
  }
}

// A span planned before another owner took the free VA between two of its ranges: the release
// stops at that owner's range, in either store, and the allocator stays consistent.
void stale_span_spares_another_owner(size_t others, bool in_tree) {
  Fixture f(4096, 4096);
  AllocationRequest other;
  other.owner = GuestId(2);
  for (size_t i = 0; i < others; ++i) ASSERT_TRUE(f.allocator.allocate(pages(1), other));
  AllocationRequest mine;
  mine.owner = GuestId(1);
  const VirtAddr first = f.allocator.allocate(pages(1), mine).value();
  const VirtAddr hole = f.allocator.allocate(pages(1), mine).value();
  const VirtAddr last = f.allocator.allocate(pages(1), mine).value();
  ASSERT_TRUE(f.allocator.free(hole));
  ASSERT_EQ(f.allocator.uses_tree(), in_tree);
  const VaAllocator::OwnerSpan span = f.allocator.plan_span_of(GuestId(1), 8);
  ASSERT_EQ(span.ranges, 2u);
  ASSERT_TRUE(f.allocator.allocate_at(hole, pages(1), other));  // the plan is now stale
  std::vector<VirtAddr> visited;
  EXPECT_EQ(f.allocator.release_span_of(GuestId(1), span, [&](const VaRange& r) { visited.push_back(r.start); }), 1u);
  EXPECT_EQ(visited, std::vector<VirtAddr>{last});
  EXPECT_EQ(f.allocator.find(hole).value().owner, GuestId(2));
  EXPECT_EQ(f.allocator.find(first).value().owner, GuestId(1));
  EXPECT_FALSE(f.allocator.find(last));
  EXPECT_TRUE(f.allocator.audit());
}

// A span whose last range has gone to another owner since it was planned releases nothing.
void stale_span_whose_last_range_changed_hands(size_t others, bool in_tree) {
  Fixture f(4096, 4096);
  AllocationRequest other;
  other.owner = GuestId(2);
  AllocationRequest mine;
  mine.owner = GuestId(1);
  for (size_t i = 0; i < others; ++i) ASSERT_TRUE(f.allocator.allocate(pages(1), other));
  ASSERT_TRUE(f.allocator.allocate(pages(1), mine));
  const VirtAddr last = f.allocator.allocate(pages(1), mine).value();
  ASSERT_TRUE(f.allocator.allocate(pages(1), other));  // no free VA right after `last`
  ASSERT_EQ(f.allocator.uses_tree(), in_tree);
  const VaAllocator::OwnerSpan span = f.allocator.plan_span_of(GuestId(1), 8);
  ASSERT_EQ(span.ranges, 2u);
  ASSERT_TRUE(f.allocator.free(last));
  ASSERT_TRUE(f.allocator.allocate_at(last, pages(1), other));
  const Snapshot before = snapshot(f.allocator);
  EXPECT_EQ(f.allocator.release_span_of(GuestId(1), span, [](const VaRange&) { FAIL(); }), 0u);
  EXPECT_TRUE(snapshot(f.allocator) == before);
  EXPECT_TRUE(f.allocator.audit());
}

TEST(VaAllocatorSpans, AStaleSpanEndingInAnotherOwnersRangeReleasesNothingInTheArray) {
  stale_span_whose_last_range_changed_hands(10, false);
}
TEST(VaAllocatorSpans, AStaleSpanEndingInAnotherOwnersRangeReleasesNothingInTheTree) {
  stale_span_whose_last_range_changed_hands(400, true);
}

TEST(VaAllocatorSpans, AStaleSpanSparesAnotherOwnersRangeInTheArray) { stale_span_spares_another_owner(10, false); }
TEST(VaAllocatorSpans, AStaleSpanSparesAnotherOwnersRangeInTheTree) { stale_span_spares_another_owner(400, true); }

TEST(VaAllocatorSpans, ReleaseEveryRangeOfAnOwnerAndNothingElseInTheTree) { release_spans_against_a_model(600, true); }
TEST(VaAllocatorSpans, ReleaseEveryRangeOfAnOwnerAndNothingElseInTheArray) { release_spans_against_a_model(40, false); }

}  // namespace
}  // namespace teemm::mm
