// Fuzz target: arbitrary region tables through registry → layout → tables. Whatever the input, a
// refusal names a region and changes nothing, and an accepted map translates exactly as laid out.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "fuzz_input.hpp"

#include "arch/arm64/walker.hpp"
#include "mm/memory_map.hpp"
#include "support/host_pool.hpp"

namespace {

using namespace teemm;

using fuzz::check;
using fuzz::Reader;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Reader in{data, size};
  const unsigned count = in.take<uint8_t>() % 24;
  std::vector<mm::Region> regions;
  for (unsigned i = 0; i < count && in.size > 0; ++i) {
    mm::Region r;
    r.name = "fuzz";
    r.kind = static_cast<mm::RegionKind>(in.take<uint8_t>() % 4);
    r.type = static_cast<mm::MemoryType>(in.take<uint8_t>() % (mm::kMemoryTypeCount + 2));
    // Mostly page-aligned values in a few GiB, sometimes anything at all.
    const uint8_t shape = in.take<uint8_t>();
    r.base = PhysAddr(shape & 1 ? in.take<uint64_t>() : uint64_t{in.take<uint16_t>()} << 16);
    r.size = Size(shape & 2 ? in.take<uint64_t>() : (uint64_t{in.take<uint16_t>()} % 4096 + 1) << 12);
    regions.push_back(r);
  }
  std::vector<mm::Region> storage(regions.size() + 1);
  mm::PhysMemRegistry registry(storage.data(), storage.size());
  for (const mm::Region& r : regions) {
    const size_t before = registry.count();
    const mm::Refusal refusal = registry.add(r);
    check(refusal.ok() ? registry.count() == before + 1 : registry.count() == before && refusal.region != nullptr);
  }
  std::vector<mm::MapEntry> entries(registry.count() + 1);
  mm::MemoryMap map(entries.data(), entries.size());
  mm::LayoutOptions options;
  options.va_bits = 39 + (in.take<uint8_t>() % 2) * 9;
  if (!map.build(registry, options).ok()) {
    check(map.count() == 0);
    return 0;
  }
  testing::HostPool host(256);
  Result<arm64::Stage1Table> table = arm64::Stage1Table::create(host.pool, options.va_bits);
  check(table.ok());
  if (!mm::map_static_regions(map, table.value())) {
    check(host.pool.used() == 1);  // a refused build leaves only the root
    return 0;
  }
  for (const mm::MapEntry& e : map) {
    const arm64::WalkResult first =
        arm64::walk(host.memory(), table->raw().root(), arm64::Stage::kStage1, options.va_bits, e.va.value);
    const arm64::WalkResult last =
        arm64::walk(host.memory(), table->raw().root(), arm64::Stage::kStage1, options.va_bits, e.end_va().value - 1);
    if (e.is_va_reservation()) {
      check(!first.ok() && !last.ok());
    } else {
      check(first.ok() && first.output == e.pa.value);
      check(last.ok() && last.output == e.pa.value + e.size.bytes - 1);
    }
  }
  return 0;
}
