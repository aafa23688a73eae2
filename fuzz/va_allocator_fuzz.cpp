// fuzz/va_allocator_fuzz: the VA allocator alone against a plain model (used ranges in a std::map,
// free space whatever lies between them), grown well past the inline array so that the B+tree, its
// moves back and forth, and the one-pass release (BTree::edit_leaves: merges across leaves, leaves
// left short, ranges the caller keeps) all run. Owners 0-39 share the tree's 32 owner bits, so
// owners that collide modulo 32 are released beside each other.
//
// Every allocation must land where the documented first fit puts it (va_allocator.cpp: the first
// free range that surely holds the aligned span, else the first that holds it at all); every
// release (per owner, or a span of one owner's ranges, sometimes gone stale) must free exactly the
// model's ranges; and at every 8th call and at the end the allocator's audit, its statistics (free
// ranges included: coalesced) and its used ranges must match the model.
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "fuzz_input.hpp"
#include "mm/va_allocator.hpp"

namespace teemm::mm {
namespace {

constexpr uint64_t kPage = kPageSize;
constexpr uint64_t kBase = uint64_t{1} << 32;
constexpr uint64_t kWindowPages = 1 << 16;
constexpr size_t kMostRanges = 4096;  // the model never lets an input hold more
constexpr uint16_t kOwners = 40;

struct Used {
  uint64_t span;  // reserved bytes, the guard page included
  uint16_t owner;
};

struct Model {
  std::map<uint64_t, Used> used;

  // The documented first fit for `span` bytes at `alignment`, or nothing.
  std::optional<uint64_t> first_fit(uint64_t span, uint64_t alignment) const {
    std::optional<uint64_t> exact;
    uint64_t gap_start = kBase;
    auto try_gap = [&](uint64_t gap_end) -> std::optional<uint64_t> {
      const uint64_t aligned = (gap_start + alignment - 1) & ~(alignment - 1);
      const bool fits = aligned >= gap_start && aligned <= gap_end && gap_end - aligned >= span;
      if (fits && !exact) exact = aligned;
      if (gap_end - gap_start >= span + alignment - kPage) return aligned;  // surely fits
      return std::nullopt;
    };
    for (const auto& [start, range] : used) {
      if (start > gap_start) {
        if (auto slot = try_gap(start)) return slot;
      }
      gap_start = start + range.span;
    }
    if (auto slot = try_gap(kBase + kWindowPages * kPage)) return slot;
    return exact;
  }
  uint64_t largest_gap() const {
    uint64_t largest = 0;
    uint64_t gap_start = kBase;
    for (const auto& [start, range] : used) {
      if (start - gap_start > largest) largest = start - gap_start;
      gap_start = start + range.span;
    }
    const uint64_t tail = kBase + kWindowPages * kPage - gap_start;
    return tail > largest ? tail : largest;
  }
  // The free ranges a coalescing allocator holds: the gaps that are not empty.
  size_t free_ranges() const {
    size_t gaps = 0;
    uint64_t gap_start = kBase;
    for (const auto& [start, range] : used) {
      gaps += start > gap_start ? 1 : 0;
      gap_start = start + range.span;
    }
    return gaps + (kBase + kWindowPages * kPage > gap_start ? 1 : 0);
  }
};

void expect_matches(const VaAllocator& allocator, const Model& model) {
  FUZZ_CHECK(allocator.audit());
  const VaStats stats = allocator.stats();
  FUZZ_CHECK(stats.used_ranges == model.used.size());
  FUZZ_CHECK(stats.largest_free.bytes == model.largest_gap());
  FUZZ_CHECK(stats.free_ranges == model.free_ranges());
  FUZZ_CHECK(stats.nodes_in_use == stats.used_ranges + stats.free_ranges);
  uint64_t in_use = 0;
  auto expected = model.used.begin();
  bool same = true;
  allocator.for_each_used([&](const VaRange& range) {
    if (expected == model.used.end() || range.start.value != expected->first ||
        range.reserved_size().bytes != expected->second.span || range.owner.value != expected->second.owner) {
      same = false;
      return;
    }
    in_use += expected->second.span;
    ++expected;
  });
  FUZZ_CHECK(same && expected == model.used.end());
  FUZZ_CHECK(stats.in_use.bytes == in_use);
}

struct Fixture {
  std::unique_ptr<VaAllocator::Node[]> nodes =
      std::make_unique<VaAllocator::Node[]>(VaAllocator::nodes_needed(kMostRanges));
  VaAllocator allocator;
  Model model;
};

void allocate(Fixture& f, fuzz::Reader& in, uint16_t owner) {
  AllocationRequest request;
  request.owner = GuestId(owner);
  request.guard_page = in.below(4) == 0;
  request.alignment = kPage << (in.below(8) == 0 ? in.below(5) : 0);
  const uint64_t size = (1 + in.below(16)) * kPage;
  const uint64_t span = size + (request.guard_page ? kPage : 0);
  if (f.model.used.size() >= kMostRanges) return;  // the nodes were sized for this many
  const std::optional<uint64_t> expected = f.model.first_fit(span, request.alignment);
  const Result<VirtAddr> got = f.allocator.allocate(Size(size), request);
  if (!expected) {
    FUZZ_CHECK(!got && got.error() == Error::kNoVirtualSpace);
    return;
  }
  FUZZ_CHECK(got && got->value == *expected);
  f.model.used[*expected] = Used{span, owner};
}

// Releases `owner`'s ranges in one pass; the caller keeps every `keep_every`-th (0: none).
void release_all(Fixture& f, uint16_t owner, uint32_t keep_every) {
  size_t asked = 0;
  size_t expected = 0;
  auto next = f.model.used.begin();
  const size_t released = f.allocator.release_all_of(GuestId(owner), [&](const VaRange& range) {
    while (next != f.model.used.end() && next->second.owner != owner) ++next;  // in address order
    FUZZ_CHECK(next != f.model.used.end() && next->first == range.start.value && range.owner.value == owner);
    const bool keep = keep_every != 0 && ++asked % keep_every == 0;
    if (keep) {
      ++next;
    } else {
      next = f.model.used.erase(next);
      ++expected;
    }
    return !keep;
  });
  while (next != f.model.used.end() && next->second.owner != owner) ++next;
  FUZZ_CHECK(next == f.model.used.end());  // every range of the owner was asked about
  FUZZ_CHECK(released == expected);
}

void free_all(Fixture& f, uint16_t owner) {
  const size_t expected = std::erase_if(f.model.used, [&](const auto& entry) { return entry.second.owner == owner; });
  FUZZ_CHECK(f.allocator.free_all_of(GuestId(owner)) == expected);
}

void free_one(Fixture& f, fuzz::Reader& in) {
  if (f.model.used.empty()) {
    FUZZ_CHECK(f.allocator.free(VirtAddr(kBase)).error() == Error::kNotFound);
    return;
  }
  auto it = f.model.used.begin();
  std::advance(it, in.below(static_cast<uint32_t>(f.model.used.size() < 65536 ? f.model.used.size() : 65536)));
  FUZZ_CHECK(f.allocator.free(VirtAddr(it->first)).ok());
  f.model.used.erase(it);
}

// Releases a span of `owner`'s ranges as planned by plan_span_of (its first range and those after
// it up to another owner's or the budget). Sometimes one of them is freed between the plan and the
// release, so the span is stale: the release then takes only what is still the owner's, and
// nothing when the span's last range has gone.
void release_span(Fixture& f, fuzz::Reader& in, uint16_t owner) {
  const size_t budget = 1 + in.below(8);
  std::vector<uint64_t> planned;
  auto it = f.model.used.begin();
  while (it != f.model.used.end() && it->second.owner != owner) ++it;
  for (; it != f.model.used.end() && it->second.owner == owner && planned.size() < budget; ++it) {
    planned.push_back(it->first);
  }
  const VaAllocator::OwnerSpan span = f.allocator.plan_span_of(GuestId(owner), budget);
  FUZZ_CHECK(span.ranges == planned.size());
  if (planned.empty()) return;
  FUZZ_CHECK(span.first.value == planned.front());
  FUZZ_CHECK(span.last.value == planned.back() + f.model.used.at(planned.back()).span);
  if (in.below(4) == 0) {  // stale
    const size_t gone = in.below(static_cast<uint32_t>(planned.size()));
    FUZZ_CHECK(f.allocator.free(VirtAddr(planned[gone])).ok());
    f.model.used.erase(planned[gone]);
    if (gone + 1 == planned.size()) {
      planned.clear();  // the last range went: nothing is released
    } else {
      planned.erase(planned.begin() + static_cast<std::ptrdiff_t>(gone));
    }
  }
  size_t visited = 0;
  const size_t released = f.allocator.release_span_of(GuestId(owner), span, [&](const VaRange& range) {
    // From the last back.
    FUZZ_CHECK(visited < planned.size() && range.start.value == planned[planned.size() - 1 - visited]);
    FUZZ_CHECK(range.owner.value == owner);
    ++visited;
  });
  FUZZ_CHECK(released == planned.size() && visited == planned.size());
  for (const uint64_t start : planned) f.model.used.erase(start);
}

}  // namespace
}  // namespace teemm::mm

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace teemm::mm;
  static Fixture f;
  f.model.used.clear();
  FUZZ_CHECK(f.allocator.init(teemm::VirtAddr(kBase), teemm::Size(kWindowPages * kPage), f.nodes.get(),
                              VaAllocator::nodes_needed(kMostRanges)));
  teemm::fuzz::Reader in{data, size};
  for (size_t call = 1; in.size > 0; ++call) {
    const uint32_t op = in.below(16);
    const uint16_t owner = static_cast<uint16_t>(in.below(kOwners));
    if (op < 6) {
      allocate(f, in, owner);
    } else if (op < 9) {  // a burst: enough calls to outgrow the inline array within a few ops
      const uint32_t count = 16 + in.below(240);
      for (uint32_t i = 0; i < count; ++i) allocate(f, in, static_cast<uint16_t>((owner + i) % kOwners));
    } else if (op < 12) {
      free_one(f, in);
    } else if (op < 14) {
      release_all(f, owner, in.below(4));
    } else if (op < 15) {
      free_all(f, owner);
    } else {
      release_span(f, in, owner);
    }
    if (call % 8 == 0) expect_matches(f.allocator, f.model);
  }
  expect_matches(f.allocator, f.model);
  return 0;
}
