// firmware/qemu-virt/exceptions: what happens when the CPU takes an exception, and the probes that
// make synchronous faults recoverable.
//
// The vectors (vectors.S) are installed at EL3 by boot.S and at secure EL1 by run_at_secure_el1().
// A synchronous exception from the current EL while a probe is armed resumes the probe, which then
// reports "faulted" with the ESR/FAR of the fault. At secure EL1, any exception from EL0 while an
// EL0 call is armed (el0.hpp) ends that call and is its result. Anything else is unexpected: it is printed (kind,
// EL, ESR with its decoding, ELR, FAR, SPSR, registers) and the run exits with FW_EXIT_EXCEPTION
// (3) through semihosting; a fault while handling a fault exits with FW_EXIT_NESTED_EXCEPTION (5).
// Exceptions at non-secure EL2 are reported by the agent's vectors and exit with
// FW_EXIT_NS_EL2_EXCEPTION (4). Nothing ever hangs (as long as semihosting is enabled).
#pragma once

#include <cstdint>

#include "fw_abi.h"

namespace teemm::fw {

// Saved state of the interrupted code; layout fixed by fw_abi.h.
struct TrapFrame {
  uint64_t x[31];
  uint64_t elr;
  uint64_t spsr;
  uint64_t esr;
  uint64_t far;
  uint64_t sp;    // SP before the exception (meaningful for exceptions from the current EL)
  uint64_t info;  // vector slot (0..15) | el << 8
  uint64_t pad;
};
static_assert(sizeof(TrapFrame) == FW_FRAME_SIZE);

// ---- Probes --------------------------------------------------------------------------------------
// Each performs one access at the current EL and returns true when it FAULTED (synchronous exception),
// false when it completed. On a fault, *esr / *far (when non-null) receive ESR_ELx / FAR_ELx; they are
// left untouched otherwise. 64-bit accesses must be 8-byte aligned (or they fault with an alignment
// fault when the memory is Device, e.g. with the MMU off).
bool probe_read(uint64_t va, uint64_t* value, uint64_t* esr = nullptr, uint64_t* far = nullptr);
bool probe_read8(uint64_t va, uint8_t* value, uint64_t* esr = nullptr, uint64_t* far = nullptr);
bool probe_read32(uint64_t va, uint32_t* value, uint64_t* esr = nullptr, uint64_t* far = nullptr);
bool probe_write(uint64_t va, uint64_t value, uint64_t* esr = nullptr, uint64_t* far = nullptr);
bool probe_write8(uint64_t va, uint8_t value, uint64_t* esr = nullptr, uint64_t* far = nullptr);

// Branch with link to va. If the target is executable it must return: point it at ret_page() (any
// 4-byte aligned address in it) or use probe_execute_planted. A non-executable target faults with an
// instruction abort (ESR EC 0x21 at the same EL); an executable target holding garbage will most
// likely fault with EC 0x00 (undefined instruction), which also counts as "faulted": check the EC.
bool probe_execute(uint64_t va, uint64_t* esr = nullptr, uint64_t* far = nullptr);

// As probe_execute, but first tries to plant a `ret` at va (a probed 32-bit write; the original word
// is put back afterwards, with the I-cache maintenance). If va cannot be written, branches to it as
// it is. *planted (when non-null) tells which happened.
bool probe_execute_planted(uint64_t va, uint64_t* esr = nullptr, uint64_t* far = nullptr, bool* planted = nullptr);

// A page of `ret` instructions in .text (TEE_RAM_RX): an executable target for probe_execute.
uint64_t ret_page();

// Plants the instruction `insn` at va (4-byte aligned) with probed accesses, keeping the word it
// replaces, with the I-cache maintenance; `done` is false when va cannot be read or written (then
// nothing changed). unplant() puts the original back.
struct Planted {
  uint64_t word_va = 0;
  uint64_t original = 0;
  bool done = false;
};
Planted plant_instruction(uint64_t va, uint32_t insn);
void unplant(const Planted& planted);

inline constexpr uint32_t kRetInstruction = 0xd65f03c0;
constexpr uint32_t svc_instruction(unsigned imm16) { return 0xd4000001u | (imm16 << 5); }

struct ProbeFault {
  uint64_t esr = 0;
  uint64_t far = 0;
  uint64_t elr = 0;
  unsigned el = 0;
};
// The last fault a probe recovered from.
ProbeFault last_probe_fault();

// ---- ESR decoding --------------------------------------------------------------------------------
inline constexpr unsigned kEcUnknown = 0x00;
inline constexpr unsigned kEcSvc64 = 0x15;
inline constexpr unsigned kEcHvc64 = 0x16;
inline constexpr unsigned kEcSmc64 = 0x17;
inline constexpr unsigned kEcSysreg = 0x18;
inline constexpr unsigned kEcInstAbortLower = 0x20;
inline constexpr unsigned kEcInstAbortSame = 0x21;
inline constexpr unsigned kEcPcAlignment = 0x22;
inline constexpr unsigned kEcDataAbortLower = 0x24;
inline constexpr unsigned kEcDataAbortSame = 0x25;
inline constexpr unsigned kEcSpAlignment = 0x26;
inline constexpr unsigned kEcSError = 0x2f;

// Fault status codes (ESR ISS[5:0] of aborts, PAR_EL1.FST) for a 4 KiB granule.
inline constexpr unsigned fsc_translation(unsigned level) { return 0x04 + level; }
inline constexpr unsigned fsc_access_flag(unsigned level) { return 0x08 + level; }
inline constexpr unsigned fsc_permission(unsigned level) { return 0x0c + level; }
inline constexpr unsigned kFscSyncExternal = 0x10;
inline constexpr unsigned kFscAlignment = 0x21;

inline constexpr unsigned esr_ec(uint64_t esr) { return static_cast<unsigned>((esr >> 26) & 0x3f); }
inline constexpr unsigned esr_fsc(uint64_t esr) { return static_cast<unsigned>(esr & 0x3f); }
inline constexpr bool esr_wnr(uint64_t esr) { return ((esr >> 6) & 1) != 0; }  // data aborts
inline constexpr unsigned esr_imm16(uint64_t esr) { return static_cast<unsigned>(esr & 0xffff); }

const char* esr_class_name(unsigned ec);
const char* fault_status_name(unsigned fsc);  // "translation L3", "permission L2", ...

// ---- Extension point -----------------------------------------------------------------------------
// Called before the default handling of an exception that is not a probe fault; return true to
// resume at frame.elr (which the hook may change), false for the default (report and exit).
using ExceptionHook = bool (*)(TrapFrame& frame, unsigned kind, unsigned el);
void set_exception_hook(ExceptionHook hook);

// Prints a frame the way the unexpected-exception report does.
void print_trap_frame(const TrapFrame& frame);

}  // namespace teemm::fw
