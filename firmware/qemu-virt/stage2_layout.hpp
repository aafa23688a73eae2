// firmware/qemu-virt/stage2_layout: the guest of the stage-2 part. A guest IPA space unlike the PA
// space (offsets, holes, a read-only part, device and non-cacheable parts, a region above 4 GiB that
// needs a level-0 entry, a scattered page list), and a stage-1 EL1 table of that guest mapping VAs
// onto it (including VAs that lead into stage-2 holes and read-only parts). Both tables are built by
// the library from non-secure memory, where the non-secure EL2 agent's walks can reach them; the
// stage-1 table's own pages are reachable through stage 2 (an identity, read-only region).
//
// Each layout is also the "expectation" side of the check: what an address should translate to.
#pragma once

#include <cstdint>

#include "arch/arm64/descriptor.hpp"
#include "arch/arm64/table_pool.hpp"
#include "arch/arm64/translation_table.hpp"

namespace teemm::fw::conf {

inline constexpr unsigned kIpaBits = 40;  // VTCR_EL2.T0SZ = 24, walks start at level 0
// VTCR_EL2.PS. The walk of a 40-bit IPA space starts at level 0 (SL0 = 2), which QEMU 7.2 only
// accepts when the output size is above 42 bits (ptw.c check_s2_mmu_setup uses PS, not PARange);
// Cortex-A57 implements 44 bits, so say so. probe_level0_start() shows what 40 bits would do.
inline constexpr unsigned kVtcrPaBits = 44;

// One contiguous input range of a layout; `pages` (when set) replaces the contiguous output.
struct LayoutRegion {
  const char* name;
  uint64_t input;
  uint64_t output;
  uint64_t size;
  arm64::MemoryKind memory;
  arm64::Access access;
  const uint64_t* pages = nullptr;
};

struct LayoutAnswer {
  bool mapped = false;
  uint64_t output = 0;
  arm64::MemoryKind memory = arm64::MemoryKind::kNormalWriteBack;
  arm64::Access access;
  const char* name = "hole";
};

struct GuestTables {
  arm64::TablePool* pool = nullptr;
  arm64::Stage2Table stage2;
  arm64::Stage1Table stage1;
  const LayoutRegion* s2_regions = nullptr;
  unsigned s2_count = 0;
  const LayoutRegion* s1_regions = nullptr;
  unsigned s1_count = 0;
};

// Builds both tables in ns_scratch() (panics when the library refuses).
GuestTables& build_guest_tables(uint64_t seed);

LayoutAnswer lookup(const LayoutRegion* regions, unsigned count, uint64_t input);

}  // namespace teemm::fw::conf
