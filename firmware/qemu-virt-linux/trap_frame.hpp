// firmware/qemu-virt-linux/trap_frame: the registers an unexpected exception leaves on the stack
// (el3_entry.S, sel1_entry.S), and how both images print them.
#pragma once

#include <cstdint>

#include "linux_fw_abi.h"

namespace teemm::fw::linux_fw {

struct TrapFrame {
  uint64_t x[31];
  uint64_t elr;
  uint64_t spsr;
  uint64_t esr;
  uint64_t far;
  uint64_t kind;  // vector slot: group * 4 + type
};
static_assert(sizeof(TrapFrame) == SEL1_FRAME_SIZE);
static_assert(__builtin_offsetof(TrapFrame, elr) == SEL1_FRAME_ELR);
static_assert(__builtin_offsetof(TrapFrame, spsr) == SEL1_FRAME_SPSR);
static_assert(__builtin_offsetof(TrapFrame, esr) == SEL1_FRAME_ESR);
static_assert(__builtin_offsetof(TrapFrame, far) == SEL1_FRAME_FAR);
static_assert(__builtin_offsetof(TrapFrame, kind) == SEL1_FRAME_KIND);

// Prints "<who>: unexpected <type> exception from <origin>", the syndrome and the registers.
void print_trap_frame(const char* who, const TrapFrame& frame);

}  // namespace teemm::fw::linux_fw
