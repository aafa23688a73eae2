// firmware/qemu-virt/access_checks: part 2 of issue 4. Real loads, stores and instruction fetches on
// samples of every kind of region of the static map (code, read-only data, data, TA RAM, devices,
// non-secure shared memory, the firmware's NS window), in the unbacked reservations and outside the
// map. Each is judged against the walker and the memory type: exactly the expected ones must fault,
// with the right exception class, fault status (kind and level), FAR and WnR.
//
// Only harmless stores are made: values are written back unchanged except in TA RAM, NS shared
// memory, NS scratch and a scratch page of our own; device registers are only read (ID and flag
// registers); a fetch runs either the `ret` page or a `ret` planted in writable memory, or a zero
// word (UDF) where nothing can be planted.
#pragma once

#include <cstdint>

#include "report.hpp"
#include "translation.hpp"

namespace teemm::fw::conf {

// Runs at the regime's own EL with its MMU on the static table.
void run_access_checks(Regime regime, Part part, uint64_t seed);

}  // namespace teemm::fw::conf
