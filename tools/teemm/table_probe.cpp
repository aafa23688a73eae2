// Tables built on the side (see table_probe.hpp).
#include "table_probe.hpp"

#include "arch/arm64/walker.hpp"

namespace teemm::tool {

std::vector<LeafRun> leaf_runs(const arm64::TablePool& pool, const arm64::TranslationTable& table, uint64_t va,
                               uint64_t size) {
  std::vector<LeafRun> runs;
  if (size == 0) return runs;
  const uint64_t end = size - 1 > UINT64_MAX - va ? UINT64_MAX : va + size;
  arm64::for_each_leaf(
      arm64::TableMemory{&pool}, table.root(), table.input_bits(), va, end, [&](const arm64::LeafVisit& leaf) {
        const uint64_t start = leaf.input < va ? va : leaf.input;
        const uint64_t stop = leaf.input + leaf.size > end ? end : leaf.input + leaf.size;
        if (!runs.empty() && runs.back().level == leaf.level && runs.back().va + runs.back().size == start)
          runs.back().size += stop - start;
        else
          runs.push_back(LeafRun{start, stop - start, leaf.level});
      });
  return runs;
}

LeafCounts count_leaves(const std::vector<LeafRun>& runs) {
  LeafCounts counts;
  for (const LeafRun& r : runs) {
    const uint64_t leaf = uint64_t{1} << (12 + 9 * (3 - r.level));
    counts.leaves[r.level] += (r.size + leaf - 1) / leaf;
  }
  return counts;
}

size_t table_pages_bound(const std::vector<mm::MapEntry>& entries) {
  uint64_t pages = 2;
  for (const mm::MapEntry& e : entries) {
    if (e.is_va_reservation()) continue;
    pages += 6 + (e.size.bytes >> 21) + (e.size.bytes >> 30) + (e.size.bytes >> 39);
    if (pages >= 4096) return 4096;
  }
  return static_cast<size_t>(pages);
}

ScratchTables::ScratchTables(unsigned va_bits, unsigned pa_bits, size_t capacity)
    : pages_(new arm64::TablePage[capacity]),
      counts_(new uint16_t[capacity]),
      // Far from any platform's memory: the pool's own PA must be below the output size.
      pool_(std::make_unique<arm64::TablePool>(pages_.get(), counts_.get(), capacity, PhysAddr(0x1000))),
      va_bits_(va_bits),
      pa_bits_(pa_bits) {}

Status ScratchTables::build(const std::vector<mm::MapEntry>& entries) {
  Result<arm64::Stage1Table> table =
      arm64::Stage1Table::create(*pool_, va_bits_, arm64::TranslationRegime::kEl1And0, pa_bits_);
  if (!table) return Status(table.error());
  table_ = table.value();
  for (const mm::MapEntry& e : entries) {
    if (e.is_va_reservation()) continue;
    if (Status s = table_.map(e.va, e.pa, e.size, mm::mapping_attributes(e.type)); !s) return s;
  }
  return Status();
}

}  // namespace teemm::tool
