// bench/pa_index_bench: phys_to_virt lookups in the PA index, by the number of live runs.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <numeric>
#include <random>
#include <vector>

#include "mm/pa_index.hpp"
#include "support/huge_pages.hpp"

namespace teemm::mm {
namespace {

constexpr uint64_t kPaBase = 0x8000'0000;
constexpr uint64_t kVaBase = uint64_t{1} << 40;
constexpr uint64_t kRunPages = 4;
constexpr size_t kQueryCount = size_t{1} << 16;
constexpr size_t kSlotsPerPage = 2;

// `runs` runs of 4 pages with a one-page hole between them, inserted in random order and mapped
// at VAs unrelated to their PA order; then random lookups of one page inside a random run. The
// index has a page hash of kSlotsPerPage slots per mapped page.
void PhysToVirt(benchmark::State& state) {
  const size_t runs = static_cast<size_t>(state.range(0));
  auto nodes = testing::make_huge_array<PaIndex::Node>(runs);  // 2 MiB pages, as a TEE maps its pools
  const size_t slot_count = runs * kRunPages * kSlotsPerPage;
  auto slots = testing::make_huge_array<PageSlot>(slot_count);
  PaIndex index;
  if (!index.init(nodes.get(), runs, slots.get(), slot_count).ok()) {
    state.SkipWithError("init failed");
    return;
  }
  std::mt19937_64 rng(42);
  std::vector<uint64_t> order(runs);
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), rng);
  constexpr uint64_t kStride = (kRunPages + 1) * kPageSize;
  for (size_t i = 0; i < runs; ++i) {
    const PhysRun run{PhysAddr(kPaBase + order[i] * kStride), VirtAddr(kVaBase + i * kStride),
                      Size(kRunPages * kPageSize), MemoryType::kNsecShm, GuestId(1)};
    if (!index.insert(run).ok()) {
      state.SkipWithError("insert failed");
      return;
    }
  }
  std::vector<PhysAddr> queries(kQueryCount);
  for (PhysAddr& query : queries) {
    query = PhysAddr(kPaBase + (rng() % runs) * kStride + (rng() % kRunPages) * kPageSize);
  }

  size_t next = 0;
  for (auto _ : state) {
    const Result<VirtAddr> va = index.phys_to_virt(queries[next], Size(kPageSize), MemoryType::kNsecShm);
    benchmark::DoNotOptimize(va);
    next = (next + 1) & (kQueryCount - 1);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  const PaIndexStats stats = index.stats();
  state.counters["hashed"] = static_cast<double>(stats.hashed_pages) / static_cast<double>(runs * kRunPages);
}
BENCHMARK(PhysToVirt)->Arg(1000)->Arg(10000)->Arg(100000)->Arg(1000000);

}  // namespace
}  // namespace teemm::mm
