// firmware/qemu-virt/static_checks: part 1 of issue 4. The CPU translates every page of every
// mapped region and a few thousand random addresses inside and outside the map (the unbacked
// reservations included) through the static table the library built; each answer is compared with
// the library's walker and with what the region's memory type asks for (translation.hpp).
#pragma once

#include <cstdint>

#include "report.hpp"
#include "translation.hpp"

namespace teemm::fw::conf {

// Runs at the regime's own EL (EL3, or secure EL1 with the EL1 MMU on the EL1&0 table; for
// kSecureEl0, AT S1E0R/W at secure EL1). Returns the number of translations it must have compared:
// two (R and W) for every page of every mapped region, the edges and near-edge samples of every
// entry, the reservation samples and the random addresses (and the EL0 window's page, on the
// EL1&0 table), computed from the map, not from what was counted.
uint64_t run_static_checks(Regime regime, Part part, uint64_t seed);

}  // namespace teemm::fw::conf
