// tools/teemm/table_probe: tables built on the side to measure them — how many table pages a set
// of static-map entries needs, and which leaves (1 GiB or 2 MiB blocks, 4 KiB pages) map a range.
// For the lint (alignment costs) and the picture (block/page strips).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "arch/arm64/translation_table.hpp"
#include "base/result.hpp"
#include "mm/memory_map.hpp"

namespace teemm::tool {

// Consecutive leaves of one level over an input range.
struct LeafRun {
  uint64_t va = 0;
  uint64_t size = 0;
  unsigned level = 0;  // 1: 1 GiB blocks, 2: 2 MiB blocks, 3: 4 KiB pages
};

struct LeafCounts {
  uint64_t leaves[4] = {};  // per level
};

std::vector<LeafRun> leaf_runs(const arm64::TablePool& pool, const arm64::TranslationTable& table, uint64_t va,
                               uint64_t size);
LeafCounts count_leaves(const std::vector<LeafRun>& runs);

// Table pages that always suffice for the static map of `entries`: per entry, two partial tables
// at each level below the root plus one level-3 table per 2 MiB, one level-2 table per 1 GiB and
// one level-1 table per 512 GiB;
// at most 4096 (the CLI session's pool).
size_t table_pages_bound(const std::vector<mm::MapEntry>& entries);

// Stage-1 tables for the physical entries of `entries` (reservations skipped), in a pool of their own.
class ScratchTables {
 public:
  ScratchTables(unsigned va_bits, unsigned pa_bits, size_t capacity);
  // Maps every entry; on failure the error of the first entry that failed.
  Status build(const std::vector<mm::MapEntry>& entries);
  uint64_t table_pages() const { return table_.raw().statistics().table_pages; }
  const arm64::TablePool& pool() const { return *pool_; }
  const arm64::TranslationTable& table() const { return table_.raw(); }

 private:
  std::unique_ptr<arm64::TablePage[]> pages_;
  std::unique_ptr<uint16_t[]> counts_;
  std::unique_ptr<arm64::TablePool> pool_;
  arm64::Stage1Table table_;
  unsigned va_bits_;
  unsigned pa_bits_;
};

}  // namespace teemm::tool
