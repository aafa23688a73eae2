// firmware/qemu-virt/stage2_checks: part 4 of issue 4. The non-secure EL2 agent installs the
// library-built stage-2 table and the guest's stage-1 EL1 table (stage2_layout.hpp) and asks the CPU:
//   - stage 1 off (HCR_EL2.DC = 1, and once with DC = 0): AT S12E1R/W on IPAs: every page of every
//     stage-2 region, their neighbours and random IPAs, vs the stage-2 walker and the layout;
//   - stage 1 on: AT S1E1R (vs the stage-1 walker) and AT S12E1R/W (vs the stage-1 walk followed by
//     the stage-2 walk of its output) on every page of every stage-1 mapping and random VAs.
// Compared: fault or not, which stage faulted (PAR.S) and its status (kind, level), including
// stage-2 translation faults in holes and stage-2 permission faults on the read-only parts; on
// success the PA and the combined memory attributes and shareability of both stages.
#pragma once

#include <cstdint>

namespace teemm::fw::conf {

void run_stage2_checks(uint64_t seed);

}  // namespace teemm::fw::conf
