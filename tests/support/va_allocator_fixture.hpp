// tests/support/va_allocator_fixture: what the VA allocator's unit and property tests share: a
// window at kBase, page-sized helpers, an allocator over its own nodes, and a snapshot of
// everything observable (to show that a refused call changed nothing).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include <gtest/gtest.h>

#include "mm/va_allocator.hpp"

namespace teemm::mm::va_test {

inline constexpr uint64_t kPage = kPageSize;
inline constexpr uint64_t kBase = 0x4000'0000;

inline Size pages(uint64_t count) { return Size(count * kPage); }
inline VirtAddr at_page(uint64_t index) { return VirtAddr(kBase + index * kPage); }

inline AllocationRequest request_for(uint16_t owner, uint64_t backing = 0) {
  AllocationRequest request;
  request.owner = GuestId(owner);
  request.backing = backing;
  return request;
}

inline bool same_range(const VaRange& a, const VaRange& b) {
  return a.start == b.start && a.size == b.size && a.guard_page == b.guard_page && a.owner == b.owner &&
         a.kind == b.kind && a.backing == b.backing;
}

// Everything observable, to show that a refused call changed nothing.
struct Snapshot {
  VaStats stats;
  std::vector<VaRange> ranges;

  bool operator==(const Snapshot& other) const {
    if (stats.window != other.stats.window || stats.in_use != other.stats.in_use ||
        stats.used_ranges != other.stats.used_ranges || stats.free_ranges != other.stats.free_ranges ||
        stats.nodes_in_use != other.stats.nodes_in_use || stats.node_capacity != other.stats.node_capacity ||
        stats.largest_free != other.stats.largest_free || ranges.size() != other.ranges.size()) {
      return false;
    }
    for (size_t i = 0; i < ranges.size(); ++i) {
      if (!same_range(ranges[i], other.ranges[i])) return false;
    }
    return true;
  }
};

inline Snapshot snapshot(const VaAllocator& allocator) {
  Snapshot snap{allocator.stats(), {}};
  allocator.for_each_used([&](const VaRange& range) { snap.ranges.push_back(range); });
  return snap;
}

// An allocator over `window_pages` pages at kBase with `node_count` nodes.
class Fixture {
 public:
  explicit Fixture(uint64_t window_pages, size_t node_count = 256)
      : nodes_(std::make_unique<VaAllocator::Node[]>(node_count)) {
    EXPECT_TRUE(allocator.init(VirtAddr(kBase), pages(window_pages), nodes_.get(), node_count).ok());
  }
  VaAllocator allocator;

 private:
  std::unique_ptr<VaAllocator::Node[]> nodes_;
};

}  // namespace teemm::mm::va_test
