// tests/va_allocator_release_test: releasing an owner's ranges in one pass (release_all_of, and
// free_all_of when prefers_one_pass) against a plain model, including ranges the caller keeps.
#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <random>
#include <vector>

#include "mm/va_allocator.hpp"

namespace teemm::mm {
namespace {

constexpr uint64_t kBase = 0x4000'0000;
constexpr uint64_t kWindow = uint64_t{1} << 34;

struct Owned {
  uint64_t size;
  uint16_t owner;
};

// `count` ranges of 1-8 pages for owners 1..owners, some freed again so that free ranges lie
// between them; the model holds what is left.
void populate(VaAllocator& allocator, std::map<uint64_t, Owned>& model, size_t count, uint16_t owners, uint64_t seed) {
  std::mt19937_64 random(seed);
  std::vector<uint64_t> starts;
  for (size_t i = 0; i < count; ++i) {
    AllocationRequest request;
    request.owner = GuestId(static_cast<uint16_t>(1 + random() % owners));
    const uint64_t size = (1 + random() % 8) * kPageSize;
    const Result<VirtAddr> va = allocator.allocate(Size(size), request);
    ASSERT_TRUE(va);
    model[va->value] = {size, request.owner.value};
    starts.push_back(va->value);
  }
  for (uint64_t start : starts) {
    if (random() % 4 != 0) continue;
    ASSERT_TRUE(allocator.free(VirtAddr(start)));
    model.erase(start);
  }
}

void expect_matches(const VaAllocator& allocator, const std::map<uint64_t, Owned>& model) {
  std::map<uint64_t, Owned> seen;
  uint64_t reserved = 0;
  allocator.for_each_used([&](const VaRange& range) {
    seen[range.start.value] = {range.size.bytes, range.owner.value};
    reserved += range.reserved_size().bytes;
  });
  EXPECT_EQ(allocator.stats().in_use.bytes, reserved);  // the released bytes left the count
  ASSERT_EQ(seen.size(), model.size());
  for (const auto& [start, owned] : model) {
    ASSERT_EQ(seen.count(start), 1u) << start;
    EXPECT_EQ(seen[start].size, owned.size);
    EXPECT_EQ(seen[start].owner, owned.owner);
  }
  EXPECT_EQ(allocator.stats().used_ranges, model.size());
  EXPECT_TRUE(allocator.audit());
}

// The caller may keep some ranges (their unmap failed): they stay exactly as they were, the others
// become free space merged with their neighbours, whatever the store and the owner's share.
TEST(VaAllocatorRelease, ReleaseAllOfFreesExactlyWhatTheCallerLetsGo) {
  for (size_t count : {5, 40, 300, 3000}) {
    for (uint16_t owners : {1, 3, 40}) {
      std::vector<VaAllocator::Node> nodes(VaAllocator::nodes_needed(count));
      VaAllocator allocator;
      ASSERT_TRUE(allocator.init(VirtAddr(kBase), Size(kWindow), nodes.data(), nodes.size()));
      std::map<uint64_t, Owned> model;
      populate(allocator, model, count, owners, count * 31 + owners);
      const GuestId victim(1);
      size_t expected = 0;
      size_t visited = 0;
      for (auto it = model.begin(); it != model.end();) {
        if (it->second.owner != victim.value) {
          ++it;
          continue;
        }
        if (visited++ % 7 == 3) {  // kept by the caller
          ++it;
          continue;
        }
        it = model.erase(it);
        ++expected;
      }
      size_t calls = 0;
      const size_t released = allocator.release_all_of(victim, [&](const VaRange& range) {
        EXPECT_EQ(range.owner, victim);
        return calls++ % 7 != 3;
      });
      EXPECT_EQ(released, expected) << count << " ranges, " << owners << " owners";
      EXPECT_EQ(calls, visited);
      expect_matches(allocator, model);
    }
  }
}

// free_all_of takes the one pass when an owner holds a fair share, and one range at a time when it
// holds a few: both leave the same allocator behind.
TEST(VaAllocatorRelease, FreeAllOfChoosesTheOnePassByShare) {
  std::vector<VaAllocator::Node> nodes(VaAllocator::nodes_needed(4000));
  VaAllocator allocator;
  ASSERT_TRUE(allocator.init(VirtAddr(kBase), Size(kWindow), nodes.data(), nodes.size()));
  std::map<uint64_t, Owned> model;
  AllocationRequest request;
  for (int i = 0; i < 4000; ++i) {
    request.owner = GuestId(static_cast<uint16_t>(i % 10 == 0 ? 2 : (i == 1234 ? 3 : 1)));
    const Result<VirtAddr> va = allocator.allocate(Size(kPageSize), request);
    ASSERT_TRUE(va);
    model[va->value] = {kPageSize, request.owner.value};
  }
  EXPECT_TRUE(allocator.prefers_one_pass(GuestId(2)));   // in every leaf
  EXPECT_FALSE(allocator.prefers_one_pass(GuestId(3)));  // one range
  EXPECT_FALSE(allocator.prefers_one_pass(GuestId(4)));  // none
  for (uint16_t owner : {2, 3, 4}) {
    const size_t expected = std::erase_if(model, [&](const auto& entry) { return entry.second.owner == owner; });
    EXPECT_EQ(allocator.free_all_of(GuestId(owner)), expected) << owner;
    expect_matches(allocator, model);
  }
}

}  // namespace
}  // namespace teemm::mm
