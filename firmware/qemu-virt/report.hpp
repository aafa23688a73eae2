// firmware/qemu-virt/report: the conformance run's bookkeeping. Every check belongs to a part; each
// part counts the translations it compared, the accesses it tried and the mismatches it found. The
// first few mismatches are printed in full (a flood would hide the pattern); the rest only count.
#pragma once

#include <cstdint>

namespace teemm::fw::conf {

enum class Part : unsigned {
  kStaticEl3,   // AT S1E3R/W over the static map vs walker vs memory types
  kStaticEl1,   // the same table at secure EL1, AT S1E1R/W
  kAccessEl3,   // real loads, stores and fetches at EL3
  kAccessEl1,   // the same at secure EL1
  kDynamic,     // map/unmap of shared memory on the live system at EL3, TLB maintenance
  kDynamicEl1,  // the same at secure EL1 on the EL1&0-regime table
  kStage2,      // NS EL2 agent: stage 2 + NS EL1 stage 1 vs the walkers
  kCount,
};

const char* part_name(Part part);

void count_translations(Part part, uint64_t n = 1);
void count_accesses(Part part, uint64_t n = 1);

// Records a mismatch and prints it (with the part's name) while the print budget lasts.
[[gnu::format(printf, 2, 3)]] void mismatch(Part part, const char* fmt, ...);

uint64_t mismatches(Part part);
uint64_t total_mismatches();

// Microseconds since boot (generic timer), for the per-part timings.
uint64_t now_us();

// One line per part, then the overall line "conformance: N translations compared, ...".
void print_summary();

}  // namespace teemm::fw::conf
