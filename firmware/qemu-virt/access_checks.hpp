// firmware/qemu-virt/access_checks: part 2 of issue 4. Real loads, stores and instruction fetches on
// samples of every kind of region of the static map (code, read-only data, data, TA RAM, devices,
// non-secure shared memory, the firmware's NS window), in the unbacked reservations and outside the
// map. Each is judged against the walker and the memory type: exactly the expected ones must fault,
// with the right exception class, fault status (kind and level), FAR and WnR.
//
// Every region gets at least one load and one fetch, and every region but the devices at least one
// store (the coverage is checked per region: execute permission, which AT cannot show, is judged
// by a real fetch in every mapped region). With Regime::kSecureEl0 the same accesses are made at
// secure EL0 (el0.hpp), where all of them must fault, and the EL0 window is tried too.
//
// Only harmless stores are made: values are written back unchanged except in TA RAM, NS shared
// memory, NS scratch and a scratch page of our own; device registers are only read (ID and flag
// registers); a fetch runs either the `ret` page (at EL0 also the EL0 page's `svc` fill) or an
// instruction planted in writable memory (`ret` at EL1/EL3, `svc` at EL0), or a zero word (UDF)
// where nothing can be planted.
#pragma once

#include <cstdint>

#include "report.hpp"
#include "translation.hpp"

namespace teemm::fw::conf {

// Runs at the regime's own EL with its MMU on the static table (kSecureEl0: at secure EL1, with the
// accesses made at EL0). Returns the number of accesses it must have tried, from the map and its
// sampling constants: the part's minimum.
uint64_t run_access_checks(Regime regime, Part part, uint64_t seed);

// ---- One real access, judged (also used by the dynamic and address-space parts) ------------------
enum class AccessOp { kRead, kWrite, kFetch };

struct AccessOutcome {
  bool faulted = false;
  uint64_t esr = 0;
  uint64_t far = 0;
  bool el0 = false;  // at EL0 a completed access also ends with an exception: esr and elr say which
  uint64_t elr = 0;
  uint64_t value = 0;  // what a completed load read
};

// Performs the access at the regime's level (kSecureEl0: at EL0, from S-EL1): a 64-bit load, a
// 64-bit store of `value`, or a fetch; `plant` first plants an instruction at va that ends the
// fetch cleanly if it runs (`ret`, at EL0 `svc`), when va is writable.
AccessOutcome try_access(Regime regime, AccessOp op, uint64_t va, uint64_t value = 0, bool plant = false);

// Judges it: the access must complete exactly when `expected` grants it to the regime's level, the
// walker (`walk`, of the regime's table) must agree with `expected`, and a fault must have the
// exception class, fault status (kind, level), FAR and WnR the walk predicts. Counts one access
// under `part`; returns true when all agreed (mismatches are reported).
bool judge_access(Part part, Regime regime, AccessOp op, uint64_t va, const Expectation& expected,
                  const arm64::WalkResult& walk, const AccessOutcome& got);

}  // namespace teemm::fw::conf
