// firmware/qemu-virt/translation: the three-way check of one stage-1 translation.
//
//   expectation (map + memory type)  <->  software walker (library)  <->  CPU (AT + PAR_EL1)
//
// For one VA the CPU is asked twice, for a read and for a write (AT S1E3R/S1E3W at EL3, S1E1R/S1E1W
// at EL1, S1E0R/S1E0W for secure EL0, issued at EL1). Compared: fault or not, fault status (kind
// and level), output PA, NS, the memory attribute byte, shareability, and read and write
// permission of the regime's level (each must fault exactly where the type forbids it; at EL0,
// where the core's map grants nothing, a mapped page must give a permission fault, not a
// translation fault); the walker and the expectation also agree on execute permission, which AT
// cannot show (the real fetches of access_checks judge it, at EL0 too).
#pragma once

#include <cstdint>

#include "arch/arm64/table_pool.hpp"
#include "arch/arm64/walker.hpp"
#include "platform.hpp"
#include "report.hpp"

namespace teemm::fw::conf {

// Which stage-1 regime (and, for EL1&0, which level) the CPU translates for: it decides the AT ops,
// the table, what bits 54/53 mean and whose permissions count.
enum class Regime {
  kEl3,        // EL3 regime, EL3's table
  kSecureEl1,  // secure EL1&0 regime, privileged (EL1) permissions
  kSecureEl0,  // the same table, unprivileged (EL0) permissions
};

// The table of the system a regime translates with.
const arm64::Stage1Table& table_of(Regime regime);

// What the map says about va in the regime's table: the core's static map, plus the firmware's EL0
// window in the EL1&0 table.
Expectation expect_in(Regime regime, uint64_t va);

struct ParPair {
  uint64_t read = 0;
  uint64_t write = 0;
};

// AT S1E3R/W, S1E1R/W or S1E0R/W (the latter two must run at EL1, or at EL3 for the secure EL1
// regime).
ParPair translate_with_cpu(Regime regime, uint64_t va);

// The fault status code (PAR.FST / ESR.FSC) the walker's answer stands for.
unsigned fault_status_of(const arm64::WalkResult& walk);

// What the walker decoded for the regime's level (EL3: bit 54 is XN; EL1: privileged; EL0:
// unprivileged), and what the expectation grants it.
arm64::Access walker_access(Regime regime, const arm64::WalkResult& walk);
arm64::Access expected_access(Regime regime, const Expectation& expected);
inline bool walker_executable(Regime regime, const arm64::WalkResult& walk) {
  return walker_access(regime, walk).execute;
}

// The walk of `va` in the regime's table.
arm64::WalkResult walk_regime(Regime regime, uint64_t va);

// Walks the given stage-1 table with the library's walker.
arm64::WalkResult walk_stage1(const arm64::TablePool& pool, PhysAddr root, uint64_t va);

// The three-way comparison for one VA; counts two translations and reports mismatches under
// `part`. Returns true when everything agreed. `walk` must be of the regime's table.
bool check_translation(Part part, Regime regime, uint64_t va, const Expectation& expected,
                       const arm64::WalkResult& walk, ParPair par);

// Short description of a PAR_EL1 value for mismatch reports.
const char* describe_par(uint64_t par, char* buf, uint64_t size);

}  // namespace teemm::fw::conf
