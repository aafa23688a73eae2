// bench/table_side_bench: the table side of issue 11, each with its baseline in the same run
// (xlat_dynamic_baseline.hpp, dynamic regions in the manner of TF-A's xlat_tables_v2):
//   - ShmMapUnmap/100: AddressSpace::map_shared of 16 non-contiguous pages + unmap_shared, with 100
//     other live SHM mappings; XlatMapUnmap/100: add + remove of one 16-page dynamic region among
//     100 live ones (a region is one contiguous range: the baseline's easier job), and
//     XlatMapUnmapScattered/100 the same job as teemm's, 16 one-page regions;
//   - UnmapBlocks: unmap of 1 GiB mapped with 2 MiB blocks (/0: one whole level-2 table, 1 GiB
//     aligned; /1: 2 MiB past that, so two partly covered tables), 16 such per timed batch, the
//     re-map of the batch untimed; `per_unmap` is the time of one. XlatUnmapBlocks: the baseline's
//     remove of the same regions (their re-add untimed).
// TLB invalidations are counted on both sides the same way: teemm's hook counts the by-VA
// operations arm64::AArch64TlbMaintenance would issue for a call (one per stride, or one
// invalidate-all above 64), the baseline one per leaf or table it invalidates.
//   build/release/bench/teemm_bench --benchmark_filter='ShmMapUnmap|XlatMapUnmap|UnmapBlocks'
#include <benchmark/benchmark.h>

#include <vector>

#include "support/address_space_fixture.hpp"
#include "support/host_pool.hpp"
#include "xlat_dynamic_baseline.hpp"

namespace teemm {
namespace {

constexpr uint64_t kBufferPages = 16;
constexpr uint64_t kTlbByVaLimit = 64;  // arm64::AArch64TlbMaintenance::kDefaultMaxByVa

// Counts TLB operations as the AArch64 hook would issue them, without storing anything.
struct TlbOperationCounter final : arm64::TlbMaintenance {
  void invalidate(arm64::Stage, uint64_t, uint64_t size, uint64_t stride, bool) override {
    const uint64_t by_va = size / stride;
    operations += by_va > kTlbByVaLimit ? 1 : by_va;
  }
  uint64_t operations = 0;
};

// 16 pages, every other page of DRAM from `first` (16 physically separate runs).
std::vector<PhysAddr> scattered_pages(uint64_t first) {
  std::vector<PhysAddr> pages(kBufferPages);
  for (uint64_t i = 0; i < kBufferPages; ++i) pages[i] = PhysAddr(first + 2 * i * kPageSize);
  return pages;
}

void shm_map_unmap(benchmark::State& state, mm::AddressSpace::Indexing indexing) {
  const uint64_t live = static_cast<uint64_t>(state.range(0));
  testing::AddressSpaceFixture f;
  TlbOperationCounter tlb;
  f.table.raw().set_tlb_maintenance(&tlb);
  for (uint64_t i = 0; i < live; ++i) {
    const std::vector<PhysAddr> pages = scattered_pages(0x4400'0000 + i * 2 * kBufferPages * kPageSize);
    if (!f.space.map_shared(GuestId(1), pages.data(), PageCount(kBufferPages), i, indexing)) std::abort();
  }
  const std::vector<PhysAddr> pages = scattered_pages(0x4800'0000);
  for (auto _ : state) {
    const Result<VirtAddr> va = f.space.map_shared(GuestId(2), pages.data(), PageCount(kBufferPages), 7, indexing);
    if (!va || !f.space.unmap_shared(GuestId(2), *va)) std::abort();
  }
  state.counters["tlbi_per_op"] = static_cast<double>(tlb.operations) / static_cast<double>(state.iterations());
}
// As REGISTER_SHM maps: found by cookie, not put in the PA index.
void ShmMapUnmap(benchmark::State& state) { shm_map_unmap(state, mm::AddressSpace::Indexing::kNotIndexed); }
BENCHMARK(ShmMapUnmap)->Arg(100);
// The default map_shared: each of the 16 physical runs also goes into the PA index.
void ShmMapUnmapIndexed(benchmark::State& state) { shm_map_unmap(state, mm::AddressSpace::Indexing::kIndexed); }
BENCHMARK(ShmMapUnmapIndexed)->Arg(100);

// The baseline's live regions: `live` regions of 16 pages with a page between, the one under test
// in the middle of them (so that inserting it moves half the array).
constexpr uint64_t kXlatWindow = uint64_t{1} << 32;
uint64_t xlat_region_va(uint64_t i) { return kXlatWindow + i * (kBufferPages + 1) * kPageSize; }

using XlatRegion = bench::XlatDynamicBaseline::Region;

// `live` live regions of 16 contiguous pages, slot live / 2 left empty for the one under test.
void add_live_regions(bench::XlatDynamicBaseline& xlat, uint64_t live, uint64_t attr) {
  for (uint64_t i = 0; i <= live; ++i) {
    const XlatRegion r{0x4400'0000 + i * 2 * kBufferPages * kPageSize, xlat_region_va(i), kBufferPages * kPageSize,
                       attr};
    if (i != live / 2 && xlat.add(r) != 0) std::abort();
  }
}

// Adds and removes `regions` per iteration; the TLB count is per iteration.
void xlat_map_unmap(benchmark::State& state, const std::vector<XlatRegion>& regions) {
  const uint64_t live = static_cast<uint64_t>(state.range(0));
  bench::XlatDynamicBaseline xlat(live + regions.size(), 16);
  add_live_regions(xlat, live, regions[0].attr);
  const uint64_t tlbi_before = xlat.tlb_invalidations();
  for (auto _ : state) {
    for (const XlatRegion& r : regions)
      if (xlat.add(r) != 0) std::abort();
    for (const XlatRegion& r : regions)
      if (xlat.remove(r.base_va, r.size) != 0) std::abort();
  }
  state.counters["tlbi_per_op"] =
      static_cast<double>(xlat.tlb_invalidations() - tlbi_before) / static_cast<double>(state.iterations());
}

uint64_t shm_bits() { return arm64::encode_leaf_attributes(arm64::Stage::kStage1, mm::shared_memory_attributes()); }

// The baseline's best case: the 16 pages physically contiguous, one region.
void XlatMapUnmap(benchmark::State& state) {
  const uint64_t slot = static_cast<uint64_t>(state.range(0)) / 2;
  xlat_map_unmap(state, {XlatRegion{0x4800'0000, xlat_region_va(slot), kBufferPages * kPageSize, shm_bits()}});
}
BENCHMARK(XlatMapUnmap)->Arg(100);

// ShmMapUnmap's own job: 16 separate pages, which the baseline can only map as 16 regions.
void XlatMapUnmapScattered(benchmark::State& state) {
  const uint64_t slot = static_cast<uint64_t>(state.range(0)) / 2;
  std::vector<XlatRegion> regions;
  for (const PhysAddr& page : scattered_pages(0x4800'0000))
    regions.push_back(XlatRegion{page.value, xlat_region_va(slot) + regions.size() * kPageSize, kPageSize, shm_bits()});
  xlat_map_unmap(state, regions);
}
BENCHMARK(XlatMapUnmapScattered)->Arg(100);

constexpr uint64_t kGiB = uint64_t{1} << 30;
constexpr uint64_t kBlockVa = uint64_t{8} << 30;
constexpr uint64_t kBlockPa = 0x1'0020'0000;  // 2 MiB aligned, not 1 GiB aligned: level-2 blocks
// Unmaps per timed batch: the untimed re-map (PauseTiming costs about a microsecond) is paid once
// per batch; the time reported is per unmap (`per_unmap`).
constexpr uint64_t kBatch = 16;

arm64::MappingAttributes block_attributes() {
  arm64::MappingAttributes a = mm::shared_memory_attributes();
  a.non_secure = false;
  return a;
}

// The i-th GiB of the batch: 1 GiB aligned (/0) or 2 MiB past (/1); PAs 1 GiB apart.
uint64_t block_va(const benchmark::State& state, uint64_t i) {
  return kBlockVa + 2 * i * kGiB + (state.range(0) != 0 ? (2u << 20) : 0);
}
uint64_t block_pa(uint64_t i) { return kBlockPa + i * kGiB; }

void report_batches(benchmark::State& state, uint64_t tlb_operations) {
  const double unmaps = static_cast<double>(state.iterations() * kBatch);
  state.counters["per_unmap"] = benchmark::Counter(unmaps, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.counters["tlbi_per_op"] = static_cast<double>(tlb_operations) / unmaps;
  state.SetLabel(state.range(0) != 0 ? "two partial level-2 tables" : "one whole level-2 table");
}

void UnmapBlocks(benchmark::State& state) {
  testing::HostPool host(4 * kBatch);
  arm64::Stage1Table table = arm64::Stage1Table::create(host.pool, 39).value();
  TlbOperationCounter tlb;
  table.raw().set_tlb_maintenance(&tlb);
  for (auto _ : state) {
    state.PauseTiming();
    for (uint64_t i = 0; i < kBatch; ++i)
      if (!table.map(VirtAddr(block_va(state, i)), PhysAddr(block_pa(i)), Size(kGiB), block_attributes())) std::abort();
    if (table.raw().statistics().leaves[2] != 512 * kBatch) std::abort();  // blocks, not pages
    state.ResumeTiming();
    for (uint64_t i = 0; i < kBatch; ++i)
      if (!table.unmap(VirtAddr(block_va(state, i)), Size(kGiB))) std::abort();
  }
  report_batches(state, tlb.operations);
}
BENCHMARK(UnmapBlocks)->Arg(0)->Arg(1);

void XlatUnmapBlocks(benchmark::State& state) {
  bench::XlatDynamicBaseline xlat(kBatch, 4 * kBatch);
  const uint64_t attr = arm64::encode_leaf_attributes(arm64::Stage::kStage1, block_attributes());
  auto region = [&](uint64_t i) {
    return bench::XlatDynamicBaseline::Region{block_pa(i), block_va(state, i), kGiB, attr};
  };
  for (auto _ : state) {
    state.PauseTiming();
    for (uint64_t i = 0; i < kBatch; ++i)
      if (xlat.add(region(i)) != 0) std::abort();
    state.ResumeTiming();
    for (uint64_t i = 0; i < kBatch; ++i)
      if (xlat.remove(block_va(state, i), kGiB) != 0) std::abort();
  }
  report_batches(state, xlat.tlb_invalidations());
}
BENCHMARK(XlatUnmapBlocks)->Arg(0)->Arg(1);

}  // namespace
}  // namespace teemm
