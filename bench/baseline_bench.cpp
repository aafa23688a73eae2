// bench/baseline_bench: the VA allocator beside a tee_mm-style list allocator
// (list_allocator_baseline.hpp), on the same operation sequences in one run, so that
// docs/PERFORMANCE.md can report teemm / baseline per row (issue 11).
//   build/release/bench/teemm_bench --benchmark_filter='AllocFree|FreeAllOf|FreeInRandomOrder'
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include "gap_array_reference.hpp"
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

// Free a random live area, allocate one of a fresh size: `live` areas throughout. The warm-up
// replaces up to 10,000 areas (the list's O(n) steps would make 100,000 of them take minutes).
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
  for (size_t i = 0; i < std::min<size_t>(live, 10000); ++i) replace_one();
  for (auto _ : state) replace_one();
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

// The VA allocator over the pool, for `areas` live areas, with the list's calls.
struct BenchAllocator {
  explicit BenchAllocator(size_t areas) : nodes(VaAllocator::nodes_needed(areas)) {
    if (!allocator.init(VirtAddr(kBase), Size(kPoolSize), nodes.data(), nodes.size())) std::abort();
  }
  uint64_t allocate(uint64_t size) { return allocator.allocate(Size(size), AllocationRequest{}).value().value; }
  bool free(uint64_t start) { return allocator.free(VirtAddr(start)).ok(); }

  std::vector<VaAllocator::Node> nodes;
  VaAllocator allocator;
};

void VaAllocFreeSmall(benchmark::State& state) {
  const size_t live = static_cast<size_t>(state.range(0));
  BenchAllocator va(live);
  steady_state(
      state, live, [&](uint64_t size) { return va.allocate(size); }, [&](uint64_t start) { return va.free(start); });
}
BENCHMARK(VaAllocFreeSmall)->Arg(10)->Arg(100)->Arg(1000)->Arg(10000)->Arg(100000);

void ListAllocFree(benchmark::State& state) {
  const size_t live = static_cast<size_t>(state.range(0));
  bench::ListAllocator allocator(kBase, kPoolSize, live + 1);
  steady_state(
      state, live, [&](uint64_t size) { return allocator.allocate(size, 0); },
      [&](uint64_t start) { return allocator.free(start); });
}
BENCHMARK(ListAllocFree)->Arg(10)->Arg(100)->Arg(1000)->Arg(10000)->Arg(100000);

// The floor at a few live areas (gap_array_reference.hpp): the same sequence, nothing checked.
void GapArrayAllocFree(benchmark::State& state) {
  bench::GapArrayReference reference(kBase, kPoolSize);
  steady_state(
      state, static_cast<size_t>(state.range(0)), [&](uint64_t size) { return reference.allocate(size); },
      [&](uint64_t start) { return reference.free(start); });
}
BENCHMARK(GapArrayAllocFree)->Arg(10);

// The sequence's own cost (drawing the victim and the size), with nothing allocated.
void HarnessOnlyAllocFree(benchmark::State& state) {
  uint64_t next = kBase;
  steady_state(
      state, static_cast<size_t>(state.range(0)), [&](uint64_t size) { return next += size; },
      [&](uint64_t start) { return start != 0; });
}
BENCHMARK(HarnessOnlyAllocFree)->Arg(10);

// Wall time of `work` alone, for the benchmarks whose set-up must stay out of the figure: at a
// microsecond, Pause/ResumeTiming would cost as much as what they bracket.
template <typename Work>
void time_manually(benchmark::State& state, Work work) {
  const auto start = std::chrono::steady_clock::now();
  work();
  state.SetIterationTime(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
}

// `total` areas allocated in turn, then all freed in a random order.
template <typename Allocate, typename Free>
void free_in_random_order(benchmark::State& state, Allocate allocate, Free free) {
  const size_t total = static_cast<size_t>(state.range(0));
  std::vector<uint64_t> starts(total);
  Rng rng;
  for (auto _ : state) {
    for (uint64_t& s : starts) s = allocate(area_size(rng));
    for (size_t i = total; i > 1; --i) std::swap(starts[i - 1], starts[rng.below(i)]);
    time_manually(state, [&] {
      for (const uint64_t s : starts) {
        if (!free(s)) std::abort();  // the next round's allocations count on an empty pool
      }
    });
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * total));
}

void VaFreeInRandomOrder(benchmark::State& state) {
  BenchAllocator va(static_cast<size_t>(state.range(0)));
  free_in_random_order(
      state, [&](uint64_t size) { return va.allocate(size); }, [&](uint64_t start) { return va.free(start); });
}
BENCHMARK(VaFreeInRandomOrder)->Arg(100)->Arg(1000)->UseManualTime()->Unit(benchmark::kMicrosecond);

void ListFreeInRandomOrder(benchmark::State& state) {
  const size_t total = static_cast<size_t>(state.range(0));
  bench::ListAllocator allocator(kBase, kPoolSize, total);
  free_in_random_order(
      state, [&](uint64_t size) { return allocator.allocate(size, 0); },
      [&](uint64_t start) { return allocator.free(start); });
}
BENCHMARK(ListFreeInRandomOrder)->Arg(100)->Arg(1000)->UseManualTime()->Unit(benchmark::kMicrosecond);

// One owner's areas (a tenth of `total`, spread through the pool) released at once.
template <typename Setup, typename Release>
void free_all_of(benchmark::State& state, Setup setup, Release release) {
  const size_t total = static_cast<size_t>(state.range(0));
  for (auto _ : state) {
    setup(total);
    time_manually(state, [&] { benchmark::DoNotOptimize(release()); });
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

// 100 areas a thousand times (a fraction of a microsecond each), the larger counts ten times (the
// list builds its areas by first fit, O(n^2)).
void register_free_all_of(const char* name, void (*run)(benchmark::State&)) {
  benchmark::RegisterBenchmark(name, run)->Arg(100)->Iterations(1000)->UseManualTime()->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark(name, run)->Arg(1000)->Arg(10000)->Arg(100000)->Iterations(10)->UseManualTime()->Unit(
      benchmark::kMicrosecond);
}
const bool kFreeAllOfRegistered =
    (register_free_all_of("VaFreeAllOf", VaFreeAllOf), register_free_all_of("ListFreeAllOf", ListFreeAllOf), true);

}  // namespace
}  // namespace teemm::mm
