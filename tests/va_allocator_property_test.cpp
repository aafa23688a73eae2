// tests/va_allocator_property_test: the VA allocator against a plain reference model (used ranges
// in a std::map, free gaps whatever lies between them), on random operations of every kind,
// across the inline array and the tree, with every refusal checked to change nothing.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <random>
#include <vector>

#include "mm/va_allocator.hpp"
#include "support/va_allocator_fixture.hpp"

namespace teemm::mm {
namespace {

using namespace va_test;

// ---- Property test ----------------------------------------------------------------------------

struct ModelRange {
  uint64_t size = 0;  // usable bytes
  bool guard = false;
  uint16_t owner = 0;
  VaRangeKind kind = VaRangeKind::kSharedMemory;
  uint64_t backing = 0;
  uint64_t span() const { return size + (guard ? kPage : 0); }
};

// The plain model: used ranges by start; free gaps are whatever lies between them.
class Model {
 public:
  Model(uint64_t base, uint64_t window, size_t node_capacity)
      : base_(base), end_(base + window), node_capacity_(node_capacity) {}

  struct Gap {
    uint64_t start;
    uint64_t end;
  };
  // Recomputed from `used` on demand and cached until the next change (see changed()).
  const std::vector<Gap>& gaps() const {
    if (!gaps_valid_) {
      gaps_ = compute_gaps();
      gaps_valid_ = true;
    }
    return gaps_;
  }
  void changed() { gaps_valid_ = false; }

  std::vector<Gap> compute_gaps() const {
    std::vector<Gap> result;
    uint64_t cursor = base_;
    for (const auto& [start, range] : used) {
      if (start > cursor) result.push_back({cursor, start});
      cursor = start + range.span();
    }
    if (cursor < end_) result.push_back({cursor, end_});
    return result;
  }
  size_t nodes_in_use() const { return used.size() + gaps().size(); }

  static std::optional<uint64_t> slot_in(const Gap& gap, uint64_t span, uint64_t alignment) {
    const uint64_t aligned = (gap.start + alignment - 1) & ~(alignment - 1);
    if (aligned >= gap.end || gap.end - aligned < span) return std::nullopt;
    return aligned;
  }
  // The true first fit and the lowest gap passing the allocator's conservative test.
  std::optional<uint64_t> first_fit(uint64_t span, uint64_t alignment) const {
    for (const Gap& gap : gaps()) {
      if (auto slot = slot_in(gap, span, alignment)) return slot;
    }
    return std::nullopt;
  }
  std::optional<uint64_t> conservative_fit(uint64_t span, uint64_t alignment) const {
    for (const Gap& gap : gaps()) {
      if (gap.end - gap.start >= span + alignment - kPage) return slot_in(gap, span, alignment);
    }
    return std::nullopt;
  }
  // Nodes an allocation at `slot` needs beyond the gap's own, or nullopt if `slot` is not free.
  std::optional<size_t> new_nodes_for(uint64_t slot, uint64_t span) const {
    for (const Gap& gap : gaps()) {
      if (slot >= gap.start && slot + span <= gap.end) {
        return size_t{slot > gap.start} + size_t{slot + span < gap.end};
      }
    }
    return std::nullopt;
  }
  bool has_room_for(size_t new_nodes) const { return nodes_in_use() + new_nodes <= node_capacity_; }

  std::map<uint64_t, ModelRange> used;

 private:
  uint64_t base_;
  uint64_t end_;
  size_t node_capacity_;
  mutable std::vector<Gap> gaps_;
  mutable bool gaps_valid_ = false;
};

struct PropertyConfig {
  uint32_t seed;
  size_t node_capacity;
  bool large_alignments;
  uint64_t window_pages = 512;
  // Alternate growing and shrinking phases, so that the ranges cross between the inline array and
  // the tree (VaAllocator::kFlatCapacity) again and again.
  bool phases = false;
};

class VaAllocatorProperty : public ::testing::TestWithParam<PropertyConfig> {};

void expect_matches_model(const VaAllocator& a, const Model& model) {
  std::vector<VaRange> ranges;
  a.for_each_used([&](const VaRange& range) { ranges.push_back(range); });
  ASSERT_EQ(ranges.size(), model.used.size());
  uint64_t in_use = 0;
  size_t i = 0;
  for (const auto& [start, expected] : model.used) {
    const VaRange& range = ranges[i++];
    EXPECT_EQ(range.start.value, start);
    EXPECT_EQ(range.size.bytes, expected.size);
    EXPECT_EQ(range.guard_page, expected.guard);
    EXPECT_EQ(range.owner.value, expected.owner);
    EXPECT_EQ(range.kind, expected.kind);
    EXPECT_EQ(range.backing, expected.backing);
    in_use += expected.span();
  }
  const VaStats stats = a.stats();
  EXPECT_EQ(stats.in_use.bytes, in_use);
  EXPECT_EQ(stats.nodes_in_use, model.nodes_in_use());
  uint64_t largest = 0;
  for (const auto& gap : model.gaps()) largest = std::max(largest, gap.end - gap.start);
  EXPECT_EQ(stats.largest_free.bytes, largest);
}

TEST_P(VaAllocatorProperty, AgreesWithReferenceModel) {
  const PropertyConfig config = GetParam();
  const uint64_t kWindowPages = config.window_pages;
  std::mt19937_64 rng(config.seed);
  auto below = [&](uint64_t bound) { return std::uniform_int_distribution<uint64_t>(0, bound - 1)(rng); };

  Fixture f(kWindowPages, config.node_capacity);
  VaAllocator& a = f.allocator;
  Model model(kBase, kWindowPages * kPage, config.node_capacity);
  uint64_t next_backing = 1;
  std::map<Error, int> allocate_outcomes;
  std::map<Error, int> allocate_at_outcomes;

  auto random_request = [&] {
    AllocationRequest request;
    request.owner = GuestId(static_cast<uint16_t>(below(40)));
    request.kind = static_cast<VaRangeKind>(below(kVaRangeKindCount));
    request.guard_page = below(4) == 0;
    request.backing = next_backing++;
    if (config.large_alignments && below(3) == 0) request.alignment = kPage << below(5);
    return request;
  };
  auto remember = [&](uint64_t start, uint64_t size, const AllocationRequest& request) {
    model.used[start] = ModelRange{size, request.guard_page, request.owner.value, request.kind, request.backing};
    model.changed();
  };

  int store_moves = 0;
  const int steps = config.phases ? 12000 : 2500;
  for (int step = 0; step < steps; ++step) {
    const Snapshot before = snapshot(a);
    const bool used_tree = a.uses_tree();
    bool refused = false;
    uint64_t op = below(100);
    if (config.phases && (step / 1500) % 2 == 1 && op < 55) op = 55 + below(35);         // shrinking: frees only
    if (config.phases && (step / 1500) % 2 == 0 && op >= 55 && op < 75) op = below(40);  // growing
    if (op < 40) {
      const AllocationRequest request = random_request();
      const uint64_t size = (1 + below(8)) * kPage;
      const uint64_t span = size + (request.guard_page ? kPage : 0);
      const Result<VirtAddr> got = a.allocate(Size(size), request);
      ++allocate_outcomes[got.error()];
      const std::optional<uint64_t> exact = model.first_fit(span, request.alignment);
      const std::optional<uint64_t> bound = model.conservative_fit(span, request.alignment);
      if (got.ok()) {
        const uint64_t start = got.value().value;
        ASSERT_TRUE(start % request.alignment == 0);
        const std::optional<size_t> needed = model.new_nodes_for(start, span);
        ASSERT_TRUE(needed.has_value()) << "allocated over a used range";
        ASSERT_TRUE(model.has_room_for(*needed));
        if (bound) {
          ASSERT_LE(start, *bound);
        } else {
          ASSERT_EQ(start, *exact);
        }
        if (request.alignment == kPage) {
          ASSERT_EQ(start, *exact);
        }
        remember(start, size, request);
      } else if (got.error() == Error::kOutOfMemory) {
        refused = true;
        ASSERT_TRUE(exact.has_value());
        // With page alignment the placement is exact, so the model can tell the node shortage.
        if (request.alignment == kPage) {
          ASSERT_FALSE(model.has_room_for(*model.new_nodes_for(*exact, span)));
        }
      } else {
        refused = true;
        ASSERT_EQ(got.error(), Error::kNoVirtualSpace);
        ASSERT_FALSE(exact.has_value());
      }
    } else if (op < 55) {
      const AllocationRequest request = random_request();
      const uint64_t start = kBase + below(kWindowPages + 4) * kPage;
      const uint64_t size = (1 + below(6)) * kPage;
      const uint64_t span = size + (request.guard_page ? kPage : 0);
      const Result<VirtAddr> got = a.allocate_at(VirtAddr(start), Size(size), request);
      ++allocate_at_outcomes[got.error()];
      Error expected = Error::kOk;
      const std::optional<size_t> needed = model.new_nodes_for(start, span);
      if (start % request.alignment != 0) {
        expected = Error::kMisaligned;
      } else if (start + span > kBase + kWindowPages * kPage) {
        expected = Error::kInvalidArgument;
      } else if (!needed) {
        expected = Error::kOverlap;
      } else if (!model.has_room_for(*needed)) {
        expected = Error::kOutOfMemory;
      }
      ASSERT_EQ(got.error(), expected);
      if (got.ok()) {
        ASSERT_EQ(got.value().value, start);
        remember(start, size, request);
      }
      refused = !got.ok();
    } else if (op < 90) {
      uint64_t start = kBase + below(kWindowPages) * kPage;
      if (!model.used.empty() && below(10) != 0) {
        auto it = model.used.begin();
        std::advance(it, below(model.used.size()));
        start = it->first;
      }
      const Status freed = a.free(VirtAddr(start));
      ASSERT_EQ(freed.ok(), model.used.count(start) == 1);
      if (freed.ok()) {
        model.used.erase(start);
        model.changed();
      } else {
        ASSERT_EQ(freed.error(), Error::kNotFound);
        refused = true;
      }
    } else if (op < 98) {
      const uint64_t address = kBase - kPage + below((kWindowPages + 2) * kPage);
      const Result<VaRange> found = a.find(VirtAddr(address));
      auto it = model.used.upper_bound(address);
      const bool inside = it != model.used.begin() && address < std::prev(it)->first + std::prev(it)->second.size;
      ASSERT_EQ(found.ok(), inside);
      if (inside) {
        ASSERT_EQ(found->start.value, std::prev(it)->first);
      }
      refused = true;  // a lookup changes nothing either
    } else {
      const uint16_t owner = static_cast<uint16_t>(below(40));
      const size_t expected = std::erase_if(model.used, [&](const auto& entry) { return entry.second.owner == owner; });
      model.changed();
      ASSERT_EQ(a.free_all_of(GuestId(owner)), expected);
    }
    ASSERT_TRUE(a.audit()) << "step " << step;
    if (refused) {
      ASSERT_TRUE(snapshot(a) == before) << "step " << step;
      ASSERT_EQ(a.uses_tree(), used_tree) << "step " << step;  // not even the store changed
    }
    store_moves += a.uses_tree() != used_tree;
    expect_matches_model(a, model);
    if (::testing::Test::HasFailure()) FAIL() << "step " << step;
  }

  // The sequence must have reached the interesting states, not just the easy ones.
  EXPECT_GT(allocate_outcomes[Error::kOk], 100);
  EXPECT_GT(allocate_outcomes[Error::kNoVirtualSpace] + allocate_outcomes[Error::kOutOfMemory], 10);
  EXPECT_GT(allocate_at_outcomes[Error::kOk], 10);
  EXPECT_GT(allocate_at_outcomes[Error::kOverlap], 10);
  if (config.node_capacity < 100) {
    EXPECT_GT(allocate_outcomes[Error::kOutOfMemory], 10);
  }
  if (config.phases) {
    EXPECT_GE(store_moves, 4);  // into the tree and back, at least twice
  }

  while (!model.used.empty()) {
    ASSERT_TRUE(a.free(VirtAddr(model.used.begin()->first)).ok());
    model.used.erase(model.used.begin());
    ASSERT_TRUE(a.audit());
  }
  EXPECT_EQ(a.stats().nodes_in_use, 1u);
  EXPECT_EQ(a.stats().free_ranges, 1u);
  EXPECT_EQ(a.stats().largest_free, pages(kWindowPages));
}

INSTANTIATE_TEST_SUITE_P(Seeds, VaAllocatorProperty,
                         ::testing::Values(PropertyConfig{1, 1024, false}, PropertyConfig{2, 1024, true},
                                           PropertyConfig{3, 40, false}, PropertyConfig{4, 60, true},
                                           PropertyConfig{5, 4096, false, 2048, true},
                                           PropertyConfig{6, 4096, true, 2048, true}));

}  // namespace
}  // namespace teemm::mm
