// firmware/qemu-virt-linux/el3_monitor.cpp: the EL3 monitor of the Linux firmware.
//
// It owns the machine's secure set-up and the switch between the two worlds, and nothing else:
//   - at boot: the counter frequency, the GIC (every interrupt Group 1, the priority mask open, so
//     the normal world gets its interrupts), the secure-EL1 core's first entry (which builds the
//     secure world's tables and its dispatcher), then the normal world's entry: the arm64 Image at
//     kKernelBase with x0 = the DTB QEMU put at kDtbBase, at NS-EL2 when the CPU has EL2, else at
//     NS-EL1;
//   - every SMC of the normal world: PSCI (one CPU: VERSION, FEATURES, MIGRATE_INFO_TYPE,
//     AFFINITY_INFO, SYSTEM_OFF, SYSTEM_RESET; CPU_ON, CPU_OFF and CPU_SUSPEND refused) is answered
//     here; calls owned by the trusted OS (SMCCC owners 50..63: OP-TEE's fast calls, yielding calls
//     and its API UID/revision) go to the secure-EL1 core with x0..x7; anything else is
//     SMC_UNKNOWN. Only x0..x3 of the normal world ever change (SMCCC 1.1).
//   - a world switch saves the leaving world's x0..x30, ELR, SPSR, SCR and its EL1 system registers
//     (the EL1 registers are shared by both security states) and restores the other's.
// EL3 runs with its MMU off and never touches normal-world memory after the boot checks.
#include <cstddef>
#include <cstdint>

#include "console.hpp"
#include "linux_fw_abi.h"
#include "platform/builtin/qemu_virt.hpp"
#include "runtime.hpp"
#include "trap_frame.hpp"

namespace teemm::fw::linux_fw {
namespace {

namespace qv = platform::qemu_virt;

// Where the normal world's boot material is (the test's QEMU command line puts it there).
constexpr uint64_t kDtbBase = 0x40000000;     // QEMU copies the DTB (its own or -dtb FILE) here for -bios
constexpr uint64_t kKernelBase = 0x44000000;  // -device loader,file=Image,addr=0x44000000,force-raw=on
constexpr uint32_t kDtbMagic = 0xedfe0dd0;    // 0xd00dfeed, big-endian, read little-endian
constexpr uint32_t kImageMagic = 0x644d5241;  // "ARM\x64" at offset 0x38 of an arm64 Image
constexpr uint64_t kCounterFrequency = 62500000;

constexpr uint64_t kGicd = qv::kGicBase;
constexpr uint64_t kGicc = qv::kGicBase + 0x10000;
constexpr uint64_t kSecureGpio = qv::kSecureGpioBase;

// SCR_EL3: RW (EL2/EL1 AArch64) | RES1 bits 5:4, NS; HCE when the normal world has EL2. SMD = 0
// (SMC enabled), IRQ = FIQ = EA = 0 (interrupts and aborts stay with the lower ELs).
constexpr uint64_t kScrSecure = 0x430;
constexpr uint64_t kScrNormalEl1 = 0x431;
constexpr uint64_t kScrNormalEl2 = 0x531;
constexpr uint64_t kSpsrEl1hMasked = 0x3c5;
constexpr uint64_t kSpsrEl2hMasked = 0x3c9;
constexpr uint64_t kSctlrEl1Reset = 0x30d00800;  // MMU and caches off, RES1 bits
constexpr uint64_t kSctlrEl2Reset = 0x30c50838;

constexpr uint64_t kSmcUnknown = 0xFFFFFFFF;
constexpr uint32_t kEcSmc64 = 0x17;

// PSCI (DEN0022) function IDs and return codes.
constexpr uint32_t kPsciVersion = 0x84000000;
constexpr uint32_t kPsciCpuSuspend32 = 0x84000001, kPsciCpuSuspend64 = 0xC4000001;
constexpr uint32_t kPsciCpuOff = 0x84000002;
constexpr uint32_t kPsciCpuOn32 = 0x84000003, kPsciCpuOn64 = 0xC4000003;
constexpr uint32_t kPsciAffinityInfo32 = 0x84000004, kPsciAffinityInfo64 = 0xC4000004;
constexpr uint32_t kPsciMigrateInfoType = 0x84000006;
constexpr uint32_t kPsciSystemOff = 0x84000008;
constexpr uint32_t kPsciSystemReset = 0x84000009;
constexpr uint32_t kPsciFeatures = 0x8400000A;
constexpr int64_t kPsciSuccess = 0;
constexpr int64_t kPsciNotSupported = -1;
constexpr int64_t kPsciInvalidParameters = -2;
constexpr int64_t kPsciDenied = -3;
constexpr int64_t kPsciAlreadyOn = -4;
constexpr uint64_t kPsciVersion1_0 = 0x10000;
constexpr uint64_t kMigrateNotPresentOrMp = 2;  // the trusted OS needs no migration
constexpr uint64_t kAffinityOn = 0, kAffinityOff = 1;

// ---- Contexts -----------------------------------------------------------------------------------

// The EL1 system registers a world owns (TF-A's context_el1.h for ARMv8.0, less the timers: the
// secure world never touches the EL1 timers, so the normal world's stay as they are).
struct El1Regs {
  uint64_t sctlr, actlr, cpacr, csselr, sp_el1, elr, spsr, tcr, ttbr0, ttbr1, mair, amair, esr, far, par, afsr0, afsr1,
      contextidr, vbar, tpidr_el1, tpidr_el0, tpidrro_el0, sp_el0, cntkctl, mdscr, mdccint;
};

struct alignas(16) WorldContext {
  uint64_t x[31];
  uint64_t elr;
  uint64_t spsr;
  uint64_t scr;
  El1Regs el1;
};
static_assert(offsetof(WorldContext, elr) == CTX_ELR);
static_assert(offsetof(WorldContext, spsr) == CTX_SPSR);
static_assert(offsetof(WorldContext, scr) == CTX_SCR);
static_assert(offsetof(WorldContext, el1) == CTX_EL1);

WorldContext g_normal;
WorldContext g_secure;

#define TEEMM_SAVE(reg, field) asm volatile("mrs %0, " #reg : "=r"(r.field))
#define TEEMM_LOAD(reg, field) asm volatile("msr " #reg ", %0" : : "r"(r.field))
#define TEEMM_EL1_REGS(op)        \
  op(sctlr_el1, sctlr);           \
  op(actlr_el1, actlr);           \
  op(cpacr_el1, cpacr);           \
  op(csselr_el1, csselr);         \
  op(sp_el1, sp_el1);             \
  op(elr_el1, elr);               \
  op(spsr_el1, spsr);             \
  op(tcr_el1, tcr);               \
  op(ttbr0_el1, ttbr0);           \
  op(ttbr1_el1, ttbr1);           \
  op(mair_el1, mair);             \
  op(amair_el1, amair);           \
  op(esr_el1, esr);               \
  op(far_el1, far);               \
  op(par_el1, par);               \
  op(afsr0_el1, afsr0);           \
  op(afsr1_el1, afsr1);           \
  op(contextidr_el1, contextidr); \
  op(vbar_el1, vbar);             \
  op(tpidr_el1, tpidr_el1);       \
  op(tpidr_el0, tpidr_el0);       \
  op(tpidrro_el0, tpidrro_el0);   \
  op(sp_el0, sp_el0);             \
  op(cntkctl_el1, cntkctl);       \
  op(mdscr_el1, mdscr);           \
  op(mdccint_el1, mdccint)

void save_el1(El1Regs& r) { TEEMM_EL1_REGS(TEEMM_SAVE); }
void load_el1(const El1Regs& r) {
  TEEMM_EL1_REGS(TEEMM_LOAD);
  asm volatile("isb" ::: "memory");
}
#undef TEEMM_EL1_REGS
#undef TEEMM_LOAD
#undef TEEMM_SAVE

El1Regs reset_el1() {
  El1Regs r{};
  r.sctlr = kSctlrEl1Reset;
  return r;
}

uint64_t read_mpidr() {
  uint64_t v;
  asm volatile("mrs %0, mpidr_el1" : "=r"(v));
  return v;
}

uint64_t read_esr_el3() {
  uint64_t v;
  asm volatile("mrs %0, esr_el3" : "=r"(v));
  return v;
}

bool has_el2() {
  uint64_t pfr0;
  asm volatile("mrs %0, id_aa64pfr0_el1" : "=r"(pfr0));
  return ((pfr0 >> 8) & 0xf) != 0;
}

volatile uint32_t& mmio32(uint64_t address) { return *reinterpret_cast<volatile uint32_t*>(address); }

// ---- State ----------------------------------------------------------------------------------------

enum class Ending : uint8_t { kNone, kSystemOff, kSystemReset };
Ending g_ending = Ending::kNone;
bool g_el2 = false;
uint64_t g_secure_calls = 0;
uint64_t g_psci_calls = 0;
uint64_t g_unknown_calls = 0;

[[noreturn]] void power_off(bool reset) {
  // The secure PL061: line 0 is QEMU's power-off button, line 1 its reset (TF-A qemu_pm.c). The
  // data register is addressed with the line mask in address bits 9:2.
  const uint32_t line = reset ? 2u : 1u;
  mmio32(kSecureGpio + 0x400) = mmio32(kSecureGpio + 0x400) | line;  // GPIODIR: output
  mmio32(kSecureGpio + (uint64_t{line} << 2)) = line;
  for (;;) asm volatile("wfi");
}

void init_counter() { asm volatile("msr cntfrq_el0, %0" : : "r"(kCounterFrequency)); }

// GICv2 with the security extensions: QEMU resets every interrupt to Group 0 and the CPU
// interface's priority mask to 0, and the normal world can change neither. Everything becomes
// Group 1 (the normal world's), the mask lets every priority through. Linux enables the
// distributor and its CPU interface through the non-secure views itself.
void init_gic() {
  const uint32_t pidr2 = mmio32(kGicd + 0xfe8);
  const unsigned arch = (pidr2 >> 4) & 0xf;
  if (arch != 2) panic("GIC architecture revision %u: this monitor sets up GICv2 only (QEMU's default)", arch);
  const unsigned lines = 32 * ((mmio32(kGicd + 0x4) & 0x1f) + 1);
  for (unsigned i = 0; i < lines / 32; ++i) mmio32(kGicd + 0x80 + 4 * i) = 0xffffffff;  // GICD_IGROUPRn
  mmio32(kGicc + 0x4) = 0xff;                                                           // GICC_PMR
  printf("teemm-el3: GICv2, %u interrupt lines, all Group 1; GICC_PMR 0x%02x\n", lines, mmio32(kGicc + 0x4));
}

// EL2 exists but the normal world is given it as it resets (booting.rst; TF-A
// init_nonsecure_el2_unused): EL1 AArch64, no traps, the counters open to EL1.
void init_el2() {
  uint64_t midr, mpidr = read_mpidr();
  asm volatile("mrs %0, midr_el1" : "=r"(midr));
  asm volatile("msr hcr_el2, %0" : : "r"(uint64_t{1} << 31));
  asm volatile("msr sctlr_el2, %0" : : "r"(kSctlrEl2Reset));
  asm volatile("msr cptr_el2, %0" : : "r"(uint64_t{0x33ff}));
  asm volatile("msr cnthctl_el2, %0" : : "r"(uint64_t{3}));
  asm volatile("msr cntvoff_el2, xzr");
  asm volatile("msr vttbr_el2, xzr");
  asm volatile("msr vpidr_el2, %0" : : "r"(midr));
  asm volatile("msr vmpidr_el2, %0" : : "r"(mpidr));
  asm volatile("isb" ::: "memory");
}

// Enters the secure-EL1 core at `entry` with x0..x7 = args (the normal world's registers are saved).
WorldContext* enter_secure(uint64_t entry, const uint64_t* args) {
  for (unsigned i = 0; i < 8; ++i) g_secure.x[i] = args != nullptr ? args[i] : 0;
  g_secure.elr = SEL1_BASE + entry;
  g_secure.spsr = kSpsrEl1hMasked;
  g_secure.scr = kScrSecure;
  save_el1(g_normal.el1);
  load_el1(g_secure.el1);
  return &g_secure;
}

WorldContext* boot_normal_world() {
  const uint32_t dtb_magic = mmio32(kDtbBase);
  const uint32_t image_magic = mmio32(kKernelBase + 0x38);
  if (dtb_magic != kDtbMagic) panic("no device tree at 0x%lx (magic 0x%08x)", kDtbBase, dtb_magic);
  if (image_magic != kImageMagic)
    panic("no arm64 Image at 0x%lx (magic 0x%08x at +0x38): load it with -device loader,file=Image,addr=0x%lx",
          kKernelBase, image_magic, kKernelBase);
  g_normal = WorldContext{};
  g_normal.x[0] = kDtbBase;  // x1..x3 = 0 (booting.rst)
  g_normal.elr = kKernelBase;
  if (g_el2) {
    init_el2();
    g_normal.spsr = kSpsrEl2hMasked;
    g_normal.scr = kScrNormalEl2;
  } else {
    g_normal.spsr = kSpsrEl1hMasked;
    g_normal.scr = kScrNormalEl1;
  }
  g_normal.el1 = reset_el1();
  load_el1(g_normal.el1);
  printf("teemm-el3: entering the normal world at 0x%lx (NS-EL%u), DTB 0x%lx\n", kKernelBase, g_el2 ? 2u : 1u,
         kDtbBase);
  return &g_normal;
}

bool is_psci(uint32_t fid) { return (fid & 0xbfffffe0u) == 0x84000000u; }

WorldContext* psci(WorldContext& ns, uint32_t fid) {
  ++g_psci_calls;
  const uint64_t self = read_mpidr() & 0xff00ffffffull;
  int64_t ret = kPsciNotSupported;
  switch (fid) {
    case kPsciVersion: ns.x[0] = kPsciVersion1_0; return &ns;
    case kPsciMigrateInfoType: ns.x[0] = kMigrateNotPresentOrMp; return &ns;
    case kPsciFeatures:
      switch (static_cast<uint32_t>(ns.x[1])) {
        case kPsciVersion:
        case kPsciCpuOff:
        case kPsciCpuOn32:
        case kPsciCpuOn64:
        case kPsciAffinityInfo32:
        case kPsciAffinityInfo64:
        case kPsciMigrateInfoType:
        case kPsciSystemOff:
        case kPsciSystemReset:
        case kPsciFeatures: ret = kPsciSuccess; break;
        default: ret = kPsciNotSupported; break;  // CPU_SUSPEND, SYSTEM_SUSPEND, SMCCC_VERSION, ...
      }
      break;
    case kPsciCpuOn32:
    case kPsciCpuOn64:
      // One CPU: the caller is on already, and no other CPU is this firmware's to start.
      ret = (ns.x[1] & 0xff00ffffffull) == self ? kPsciAlreadyOn : kPsciInvalidParameters;
      printf("teemm-el3: PSCI CPU_ON 0x%lx refused (%ld)\n", ns.x[1], ret);
      break;
    case kPsciAffinityInfo32:
    case kPsciAffinityInfo64:
      ret = ns.x[2] != 0                          ? kPsciInvalidParameters
            : (ns.x[1] & 0xff00ffffffull) == self ? static_cast<int64_t>(kAffinityOn)
                                                  : static_cast<int64_t>(kAffinityOff);
      break;
    case kPsciCpuOff: ret = kPsciDenied; break;  // the last CPU stays on; SYSTEM_OFF ends the machine
    case kPsciSystemOff:
    case kPsciSystemReset:
      g_ending = fid == kPsciSystemOff ? Ending::kSystemOff : Ending::kSystemReset;
      printf("teemm-el3: PSCI %s: final report of the secure world\n",
             fid == kPsciSystemOff ? "SYSTEM_OFF" : "SYSTEM_RESET");
      return enter_secure(SEL1_ENTRY_REPORT, nullptr);
    case kPsciCpuSuspend32:
    case kPsciCpuSuspend64:
    default: ret = kPsciNotSupported; break;
  }
  ns.x[0] = static_cast<uint64_t>(ret);
  return &ns;
}

WorldContext* normal_world_smc(WorldContext& ns, uint64_t esr) {
  const uint32_t fid = static_cast<uint32_t>(ns.x[0]);
  if ((esr & 0xffff) == 0) {
    if (is_psci(fid)) return psci(ns, fid);
    const unsigned owner = (fid >> 24) & 0x3f;
    if (owner >= 50 && owner <= 63) {  // trusted OS calls: the secure-EL1 core
      ++g_secure_calls;
      return enter_secure(SEL1_ENTRY_SMC, ns.x);
    }
  }
  ++g_unknown_calls;
  ns.x[0] = kSmcUnknown;
  return &ns;
}

void print_context(const char* who, const WorldContext& c, uint64_t kind, uint64_t esr) {
  TrapFrame f{};
  for (unsigned i = 0; i < 31; ++i) f.x[i] = c.x[i];
  f.elr = c.elr;
  f.spsr = c.spsr;
  f.esr = esr;
  asm volatile("mrs %0, far_el3" : "=r"(f.far));
  f.kind = kind;
  print_trap_frame(who, f);
}

WorldContext* secure_world_smc(WorldContext& sec, uint64_t esr) {
  save_el1(sec.el1);
  switch (esr & 0xffff) {
    case SEL1_SMC_CALL_DONE:
      for (unsigned i = 0; i < 4; ++i) g_normal.x[i] = sec.x[i];
      load_el1(g_normal.el1);
      return &g_normal;
    case SEL1_SMC_INIT_DONE:
      if (sec.x[0] != 0) panic("the secure world did not start (status %lu)", sec.x[0]);
      printf("teemm-el3: secure world up\n");
      return boot_normal_world();
    case SEL1_SMC_REPORT_DONE:
      printf("teemm-el3: secure world final state %s; %lu trusted-OS calls, %lu PSCI calls, %lu unknown SMCs\n",
             sec.x[0] == 0 ? "clean" : "NOT CLEAN", g_secure_calls, g_psci_calls, g_unknown_calls);
      printf("teemm-el3: %s\n", g_ending == Ending::kSystemReset ? "system reset" : "power off");
      power_off(g_ending == Ending::kSystemReset);
    case SEL1_SMC_PANIC:
      printf("teemm-el3: PANIC: the secure world stopped (see above); powering off\n");
      power_off(false);
    default: panic("unknown SMC #0x%lx from secure EL1", esr & 0xffff);
  }
}

}  // namespace
}  // namespace teemm::fw::linux_fw

namespace teemm::fw {
// runtime.hpp's panic and exit (the shared libc.cpp calls them): report, then power the machine off,
// so that a run never hangs.
void panic(const char* fmt, ...) {
  printf("\nteemm-el3: PANIC: ");
  va_list args;
  va_start(args, fmt);
  vprintf(fmt, args);
  va_end(args);
  printf("\n");
  linux_fw::power_off(false);
}
void exit(int code) {
  printf("teemm-el3: exit(%d)\n", code);
  linux_fw::power_off(false);
}
}  // namespace teemm::fw

using namespace teemm::fw::linux_fw;

extern "C" {
[[noreturn]] void el3_world_exit(WorldContext* context);

WorldContext* el3_lower_trap(WorldContext* from, uint64_t kind) {
  const uint64_t esr = read_esr_el3();
  const bool secure = from == &g_secure;
  if (kind != EL3_KIND_LOWER64_SYNC || ((esr >> 26) & 0x3f) != kEcSmc64) {
    print_context(secure ? "teemm-el3 (from secure EL1)" : "teemm-el3 (from the normal world)", *from, kind, esr);
    teemm::fw::panic("unexpected exception taken to EL3");
  }
  return secure ? secure_world_smc(*from, esr) : normal_world_smc(*from, esr);
}

[[noreturn]] void el3_current_trap(TrapFrame* frame) {
  print_trap_frame("teemm-el3", *frame);
  teemm::fw::panic("exception at EL3");
}

[[noreturn]] void el3_main() {
  teemm::fw::console_set_uart(qv::kSecureUartBase);
  g_el2 = has_el2();
  teemm::fw::printf(
      "\nteemm-el3: EL3 monitor for QEMU virt (MPIDR 0x%lx, %s)\n", read_mpidr(),
      g_el2 ? "EL2 present: the normal world starts at NS-EL2" : "no EL2: the normal world starts at NS-EL1");
  init_counter();
  init_gic();
  g_secure = WorldContext{};
  g_secure.el1 = reset_el1();
  teemm::fw::printf("teemm-el3: starting the secure world at 0x%x\n", SEL1_BASE);
  el3_world_exit(enter_secure(SEL1_ENTRY_COLD, nullptr));
}
}
