// firmware/qemu-virt/translation: the three-way check of one stage-1 translation.
//
//   expectation (map + memory type)  <->  software walker (library)  <->  CPU (AT + PAR_EL1)
//
// For one VA the CPU is asked twice, for a read and for a write (AT S1E3R/S1E3W at EL3, S1E1R/S1E1W
// at EL1). Compared: fault or not, fault status (kind and level), output PA, NS, the memory
// attribute byte, shareability, and write permission (the write must fault exactly where the type
// is not writable); the walker and the expectation also agree on execute permission.
#pragma once

#include <cstdint>

#include "arch/arm64/table_pool.hpp"
#include "arch/arm64/walker.hpp"
#include "platform.hpp"
#include "report.hpp"

namespace teemm::fw::conf {

// Which stage-1 regime the CPU translates in: it decides the AT ops and what bit 54/53 mean.
enum class Regime { kEl3, kSecureEl1 };

struct ParPair {
  uint64_t read = 0;
  uint64_t write = 0;
};

// AT S1E3R/W or S1E1R/W (the latter must run at EL1, or at EL3 for the secure EL1 regime).
ParPair translate_with_cpu(Regime regime, uint64_t va);

// The fault status code (PAR.FST / ESR.FSC) the walker's answer stands for.
unsigned fault_status_of(const arm64::WalkResult& walk);

// May the regime's privileged level execute what the walker decoded?
bool walker_executable(Regime regime, const arm64::WalkResult& walk);

// Walks the given stage-1 table with the library's walker.
arm64::WalkResult walk_stage1(const arm64::TablePool& pool, PhysAddr root, uint64_t va);

// The three-way comparison for one VA; counts two translations and reports mismatches under
// `part`. Returns true when everything agreed.
bool check_translation(Part part, Regime regime, uint64_t va, const Expectation& expected,
                       const arm64::WalkResult& walk, ParPair par);

// Short description of a PAR_EL1 value for mismatch reports.
const char* describe_par(uint64_t par, char* buf, uint64_t size);

}  // namespace teemm::fw::conf
