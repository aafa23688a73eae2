// firmware/qemu-virt/el0: probes at secure EL0, run from secure EL1 (issue 8).
//
// The core's map gives EL0 nothing: no read, no write, no execute anywhere. To see that from EL0
// itself, EL0 needs one page it may execute: fw_el0_page (el0.S), linked in .text, is mapped a
// second time for EL0 (read + execute, privileged read-only, never writable) at kEl0WindowVa, a VA
// outside the core's map (platform.cpp does it, on the EL1&0 table only). The probes there load or
// store at an address and end with an `svc`; an EL0 fetch is an ERET straight to the target.
// Whatever exception EL0 raises first ends the call and is its result (exceptions.cpp): an abort
// (EC 0x24 data, 0x20 instruction, with ESR/FAR), or the `svc` that says the access completed.
//
// Call these at secure EL1 only, with the EL1 MMU on the EL1&0 table that holds the window.
#pragma once

#include <cstdint>

#include "fw_abi.h"

namespace teemm::fw {

// Where the EL0 page is mapped for EL0 (R-X): in no region of the qemu-virt map (checked when it is
// mapped), below 4 GiB, 2 MiB aligned.
inline constexpr uint64_t kEl0WindowVa = 0x20000000;

// PA (and VA in tee-code, where EL0 may not execute) of the EL0 page.
uint64_t el0_page();

struct El0Result {
  bool faulted = false;  // the access (or fetch) aborted
  uint64_t esr = 0;      // ESR_EL1 / FAR_EL1 / ELR_EL1 of the exception that ended the call
  uint64_t far = 0;
  uint64_t elr = 0;
  uint64_t value = 0;  // the value a completed load read
};

// 64-bit (32-bit) load from va at EL0; faulted unless the load completed.
El0Result el0_load(uint64_t va);
El0Result el0_load32(uint64_t va);
// 64-bit store of value at va at EL0; faulted unless the store completed.
El0Result el0_store(uint64_t va, uint64_t value);
// ERET to va at EL0, with x30 = the EL0 window's `svc` fill (so a `ret` there ends cleanly too).
// faulted when the very fetch of va aborted (an instruction abort with ELR == va); anything else
// means EL0 executed at va.
El0Result el0_fetch(uint64_t va);

// One line for reports: "completed" or "ESR 0x.. (EC .., FSC ..) FAR ..".
const char* describe_el0(const El0Result& r, char* buf, uint64_t size);

}  // namespace teemm::fw
