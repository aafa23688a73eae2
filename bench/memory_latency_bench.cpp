// bench/memory_latency_bench: the machine's floor for the data-structure benchmarks. Not a teemm
// hot path: it measures what one dependent random load costs by working-set size, so that
// figures like VaAllocFree at 1M live ranges can be read against what the memory system allows.
//
//   RandomLoadLatency/<MiB>   a pointer chase through one cache line in every 64 bytes of a
//                             working set on 2 MiB pages (cache capacity plus TLB misses)
//   TlbReachLatency/<pages>   a pointer chase through one cache line in each of <pages> 4 KiB
//                             pages: the lines themselves fit in L2, so a jump in the time marks
//                             where the TLB stops covering the pages, whatever the guest's page size
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <random>
#include <vector>

#include "support/huge_pages.hpp"

namespace teemm {
namespace {

struct alignas(64) Line {
  const Line* next = nullptr;
};

// Links the lines at `slots` (indices into `lines`) into one random cycle and chases it.
void chase(benchmark::State& state, Line* lines, std::vector<size_t>& slots) {
  std::shuffle(slots.begin(), slots.end(), std::mt19937_64(1));
  for (size_t i = 0; i < slots.size(); ++i) lines[slots[i]].next = &lines[slots[(i + 1) % slots.size()]];
  const Line* at = &lines[slots[0]];
  for (size_t i = 0; i < slots.size(); ++i) at = at->next;  // warm up: caches and TLB as steady
  constexpr int kStepsPerIteration = 256;
  for (auto _ : state) {
    for (int i = 0; i < kStepsPerIteration; ++i) at = at->next;
    benchmark::DoNotOptimize(at);
  }
  state.SetItemsProcessed(state.iterations() * kStepsPerIteration);
  state.counters["ns_per_load"] = benchmark::Counter(static_cast<double>(state.iterations() * kStepsPerIteration),
                                                     benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void RandomLoadLatency(benchmark::State& state) {
  const size_t line_count = (static_cast<size_t>(state.range(0)) << 20) / sizeof(Line);
  auto lines = testing::make_huge_array<Line>(line_count);
  std::vector<size_t> slots(line_count);
  std::iota(slots.begin(), slots.end(), size_t{0});
  chase(state, lines.get(), slots);
}
BENCHMARK(RandomLoadLatency)->Arg(1)->Arg(4)->Arg(8)->Arg(16)->Arg(32)->Arg(64)->Arg(128);

void TlbReachLatency(benchmark::State& state) {
  constexpr size_t kLinesPerPage = 4096 / sizeof(Line);
  const size_t pages = static_cast<size_t>(state.range(0));
  auto lines = testing::make_huge_array<Line>(pages * kLinesPerPage);
  std::vector<size_t> slots(pages);
  // One line per page, at a varying offset so the lines spread over the cache's sets.
  for (size_t page = 0; page < pages; ++page) slots[page] = page * kLinesPerPage + page % kLinesPerPage;
  chase(state, lines.get(), slots);
}
BENCHMARK(TlbReachLatency)->Arg(1024)->Arg(2048)->Arg(4096)->Arg(8192)->Arg(16384);

}  // namespace
}  // namespace teemm
