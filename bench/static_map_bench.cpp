// Building a static map: registry + layout + translation tables, for the built-in qemu-virt platform
// and for a 1,000-region random map. Storage is allocated outside the timed loop, as a TEE would
// have it in .bss.
#include <benchmark/benchmark.h>

#include <memory>
#include <new>
#include <vector>

#include "arch/arm64/translation_table.hpp"
#include "mm/memory_map.hpp"
#include "platform/builtin/qemu_virt.hpp"
#include "support/random_map.hpp"

namespace {

using namespace teemm;

struct Storage {
  explicit Storage(size_t regions, size_t table_pages)
      : region_storage(regions),
        entries(regions),
        pages(new arm64::TablePage[table_pages]),
        counts(table_pages),
        table_page_count(table_pages) {}
  std::vector<mm::Region> region_storage;
  std::vector<mm::MapEntry> entries;
  std::unique_ptr<arm64::TablePage[]> pages;
  std::vector<uint16_t> counts;
  size_t table_page_count;
};

// One full build; returns the number of table pages used.
uint64_t build_once(Storage& s, const mm::Region* regions, size_t count, unsigned va_bits) {
  mm::PhysMemRegistry registry(s.region_storage.data(), s.region_storage.size());
  if (!registry.add_all(regions, count).ok()) std::abort();
  mm::MemoryMap map(s.entries.data(), s.entries.size());
  mm::LayoutOptions layout;
  layout.va_bits = va_bits;
  if (!map.build(registry, layout).ok()) std::abort();
  arm64::TablePool pool(s.pages.get(), s.counts.data(), s.table_page_count, PhysAddr(0x0e28'0000));
  Result<arm64::Stage1Table> table = arm64::Stage1Table::create(pool, va_bits);
  if (!table || !mm::map_static_regions(map, table.value())) std::abort();
  benchmark::DoNotOptimize(table.value().raw().root());
  return table.value().raw().statistics().table_pages;
}

void BuildQemuVirtMap(benchmark::State& state) {
  namespace q = platform::qemu_virt;
  Storage storage(q::kRegionCount, 64);
  uint64_t pages = 0;
  for (auto _ : state) pages = build_once(storage, q::kRegions, q::kRegionCount, q::kVaBits);
  state.counters["table_pages"] = static_cast<double>(pages);
}
BENCHMARK(BuildQemuVirtMap);

void BuildRandomMap1000(benchmark::State& state) {
  const testing::RandomMap random = testing::make_random_map(42, 1000);
  Storage storage(random.regions.size(), 8192);
  uint64_t pages = 0;
  for (auto _ : state) pages = build_once(storage, random.regions.data(), random.regions.size(), 39);
  state.counters["table_pages"] = static_cast<double>(pages);
}
BENCHMARK(BuildRandomMap1000)->Unit(benchmark::kMicrosecond);

}  // namespace
