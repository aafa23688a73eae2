// bench/va_allocator_bench: steady-state cost of one free plus one allocation in the VA allocator,
// by the number of live ranges.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "mm/va_allocator.hpp"
#include "support/huge_pages.hpp"

namespace teemm::mm {
namespace {

constexpr uint64_t kWindowBase = uint64_t{1} << 40;
constexpr uint64_t kWindowSize = uint64_t{1} << 40;  // 1 TiB: never the limiting factor

// A small fast generator so the random choices cost little next to what is measured.
struct XorShift {
  uint64_t state;
  uint64_t next() {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  }
  uint64_t below(uint64_t bound) { return next() % bound; }
};

Size random_size(XorShift& rng) { return Size((1 + rng.below(16)) * kPageSize); }

// Frees a random live range and allocates one of the same kind with a fresh random size (1 to
// 16 pages), so the number of live ranges stays `live` while the address space fragments.
void VaAllocFree(benchmark::State& state) {
  const size_t live = static_cast<size_t>(state.range(0));
  const size_t node_count = VaAllocator::nodes_needed(live);
  // The pool on 2 MiB pages, as a TEE maps its pools (see support/huge_pages.hpp).
  auto nodes = testing::make_huge_array<VaAllocator::Node>(node_count);
  VaAllocator allocator;
  if (!allocator.init(VirtAddr(kWindowBase), Size(kWindowSize), nodes.get(), node_count).ok()) {
    state.SkipWithError("init failed");
    return;
  }
  AllocationRequest request;
  request.kind = VaRangeKind::kSharedMemory;
  XorShift rng{0x9e3779b97f4a7c15};
  // The benchmark's own record of live starts sits on 2 MiB pages too, so that picking a victim
  // costs a cache miss at most, not a page walk as well.
  auto starts = testing::make_huge_array<VirtAddr>(live);
  for (size_t i = 0; i < live; ++i) starts[i] = allocator.allocate(random_size(rng), request).value();

  // The next victim is drawn one step ahead and its slot in `starts` prefetched: the harness's
  // own random read of a live-range-sized array is not the allocator's cost. The allocator gets
  // no hint.
  size_t next_victim = rng.below(live);
  auto replace_one = [&] {
    VirtAddr& victim = starts[next_victim];
    next_victim = rng.below(live);
    __builtin_prefetch(&starts[next_victim]);
    const Status freed = allocator.free(victim);
    const Result<VirtAddr> fresh = allocator.allocate(random_size(rng), request);
    benchmark::DoNotOptimize(freed);
    victim = fresh.value();
  };
  for (size_t i = 0; i < live; ++i) replace_one();  // reach the fragmented steady state first

  for (auto _ : state) replace_one();
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.counters["free_ranges"] = static_cast<double>(allocator.stats().free_ranges);
  if (!allocator.audit()) state.SkipWithError("audit failed");
}
BENCHMARK(VaAllocFree)->Arg(1000)->Arg(10000)->Arg(100000)->Arg(1000000);

}  // namespace
}  // namespace teemm::mm
