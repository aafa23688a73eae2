// bench/xlat_dynamic_baseline: the baseline the table side is compared with — dynamic regions over
// VMSAv8-64 tables in the manner of TF-A's xlat_tables_v2 (PLAT_XLAT_TABLES_DYNAMIC), written here
// from the published description of its algorithm, not from its code:
//   - regions live in one array sorted by end VA (then size), ended by a zero-size sentinel; an
//     add checks the new region against every live one, then memmoves the array from its slot to
//     the capacity up by one; a remove finds it by a linear scan, memmoves the rest of the array
//     down and rescans for the top VA if it held it;
//   - tables come from a fixed set of pages; each non-root table counts the regions that use it,
//     found by a linear search of the set (so is an empty table, when one is needed);
//   - map and unmap walk from the root, one entry at a time; unmap writes each covered leaf
//     invalid and issues one TLB invalidation by VA per leaf (and one per emptied table).
// Not used by the core: it exists so that docs/PERFORMANCE.md's ratios come from one run. TLB
// invalidations are only counted here (the host has no TLB), as they are on teemm's side.
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

#include "arch/arm64/descriptor.hpp"
#include "arch/arm64/table_pool.hpp"

namespace teemm::bench {

class XlatDynamicBaseline {
 public:
  struct Region {
    uint64_t base_pa = 0, base_va = 0, size = 0, attr = 0;
    uint64_t end_va() const { return base_va + size - 1; }
  };

  // A 39-bit input space (root at level 1, as teemm's qemu-virt tables), `max_regions` live
  // regions, `table_count` tables besides the root.
  XlatDynamicBaseline(size_t max_regions, size_t table_count)
      : regions_(max_regions + 1), tables_(table_count + 1), counts_(table_count + 1, 0) {}

  // 0, or -1 when refused (misaligned, overlapping, no room, no table left: nothing changes).
  int add(const Region& r) {
    if (((r.base_pa | r.base_va | r.size) & kPageMask) != 0 || r.size == 0) return -1;
    if (regions_[regions_.size() - 2].size != 0 || overlaps(r)) return -1;
    Region* cursor = insertion_point(r);
    std::memmove(cursor + 1, cursor, (capacity_end() - cursor) * sizeof(Region));
    *cursor = r;
    if (map_level(*cursor, 0, root(), kRootLevel) != cursor->end_va()) {
      (void)remove(r.base_va, r.size);
      return -1;
    }
    if (r.end_va() > max_va_) max_va_ = r.end_va();
    return 0;
  }

  int remove(uint64_t base_va, uint64_t size) {
    Region* r = regions_.data();
    while (r->size != 0 && (r->base_va != base_va || r->size != size)) ++r;
    if (r->size == 0) return -1;
    const bool was_top = r->end_va() == max_va_;
    unmap_level(*r, 0, root(), kRootLevel);
    std::memmove(r, r + 1, (capacity_end() - r) * sizeof(Region));
    if (was_top) recompute_max_va();
    return 0;
  }

  uint64_t tlb_invalidations() const { return tlbi_; }

 private:
  static constexpr unsigned kRootLevel = 1;
  using Table = arm64::TablePage;

  uint64_t* root() { return tables_[0].entries; }
  // Past the last slot a region may use: moves go up to here whatever the live count, as the
  // described algorithm's do (the array's capacity, not its live regions, sets their length).
  Region* capacity_end() { return regions_.data() + regions_.size() - 1; }

  bool overlaps(const Region& r) const {
    for (const Region* c = regions_.data(); c->size != 0; ++c) {
      const bool separate_va = r.end_va() < c->base_va || r.base_va > c->end_va();
      const bool separate_pa = r.base_pa + r.size - 1 < c->base_pa || r.base_pa > c->base_pa + c->size - 1;
      if (!separate_va || !separate_pa) return true;
    }
    return false;
  }

  Region* insertion_point(const Region& r) {
    Region* c = regions_.data();
    while (c->size != 0 && c->end_va() < r.end_va()) ++c;
    while (c->size != 0 && c->end_va() == r.end_va() && c->size < r.size) ++c;
    return c;
  }

  void recompute_max_va() {
    max_va_ = 0;
    for (const Region* c = regions_.data(); c->size != 0; ++c)
      if (c->end_va() > max_va_) max_va_ = c->end_va();
  }

  size_t index_of(const uint64_t* table) const {
    for (size_t i = 1; i < tables_.size(); ++i)
      if (tables_[i].entries == table) return i;
    return 0;
  }
  uint64_t* empty_table() {
    for (size_t i = 1; i < tables_.size(); ++i)
      if (counts_[i] == 0) return tables_[i].entries;
    return nullptr;
  }
  // Table descriptors hold the set's index (not a PA: the host pages have none) and the table type.
  uint64_t* child(uint64_t d) { return tables_[d >> 2].entries; }
  static uint64_t table_descriptor(size_t index) { return (uint64_t{index} << 2) | arm64::kDescriptorTable; }
  static bool is_leaf(uint64_t d, unsigned level) {
    return level == arm64::kLastLevel || (d & arm64::kDescriptorTypeMask) == arm64::kDescriptorBlock;
  }

  // Returns the last VA mapped: the region's end on success.
  uint64_t map_level(const Region& r, uint64_t table_va, uint64_t* table, unsigned level) {
    if (level > kRootLevel) ++counts_[index_of(table)];
    const uint64_t block = arm64::level_block_size(level);
    uint64_t va = r.base_va > table_va ? r.base_va & ~(block - 1) : table_va;
    for (unsigned i = arm64::level_index(va, level); i < arm64::kEntriesPerTable; ++i, va += block) {
      uint64_t& d = table[i];
      const bool covered = r.base_va <= va && r.end_va() >= va + block - 1;
      const uint64_t pa = r.base_pa + (va - r.base_va);
      const bool block_fits =
          level == arm64::kLastLevel || (arm64::level_allows_block(level) && (pa & (block - 1)) == 0);
      if (covered && d == 0 && block_fits) {
        d = arm64::make_leaf(r.attr, pa, level);
      } else if (d == 0 || !is_leaf(d, level)) {
        if (d == 0) {
          uint64_t* fresh = empty_table();
          if (fresh == nullptr) return va - 1;
          std::memset(fresh, 0, sizeof(Table));
          d = table_descriptor(index_of(fresh));
        }
        const uint64_t end = map_level(r, va, child(d), level + 1);
        if (end != r.end_va() && end != va + block - 1) return end;
      }
      if (r.end_va() <= va + block - 1) return r.end_va();
    }
    return va - 1;
  }

  void unmap_level(const Region& r, uint64_t table_va, uint64_t* table, unsigned level) {
    const uint64_t block = arm64::level_block_size(level);
    uint64_t va = r.base_va > table_va ? r.base_va & ~(block - 1) : table_va;
    for (unsigned i = arm64::level_index(va, level); i < arm64::kEntriesPerTable; ++i, va += block) {
      uint64_t& d = table[i];
      const bool covered = r.base_va <= va && r.end_va() >= va + block - 1;
      if (covered && d != 0 && is_leaf(d, level)) {
        d = 0;
        ++tlbi_;  // one TLBI by VA per leaf
      } else if (d != 0 && !is_leaf(d, level)) {
        uint64_t* sub = child(d);
        unmap_level(r, va, sub, level + 1);
        if (counts_[index_of(sub)] == 0) {
          d = 0;
          ++tlbi_;  // and one per table unlinked
        }
      }
      if (r.end_va() <= va + block - 1) break;
    }
    if (level > kRootLevel) --counts_[index_of(table)];
  }

  std::vector<Region> regions_;
  std::vector<Table> tables_;  // [0] is the root
  std::vector<uint32_t> counts_;
  uint64_t max_va_ = 0;
  uint64_t tlbi_ = 0;
};

}  // namespace teemm::bench
