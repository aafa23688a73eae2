// tools/teemm/session: everything one run of the CLI builds — registry, memory map, tables — with
// host-allocated storage sized for the platform. Shared by the CLI, tests and benchmarks.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "arch/arm64/translation_table.hpp"
#include "arch/arm64/walker.hpp"
#include "mm/address_space.hpp"
#include "mm/memory_map.hpp"
#include "mm/phys_mem_registry.hpp"

namespace teemm::tool {

// Dynamic mappings to make after the static map, so that `teemm map` and `translate` can show
// a live address space.
struct SharedMemoryRequest {
  uint64_t pa = 0;     // first page
  uint64_t pages = 0;  // contiguous pages
};
struct IoRequest {
  uint64_t pa = 0;
  uint64_t size = 0;
  bool secure = false;
};

struct SessionOptions {
  mm::LayoutOptions layout;
  unsigned pa_bits = 40;         // the output size the tables are built for (TCR.PS / IPS)
  size_t table_pages = 4096;     // pool capacity
  size_t dynamic_ranges = 4096;  // VA-allocator and PA-index capacity per reservation
  std::vector<SharedMemoryRequest> shared_memory;
  std::vector<IoRequest> io;
};

class Session {
 public:
  // Registers `regions`, lays out the map and builds the tables. On failure, `error()` says why
  // in one line and the session holds no tables.
  Session(const std::string& platform_name, const std::vector<mm::Region>& regions, const SessionOptions& options);

  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  const std::string& platform_name() const { return platform_name_; }
  const mm::PhysMemRegistry& registry() const { return registry_; }
  const mm::MemoryMap& map() const { return map_; }
  const arm64::Stage1Table& table() const { return table_; }
  const arm64::TablePool& pool() const { return *pool_; }
  arm64::WalkResult translate(uint64_t va) const;
  const mm::AddressSpace& space() const { return space_; }
  mm::AddressSpace& space() { return space_; }

 private:
  std::string platform_name_;
  std::string error_;
  std::vector<mm::Region> region_storage_;
  std::vector<mm::MapEntry> entry_storage_;
  mm::PhysMemRegistry registry_;
  mm::MemoryMap map_;
  std::unique_ptr<arm64::TablePage[]> pages_;
  std::unique_ptr<uint16_t[]> live_counts_;
  std::unique_ptr<arm64::TablePool> pool_;
  arm64::Stage1Table table_;
  std::vector<mm::VaAllocator::Node> shm_nodes_;
  std::vector<mm::VaAllocator::Node> io_nodes_;
  std::vector<mm::PaIndex::Node> pa_nodes_;
  std::vector<mm::PageSlot> pa_slots_;
  std::vector<mm::PolicyRange> policy_;
  std::vector<PhysAddr> page_scratch_;
  mm::AddressSpace space_;

  bool start_address_space(const SessionOptions& options);
  // Whether the layout would stand without its VA offset (so a refusal is the offset's doing).
  bool refused_for_offset(const mm::LayoutOptions& layout) const;
};

std::string hex_address(uint64_t value);

// "tee-code (TEE_RAM_RX) overlaps uart0 (IO_NSEC)"-style text for a refusal.
std::string describe_refusal(const mm::Refusal& refusal);

}  // namespace teemm::tool
