// tests/support/host_pool: a heap-backed table-page pool at a chosen simulated physical address.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "arch/arm64/table_pool.hpp"
#include "arch/arm64/walker.hpp"

namespace teemm::testing {

struct HostPool {
  explicit HostPool(size_t page_count, uint64_t base_pa = 0x8000'0000)
      : pages(new arm64::TablePage[page_count]),
        counts(page_count),
        pool(pages.get(), counts.data(), page_count, PhysAddr(base_pa)) {}
  std::unique_ptr<arm64::TablePage[]> pages;
  std::vector<uint16_t> counts;
  arm64::TablePool pool;

  arm64::TableMemory memory() const { return arm64::TableMemory{&pool}; }
};

}  // namespace teemm::testing
