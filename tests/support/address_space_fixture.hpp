// tests/support/address_space_fixture: the qemu-virt static map plus a live AddressSpace over it,
// with host storage, for the dynamic-mapping tests.
#pragma once

#include <vector>

#include "arch/arm64/translation_table.hpp"
#include "mm/address_space.hpp"
#include "mm/memory_map.hpp"
#include "platform/builtin/qemu_virt.hpp"
#include "support/host_pool.hpp"

namespace teemm::testing {

struct CountingTlb final : arm64::TlbMaintenance {
  struct Call {
    uint64_t input, size;
  };
  void invalidate(arm64::Stage, uint64_t input, uint64_t size, uint64_t, bool) override {
    calls.push_back({input, size});
  }
  std::vector<Call> calls;
};

struct AddressSpaceFixture {
  // With `page_hash`, the PA index gets AddressSpace::page_slots_for(map) slots.
  explicit AddressSpaceFixture(size_t table_pages = 512, size_t va_node_count = 4096, size_t pa_node_count = 4096,
                               bool page_hash = true)
      : host(table_pages, platform::qemu_virt::kTeeRamRwBase),
        regions(32),
        entries(32),
        registry(regions.data(), regions.size()),
        map(entries.data(), entries.size()),
        shm_nodes(va_node_count),
        io_nodes(va_node_count),
        pa_nodes(pa_node_count) {
    if (!registry.add_all(platform::qemu_virt::kRegions, platform::qemu_virt::kRegionCount).ok()) std::abort();
    if (!map.build(registry, {}).ok()) std::abort();
    table = arm64::Stage1Table::create(host.pool, platform::qemu_virt::kVaBits).value();
    if (!mm::map_static_regions(map, table)) std::abort();
    table.raw().set_tlb_maintenance(&tlb);
    if (page_hash) pa_slots.resize(mm::AddressSpace::page_slots_for(map));
    const mm::AddressSpaceStorage storage{this->shm_nodes.data(), this->shm_nodes.size(), this->io_nodes.data(),
                                          this->io_nodes.size(),  this->pa_nodes.data(),  this->pa_nodes.size(),
                                          this->pa_slots.data(),  this->pa_slots.size()};
    if (!space.init(table, map, storage)) std::abort();
    static_table_pages = host.pool.used();
  }

  HostPool host;
  std::vector<mm::Region> regions;
  std::vector<mm::MapEntry> entries;
  mm::PhysMemRegistry registry;
  mm::MemoryMap map;
  arm64::Stage1Table table;
  CountingTlb tlb;
  std::vector<mm::VaAllocator::Node> shm_nodes;
  std::vector<mm::VaAllocator::Node> io_nodes;
  std::vector<mm::PaIndex::Node> pa_nodes;
  std::vector<mm::PageSlot> pa_slots;
  mm::AddressSpace space;
  size_t static_table_pages = 0;
};

}  // namespace teemm::testing
