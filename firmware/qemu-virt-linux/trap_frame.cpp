// firmware/qemu-virt-linux/trap_frame.cpp: see trap_frame.hpp.
#include "trap_frame.hpp"

#include "console.hpp"

namespace teemm::fw::linux_fw {

void print_trap_frame(const char* who, const TrapFrame& f) {
  static const char* const kOrigins[] = {"the current EL on SP_EL0", "the current EL on SP_ELx", "a lower EL (AArch64)",
                                         "a lower EL (AArch32)"};
  static const char* const kTypes[] = {"synchronous", "IRQ", "FIQ", "SError"};
  const unsigned ec = static_cast<unsigned>((f.esr >> 26) & 0x3f);
  printf("%s: unexpected %s exception from %s\n", who, kTypes[f.kind & 3], kOrigins[(f.kind >> 2) & 3]);
  printf("  ESR 0x%016lx (EC 0x%02x, ISS 0x%07lx)  ELR 0x%016lx  FAR 0x%016lx  SPSR 0x%08lx\n", f.esr, ec,
         f.esr & 0x1ffffff, f.elr, f.far, f.spsr);
  for (unsigned i = 0; i < 31; i += 2) {
    if (i + 1 < 31)
      printf("  x%-2u 0x%016lx  x%-2u 0x%016lx\n", i, f.x[i], i + 1, f.x[i + 1]);
    else
      printf("  x%-2u 0x%016lx\n", i, f.x[i]);
  }
}

}  // namespace teemm::fw::linux_fw
