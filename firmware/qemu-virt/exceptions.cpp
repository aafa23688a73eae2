// firmware/qemu-virt/exceptions.cpp: see exceptions.hpp.
#include "exceptions.hpp"

#include <cstddef>

#include "console.hpp"
#include "runtime.hpp"
#include "semihosting.hpp"
#include "sysreg.hpp"

static_assert(offsetof(teemm::fw::TrapFrame, elr) == FW_FRAME_ELR);
static_assert(offsetof(teemm::fw::TrapFrame, spsr) == FW_FRAME_SPSR);
static_assert(offsetof(teemm::fw::TrapFrame, esr) == FW_FRAME_ESR);
static_assert(offsetof(teemm::fw::TrapFrame, far) == FW_FRAME_FAR);
static_assert(offsetof(teemm::fw::TrapFrame, sp) == FW_FRAME_SP);
static_assert(offsetof(teemm::fw::TrapFrame, info) == FW_FRAME_INFO);

extern "C" {
// Armed by the probe routines (vectors.S): the address to resume at if the access faults.
volatile uint64_t fw_probe_recover = 0;
// Armed by fw_el0_call (el0.S): where S-EL1 resumes when EL0 takes an exception.
volatile uint64_t fw_el0_recover = 0;
// What ended the last EL0 call (read by el0.cpp).
volatile teemm::fw::TrapFrame fw_el0_exit;

int fw_probe_read64(uint64_t va, uint64_t* value);
int fw_probe_read8(uint64_t va, uint64_t* value);
int fw_probe_read32(uint64_t va, uint64_t* value);
int fw_probe_write64(uint64_t va, uint64_t value);
int fw_probe_write8(uint64_t va, uint64_t value);
int fw_probe_execute(uint64_t va);
extern const uint32_t fw_ret_page[];

void fw_exception(teemm::fw::TrapFrame* frame, uint64_t info);
}

namespace teemm::fw {
namespace {

volatile ProbeFault g_last_fault;
volatile unsigned g_depth = 0;
ExceptionHook g_hook = nullptr;

constexpr uint32_t kHltSemihosting = 0xd45e0000;  // hlt #0xf000

[[noreturn]] void halt_forever() {
  for (;;) asm volatile("wfi");
}

void uart_puts_raw(const char* s) {
  while (*s != '\0') uart_putc(*s++);
}

bool finish(int faulted, uint64_t* esr, uint64_t* far) {
  if (faulted != 0) {
    if (esr != nullptr) *esr = g_last_fault.esr;
    if (far != nullptr) *far = g_last_fault.far;
    return true;
  }
  return false;
}

const char* kind_name(unsigned kind) {
  static const char* const kGroups[] = {"current EL, SP_EL0", "current EL, SP_ELx", "lower EL, AArch64",
                                        "lower EL, AArch32"};
  static const char* const kTypes[] = {"synchronous", "IRQ", "FIQ", "SError"};
  static char buf[48];
  snprintf(buf, sizeof(buf), "%s from %s", kTypes[kind & 3], kGroups[(kind >> 2) & 3]);
  return buf;
}

}  // namespace

bool probe_read(uint64_t va, uint64_t* value, uint64_t* esr, uint64_t* far) {
  uint64_t v = 0;
  const int faulted = fw_probe_read64(va, &v);
  if (faulted == 0 && value != nullptr) *value = v;
  return finish(faulted, esr, far);
}

bool probe_read8(uint64_t va, uint8_t* value, uint64_t* esr, uint64_t* far) {
  uint64_t v = 0;
  const int faulted = fw_probe_read8(va, &v);
  if (faulted == 0 && value != nullptr) *value = static_cast<uint8_t>(v);
  return finish(faulted, esr, far);
}

bool probe_read32(uint64_t va, uint32_t* value, uint64_t* esr, uint64_t* far) {
  uint64_t v = 0;
  const int faulted = fw_probe_read32(va, &v);
  if (faulted == 0 && value != nullptr) *value = static_cast<uint32_t>(v);
  return finish(faulted, esr, far);
}

bool probe_write(uint64_t va, uint64_t value, uint64_t* esr, uint64_t* far) {
  return finish(fw_probe_write64(va, value), esr, far);
}

bool probe_write8(uint64_t va, uint8_t value, uint64_t* esr, uint64_t* far) {
  return finish(fw_probe_write8(va, value), esr, far);
}

bool probe_execute(uint64_t va, uint64_t* esr, uint64_t* far) { return finish(fw_probe_execute(va), esr, far); }

Planted plant_instruction(uint64_t va, uint32_t insn) {
  va &= ~uint64_t{3};
  Planted p;
  p.word_va = va & ~uint64_t{7};
  const unsigned shift = static_cast<unsigned>((va - p.word_va) * 8);
  if (fw_probe_read64(p.word_va, &p.original) != 0) return p;
  const uint64_t patched = (p.original & ~(uint64_t{0xffffffff} << shift)) | (uint64_t{insn} << shift);
  p.done = fw_probe_write64(p.word_va, patched) == 0;
  if (p.done) sync_icache_range(p.word_va, 8);
  return p;
}

void unplant(const Planted& p) {
  if (!p.done) return;
  fw_probe_write64(p.word_va, p.original);
  sync_icache_range(p.word_va, 8);
}

bool probe_execute_planted(uint64_t va, uint64_t* esr, uint64_t* far, bool* planted) {
  va &= ~uint64_t{3};
  const Planted p = plant_instruction(va, kRetInstruction);
  if (planted != nullptr) *planted = p.done;
  const bool faulted = finish(fw_probe_execute(va), esr, far);
  unplant(p);
  return faulted;
}

uint64_t ret_page() { return reinterpret_cast<uint64_t>(&fw_ret_page[0]); }

ProbeFault last_probe_fault() {
  ProbeFault f;
  f.esr = g_last_fault.esr;
  f.far = g_last_fault.far;
  f.elr = g_last_fault.elr;
  f.el = g_last_fault.el;
  return f;
}

const char* esr_class_name(unsigned ec) {
  switch (ec) {
    case kEcUnknown: return "unknown/undefined instruction";
    case 0x01: return "WFI/WFE";
    case 0x07: return "FP/SIMD access";
    case 0x0e: return "illegal execution state";
    case kEcSvc64: return "SVC (AArch64)";
    case kEcHvc64: return "HVC (AArch64)";
    case kEcSmc64: return "SMC (AArch64)";
    case kEcSysreg: return "MSR/MRS/system instruction";
    case kEcInstAbortLower: return "instruction abort from a lower EL";
    case kEcInstAbortSame: return "instruction abort from the same EL";
    case kEcPcAlignment: return "PC alignment";
    case kEcDataAbortLower: return "data abort from a lower EL";
    case kEcDataAbortSame: return "data abort from the same EL";
    case kEcSpAlignment: return "SP alignment";
    case kEcSError: return "SError";
    case 0x3c: return "BRK (AArch64)";
    default: return "other";
  }
}

const char* fault_status_name(unsigned fsc) {
  static char buf[32];
  const unsigned level = fsc & 3;
  switch (fsc & 0x3c) {
    case 0x00: snprintf(buf, sizeof(buf), "address size L%u", level); return buf;
    case 0x04: snprintf(buf, sizeof(buf), "translation L%u", level); return buf;
    case 0x08: snprintf(buf, sizeof(buf), "access flag L%u", level); return buf;
    case 0x0c: snprintf(buf, sizeof(buf), "permission L%u", level); return buf;
    default: break;
  }
  switch (fsc) {
    case kFscSyncExternal: return "synchronous external abort";
    case 0x14:
    case 0x15:
    case 0x16:
    case 0x17: return "synchronous external abort on walk";
    case kFscAlignment: return "alignment";
    case 0x30: return "TLB conflict";
    default: return "other";
  }
}

void set_exception_hook(ExceptionHook hook) { g_hook = hook; }

void print_trap_frame(const TrapFrame& f) {
  const unsigned kind = static_cast<unsigned>(f.info & 0xff);
  const unsigned el = static_cast<unsigned>((f.info >> 8) & 3);
  const unsigned ec = esr_ec(f.esr);
  printf("  taken at EL%u: %s (vector slot %u)\n", el, kind_name(kind), kind);
  printf("  ESR  0x%016lx  EC 0x%02x %s", f.esr, ec, esr_class_name(ec));
  if (ec == kEcDataAbortSame || ec == kEcDataAbortLower || ec == kEcInstAbortSame || ec == kEcInstAbortLower) {
    printf(", FSC 0x%02x %s%s", esr_fsc(f.esr), fault_status_name(esr_fsc(f.esr)),
           (ec == kEcDataAbortSame || ec == kEcDataAbortLower) ? (esr_wnr(f.esr) ? ", write" : ", read") : "");
  }
  printf("\n  ELR  0x%016lx  FAR 0x%016lx  SPSR 0x%08lx  SP 0x%016lx\n", f.elr, f.far, f.spsr, f.sp);
  for (unsigned i = 0; i < 31; i += 2) {
    if (i + 1 < 31)
      printf("  x%-2u 0x%016lx  x%-2u 0x%016lx\n", i, f.x[i], i + 1, f.x[i + 1]);
    else
      printf("  x%-2u 0x%016lx\n", i, f.x[i]);
  }
}

}  // namespace teemm::fw

using namespace teemm::fw;

extern "C" void fw_exception(TrapFrame* frame, uint64_t info) {
  const unsigned kind = static_cast<unsigned>(info & 0xff);
  const unsigned el = static_cast<unsigned>((info >> 8) & 3);

  // Anything EL0 raises while an EL0 call runs ends the call, at EL1h, with SP_EL1 back where the
  // ERET left it (the frame is popped on the way out).
  if (el == 1 && (kind >> 2) == (FW_VEC_LOWER64_SYNC >> 2) && fw_el0_recover != 0) {
    for (unsigned i = 0; i < 31; ++i) fw_el0_exit.x[i] = frame->x[i];
    fw_el0_exit.elr = frame->elr;
    fw_el0_exit.spsr = frame->spsr;
    fw_el0_exit.esr = frame->esr;
    fw_el0_exit.far = frame->far;
    fw_el0_exit.info = info;
    frame->elr = fw_el0_recover;
    frame->spsr = FW_SPSR_EL1H_MASKED;
    fw_el0_recover = 0;
    return;
  }

  if (kind == FW_VEC_CUR_SPX_SYNC && fw_probe_recover != 0) {
    g_last_fault.esr = frame->esr;
    g_last_fault.far = frame->far;
    g_last_fault.elr = frame->elr;
    g_last_fault.el = el;
    frame->elr = fw_probe_recover;
    fw_probe_recover = 0;
    return;
  }

  // Without semihosting `hlt #0xf000` is an undefined instruction: nothing can end the run then.
  const bool semihosting_missing =
      esr_ec(frame->esr) == kEcUnknown && *reinterpret_cast<const volatile uint32_t*>(frame->elr) == kHltSemihosting;
  if (g_depth != 0 || semihosting_missing) {
    const unsigned depth = g_depth;
    g_depth = depth + 1;
    if (depth > 1) halt_forever();
    uart_puts_raw(semihosting_missing
                      ? "\n*** teemm-fw: semihosting is not enabled (-semihosting-config enable=on,target=native);"
                        " cannot exit, waiting to be killed\n"
                      : "\n*** teemm-fw: exception while handling an exception\n");
    if (semihosting_missing) halt_forever();
    semihosting::exit(FW_EXIT_NESTED_EXCEPTION);
  }
  g_depth = 1;

  // The non-secure EL2 agent's vectors report through an SMC (ns_agent.S).
  if (el == 3 && kind == FW_VEC_LOWER64_SYNC && esr_ec(frame->esr) == kEcSmc64 &&
      esr_imm16(frame->esr) == FW_SMC_REPORT) {
    TrapFrame ns{};
    ns.info = (frame->x[0] & 0xff) | (2u << 8);
    ns.esr = frame->x[1];
    ns.elr = frame->x[2];
    ns.far = frame->x[3];
    ns.spsr = frame->x[4];
    printf("\n*** teemm-fw: exception at non-secure EL2 (registers of EL2 not saved)\n");
    print_trap_frame(ns);
    semihosting::exit(FW_EXIT_NS_EL2_EXCEPTION);
  }

  if (g_hook != nullptr && g_hook(*frame, kind, el)) {
    g_depth = 0;
    return;
  }

  printf("\n*** teemm-fw: unexpected exception\n");
  print_trap_frame(*frame);
  semihosting::exit(FW_EXIT_EXCEPTION);
}
