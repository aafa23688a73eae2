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

// Two device windows beside the platform's, one of each security, for tests that ioremap a lot.
inline constexpr uint64_t kTestDeviceNonSecure = 0x2000'0000;
inline constexpr uint64_t kTestDeviceSecure = 0x2100'0000;
inline constexpr uint64_t kTestDeviceSize = 0x10'0000;
inline constexpr mm::Region kTestDevices[] = {
    mm::device_region("test-device-nsec", mm::MemoryType::kIoNsec, kTestDeviceNonSecure, kTestDeviceSize),
    mm::device_region("test-device-sec", mm::MemoryType::kIoSec, kTestDeviceSecure, kTestDeviceSize),
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
    if (!registry.add_all(kTestDevices, 2).ok()) std::abort();
    if (!map.build(registry, {}).ok()) std::abort();
    table = arm64::Stage1Table::create(host.pool, platform::qemu_virt::kVaBits).value();
    if (!mm::map_static_regions(map, table)) std::abort();
    table.raw().set_tlb_maintenance(&tlb);
    if (page_hash) pa_slots.resize(mm::AddressSpace::page_slots_for(map));
    policy.resize(mm::PagePolicy::ranges_needed(registry));
    scratch.resize(mm::AddressSpace::scratch_pages_for(map));
    if (!space.init(table, map, registry, storage())) std::abort();
    static_table_pages = host.pool.used();
  }

  mm::AddressSpaceStorage storage() {
    mm::AddressSpaceStorage s;
    s.shm_nodes = shm_nodes.data();
    s.shm_node_count = shm_nodes.size();
    s.io_nodes = io_nodes.data();
    s.io_node_count = io_nodes.size();
    s.pa_nodes = pa_nodes.data();
    s.pa_node_count = pa_nodes.size();
    s.pa_slots = pa_slots.data();
    s.pa_slot_count = pa_slots.size();
    s.policy_ranges = policy.data();
    s.policy_range_count = policy.size();
    s.page_scratch = scratch.data();
    s.page_scratch_count = scratch.size();
    return s;
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
  std::vector<mm::PolicyRange> policy;
  std::vector<PhysAddr> scratch;
  mm::AddressSpace space;
  size_t static_table_pages = 0;
};

}  // namespace teemm::testing
