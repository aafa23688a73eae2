// firmware/qemu-virt/lower_el: run code at secure EL1 or at non-secure EL2 and come back to EL3.
//
// Only one lower-EL call can be in progress (no nesting). Interrupts stay masked. SCR_EL3 is
// restored on the way back, so EL3 continues in the secure state it left. Remember that in AArch64
// the EL1 system registers (SCTLR_EL1, TCR_EL1, TTBR0_EL1, MAIR_EL1, ...) are not banked between the
// security states: the non-secure EL2 agent's EL1 settings are still there when secure EL1 runs next.
#pragma once

#include <cstdint>

#include "fw_abi.h"
#include "layout.hpp"

namespace teemm::fw {

using LowerElEntry = uint64_t (*)(uint64_t arg);

// Runs entry(arg) at secure EL1 (SPSR EL1h, SP_EL1 = stack_top, VBAR_EL1 = the firmware vectors, so
// probes and the exception report work there) and returns its result. The EL1 MMU state is whatever
// SCTLR_EL1 holds (off after boot). Code at S-EL1 may call anything in the firmware and the library.
uint64_t run_at_secure_el1(LowerElEntry entry, uint64_t arg, uint64_t stack_top = el1_stack().end());

// Ends the current secure-EL1 call early: run_at_secure_el1 returns `value`. S-EL1 only.
[[noreturn]] void return_to_el3(uint64_t value);

// Runs code at non-secure EL2 (SCR_EL3 = 0x531, SPSR EL2h, VBAR_EL2 = the agent's vectors). entry,
// stack_top and all memory the code touches must be NON-SECURE memory: the rest of the image is in
// secure RAM and cannot be reached from there. Use the agent below unless you write your own.
uint64_t run_at_ns_el2(uint64_t entry, uint64_t arg, uint64_t stack_top);

// ---- The non-secure EL2 agent (ns_agent.S) -----------------------------------------------------------
enum class NsOp : uint64_t {
  kAtS1E1R = FW_NSOP_AT_S1E1R,  // result: PAR_EL1
  kAtS1E1W = FW_NSOP_AT_S1E1W,
  kAtS12E1R = FW_NSOP_AT_S12E1R,  // stage 1 (EL1 regime below) + stage 2 (VTTBR_EL2)
  kAtS12E1W = FW_NSOP_AT_S12E1W,
  kAtS1E2R = FW_NSOP_AT_S1E2R,  // EL2's own regime (MMU off: flat)
  kAtS1E2W = FW_NSOP_AT_S1E2W,
  kTlbiIpas2e1 = FW_NSOP_TLBI_IPAS2E1,  // address = IPA; then TLBI VMALLE1 (result 0)
  kTlbiAlle1 = FW_NSOP_TLBI_ALLE1,      // result 0
};

struct NsAtOp {
  NsOp op;
  uint64_t address;
};

// The job the agent performs: it writes these registers, does `tlbi alle1; tlbi alle2`, then runs
// ops[0 .. count) in order, storing PAR_EL1 (after AT + isb) in results[i]. Lives in non-secure DRAM
// (ns_agent()); with the EL3 MMU on that page range must be mapped for EL3 to fill it in.
struct NsEl2Job {
  uint64_t hcr_el2;  // e.g. RW | VM = 0x80000001
  uint64_t vtcr_el2;
  uint64_t vttbr_el2;  // stage-2 table base (non-secure PA), VMID in bits 63:48
  uint64_t sctlr_el1;  // kSctlrEl1Reset | M to turn the EL1 stage 1 on, kSctlrEl1Reset for off
  uint64_t tcr_el1;
  uint64_t ttbr0_el1;
  uint64_t mair_el1;
  uint64_t count;  // at most kMaxOps
  uint64_t done;   // written by the agent
  uint64_t reserved[7];
  NsAtOp ops[FW_NSJOB_MAX_OPS];
  uint64_t results[FW_NSJOB_MAX_OPS];

  static constexpr uint64_t kMaxOps = FW_NSJOB_MAX_OPS;
};
static_assert(sizeof(NsEl2Job) == FW_NSJOB_SIZE);

// The single job buffer of the agent (in non-secure memory).
NsEl2Job& ns_el2_job();

// Runs the agent at non-secure EL2 on ns_el2_job(); returns the number of operations performed.
uint64_t run_ns_el2_job();

}  // namespace teemm::fw
