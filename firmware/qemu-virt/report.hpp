// firmware/qemu-virt/report: the conformance run's bookkeeping. Every check belongs to a part; each
// part counts the translations it compared, the accesses it tried and the mismatches it found. The
// first few mismatches are printed in full (a flood would hide the pattern), and the first of each
// kind (format) in a part whatever the budget says; the rest only count.
//
// A part that compares nothing proves nothing, so every part declares, beside its code, the least
// it must have compared and tried for its claim to hold (require_minimum). A part below its
// minimum, or one that never declared a minimum (it did not run), fails with a line saying so, and
// the shortfall counts as one of its mismatches.
#pragma once

#include <cstdint>

namespace teemm::fw::conf {

enum class Part : unsigned {
  kStaticEl3,     // AT S1E3R/W over the static map vs walker vs memory types
  kStaticEl1,     // the same table at secure EL1, AT S1E1R/W
  kAccessEl3,     // real loads, stores and fetches at EL3
  kAccessEl1,     // the same at secure EL1
  kEl0,           // secure EL0 on the EL1&0 table: AT S1E0R/W everywhere, real EL0 loads, stores, fetches
  kDynamic,       // map/unmap of shared memory on the live system at EL3, TLB maintenance
  kDynamicEl1,    // the same at secure EL1 on the EL1&0-regime table
  kAddressSpace,  // mm::AddressSpace itself at secure EL1: map_shared, ioremap, refusals, release_guest
  kStage2,        // NS EL2 agent: stage 2 + NS EL1 stage 1 vs the walkers
  kCount,
};

const char* part_name(Part part);

void count_translations(Part part, uint64_t n = 1);
void count_accesses(Part part, uint64_t n = 1);

// Test only (command-line word `vacuous`): from now on nothing is counted, as in a run whose checks
// compared nothing; every part must then fail its minimum (tests/qemu proves it does).
void stop_counting();

// The least `part` must compare and try; `why` says where the numbers come from (printed when the
// part falls short). A second call replaces the first.
void require_minimum(Part part, uint64_t translations, uint64_t accesses, const char* why);

// Records a mismatch and prints it (with the part's name) while the print budget lasts.
[[gnu::format(printf, 2, 3)]] void mismatch(Part part, const char* fmt, ...);

uint64_t mismatches(Part part);
uint64_t total_mismatches();

// Microseconds since boot (generic timer), for the per-part timings.
uint64_t now_us();

// Fails every part below its minimum (or without one), then prints one line per part with its counts
// and minimums, then the overall line "conformance: N translations compared, M accesses tried, K
// mismatches".
void print_summary();

}  // namespace teemm::fw::conf
