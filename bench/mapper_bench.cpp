// Mapping and unmapping pages at run time, with N live ranges already in the same tables
// (1k..1M single-page mappings, 8 KiB apart). Each iteration maps (or unmaps) 1 GiB of 4 KiB pages.
#include <benchmark/benchmark.h>

#include <vector>

#include "arch/arm64/translation_table.hpp"
#include "support/host_pool.hpp"

namespace {

using namespace teemm;

constexpr uint64_t kGiB = uint64_t{1} << 30;
constexpr uint64_t kPagesPerGiB = kGiB / kPageSize;
constexpr uint64_t kLiveBase = uint64_t{64} << 30;  // live ranges live here (VA 64 GiB and up)
constexpr uint64_t kTargetVa = uint64_t{8} << 30;   // the 1 GiB being mapped and unmapped

arm64::MappingAttributes shm_attributes() {
  arm64::MappingAttributes a;
  a.privileged = {true, true, false};
  a.non_secure = true;
  return a;
}

struct Fixture {
  explicit Fixture(uint64_t live_ranges)
      : host(live_ranges / 256 + 1200), table(arm64::Stage1Table::create(host.pool, 39).value()) {
    for (uint64_t i = 0; i < live_ranges; ++i)
      if (!table.map(VirtAddr(kLiveBase + i * 2 * kPageSize), PhysAddr(0x4000'0000 + i * kPageSize), Size(kPageSize),
                     shm_attributes()))
        std::abort();
  }
  testing::HostPool host;
  arm64::Stage1Table table;
};

// Contiguous pages whose PA is not 2 MiB aligned, so every one is a level-3 descriptor.
std::vector<PhysAddr> unaligned_run() {
  std::vector<PhysAddr> pages(kPagesPerGiB);
  for (uint64_t i = 0; i < kPagesPerGiB; ++i) pages[i] = PhysAddr(0x1'0000'1000 + i * kPageSize);
  return pages;
}

void MapPages(benchmark::State& state) {
  Fixture f(static_cast<uint64_t>(state.range(0)));
  const std::vector<PhysAddr> pages = unaligned_run();
  for (auto _ : state) {
    if (!f.table.map_pages(VirtAddr(kTargetVa), pages.data(), PageCount(kPagesPerGiB), shm_attributes())) std::abort();
    state.PauseTiming();
    if (!f.table.unmap(VirtAddr(kTargetVa), Size(kGiB))) std::abort();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kPagesPerGiB));
  state.counters["level3_tables"] = 512;
}
BENCHMARK(MapPages)->Arg(1000)->Arg(10000)->Arg(100000)->Arg(1000000)->Unit(benchmark::kMicrosecond);

void UnmapPages(benchmark::State& state) {
  Fixture f(static_cast<uint64_t>(state.range(0)));
  const std::vector<PhysAddr> pages = unaligned_run();
  for (auto _ : state) {
    state.PauseTiming();
    if (!f.table.map_pages(VirtAddr(kTargetVa), pages.data(), PageCount(kPagesPerGiB), shm_attributes())) std::abort();
    state.ResumeTiming();
    if (!f.table.unmap(VirtAddr(kTargetVa), Size(kGiB))) std::abort();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kPagesPerGiB));
}
BENCHMARK(UnmapPages)->Arg(1000)->Arg(10000)->Arg(100000)->Arg(1000000)->Unit(benchmark::kMicrosecond);

// The same 1 GiB with a 2 MiB-aligned PA: 512 level-2 blocks instead of 262,144 pages.
void MapPagesAligned(benchmark::State& state) {
  Fixture f(static_cast<uint64_t>(state.range(0)));
  std::vector<PhysAddr> pages(kPagesPerGiB);
  for (uint64_t i = 0; i < kPagesPerGiB; ++i) pages[i] = PhysAddr(0x1'0000'0000 + i * kPageSize);
  for (auto _ : state) {
    if (!f.table.map_pages(VirtAddr(kTargetVa + (2u << 20)), pages.data(), PageCount(kPagesPerGiB), shm_attributes()))
      std::abort();
    state.PauseTiming();
    if (f.table.raw().statistics().leaves[2] != 512) std::abort();  // blocks were used
    if (!f.table.unmap(VirtAddr(kTargetVa + (2u << 20)), Size(kGiB))) std::abort();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kPagesPerGiB));
}
BENCHMARK(MapPagesAligned)->Arg(1000)->Arg(1000000)->Unit(benchmark::kMicrosecond);

}  // namespace

namespace {

// The contiguous-range API on the same 1 GiB, 2 MiB aligned: 512 block descriptors, no page list.
void MapRangeAligned(benchmark::State& state) {
  Fixture f(static_cast<uint64_t>(state.range(0)));
  for (auto _ : state) {
    // 2 MiB past a 1 GiB boundary, so the range is 512 level-2 blocks rather than one level-1 block.
    if (!f.table.map(VirtAddr(kTargetVa + (2u << 20)), PhysAddr(0x1'0020'0000), Size(kGiB), shm_attributes()))
      std::abort();
    state.PauseTiming();
    if (f.table.raw().statistics().leaves[2] != 512) std::abort();
    if (!f.table.unmap(VirtAddr(kTargetVa + (2u << 20)), Size(kGiB))) std::abort();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kPagesPerGiB));
}
BENCHMARK(MapRangeAligned)->Arg(1000)->Arg(1000000)->Unit(benchmark::kMicrosecond);

}  // namespace
