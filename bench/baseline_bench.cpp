// bench/baseline_bench: the VA allocator beside a tee_mm-style list allocator
// (list_allocator_baseline.hpp), on the same operation sequences in one run, so that
// docs/PERFORMANCE.md can report teemm / baseline per row (issue 11).
//   build/release/bench/teemm_bench --benchmark_filter='AllocFree|FreeAllOf'
#include <benchmark/benchmark.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "list_allocator_baseline.hpp"
#include "mm/va_allocator.hpp"

namespace teemm::mm {
namespace {

constexpr uint64_t kBase = uint64_t{1} << 30;
constexpr uint64_t kPoolSize = uint64_t{1} << 36;  // as issue 11's measurements

struct Rng {
  uint64_t state = 0x9e3779b97f4a7c15;
  uint64_t below(uint64_t bound) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state % bound;
  }
};
uint64_t area_size(Rng& rng) { return (1 + rng.below(64)) * kPageSize; }  // 1-64 pages

// Free a random live area, allocate one of a fresh size: `live` areas throughout.
template <typename Allocate, typename Free>
void steady_state(benchmark::State& state, size_t live, Allocate allocate, Free free) {
  Rng rng;
  std::vector<uint64_t> starts(live);
  for (uint64_t& s : starts) s = allocate(area_size(rng));
  auto replace_one = [&] {
    uint64_t& victim = starts[rng.below(live)];
    benchmark::DoNotOptimize(free(victim));
    victim = allocate(area_size(rng));
  };
  for (size_t i = 0; i < live; ++i) replace_one();
  for (auto _ : state) replace_one();
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

void VaAllocFreeSmall(benchmark::State& state) {
  const size_t live = static_cast<size_t>(state.range(0));
  std::vector<VaAllocator::Node> nodes(VaAllocator::nodes_needed(live));
  VaAllocator allocator;
  if (!allocator.init(VirtAddr(kBase), Size(kPoolSize), nodes.data(), nodes.size())) std::abort();
  AllocationRequest request;
  steady_state(
      state, live, [&](uint64_t size) { return allocator.allocate(Size(size), request).value().value; },
      [&](uint64_t start) { return allocator.free(VirtAddr(start)).ok(); });
}
BENCHMARK(VaAllocFreeSmall)->Arg(10)->Arg(100)->Arg(1000)->Arg(10000);

void ListAllocFree(benchmark::State& state) {
  const size_t live = static_cast<size_t>(state.range(0));
  bench::ListAllocator allocator(kBase, kPoolSize, live + 1);
  steady_state(
      state, live, [&](uint64_t size) { return allocator.allocate(size, 0); },
      [&](uint64_t start) { return allocator.free(start); });
}
BENCHMARK(ListAllocFree)->Arg(10)->Arg(100)->Arg(1000)->Arg(10000);

// One owner's areas (a tenth of `total`, spread through the pool) released at once.
template <typename Setup, typename Release>
void free_all_of(benchmark::State& state, Setup setup, Release release) {
  const size_t total = static_cast<size_t>(state.range(0));
  for (auto _ : state) {
    state.PauseTiming();
    setup(total);
    state.ResumeTiming();
    benchmark::DoNotOptimize(release());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * (total / 10)));
}

void VaFreeAllOf(benchmark::State& state) {
  std::vector<VaAllocator::Node> nodes(VaAllocator::nodes_needed(static_cast<size_t>(state.range(0))));
  VaAllocator allocator;
  free_all_of(
      state,
      [&](size_t total) {
        if (!allocator.init(VirtAddr(kBase), Size(kPoolSize), nodes.data(), nodes.size())) std::abort();
        Rng rng;
        for (size_t i = 0; i < total; ++i) {
          AllocationRequest request;
          request.owner = GuestId(static_cast<uint16_t>(i % 10));
          (void)allocator.allocate(Size(area_size(rng)), request);
        }
      },
      [&] { return allocator.free_all_of(GuestId(0)); });
}
BENCHMARK(VaFreeAllOf)->Arg(1000)->Arg(10000)->Arg(100000)->Unit(benchmark::kMicrosecond)->Iterations(10);

void ListFreeAllOf(benchmark::State& state) {
  std::unique_ptr<bench::ListAllocator> allocator;
  free_all_of(
      state,
      [&](size_t total) {
        allocator = std::make_unique<bench::ListAllocator>(kBase, kPoolSize, total + 1);
        Rng rng;
        for (size_t i = 0; i < total; ++i) (void)allocator->allocate(area_size(rng), static_cast<uint16_t>(i % 10));
      },
      [&] { return allocator->free_all_of(0); });
}
BENCHMARK(ListFreeAllOf)->Arg(1000)->Arg(10000)->Arg(100000)->Unit(benchmark::kMicrosecond)->Iterations(10);

}  // namespace
}  // namespace teemm::mm
