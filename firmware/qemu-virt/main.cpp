// firmware/qemu-virt/main.cpp: firmware_main of the conformance image. For now it proves the
// infrastructure (selftest); the conformance checks against the library come after it.
//
// Command-line words (QEMU: -semihosting-config enable=on,target=native,arg=WORD):
//   crash=el3 | crash=el1 | crash=el2   raise an unexpected exception at EL3, secure EL1 or non-secure
//                                       EL2 after the banner, to check that the run reports it and
//                                       exits with status 3 / 3 / 4 instead of hanging.
#include <cstdint>

#include "console.hpp"
#include "layout.hpp"
#include "lower_el.hpp"
#include "runtime.hpp"
#include "selftest.hpp"
#include "sysreg.hpp"

using namespace teemm::fw;

namespace {

uint64_t undefined_instruction(uint64_t) {
  asm volatile("udf #0");
  return 0;
}

void inject_faults() {
  if (has_arg("crash=el3")) {
    printf("crash=el3: executing UDF at EL3\n");
    undefined_instruction(0);
  }
  if (has_arg("crash=el1")) {
    printf("crash=el1: executing UDF at secure EL1\n");
    run_at_secure_el1(&undefined_instruction, 0);
  }
  if (has_arg("crash=el2")) {
    printf("crash=el2: branching to secure RAM from non-secure EL2\n");
    run_at_ns_el2(text().base, 0, ns_agent().end());
  }
}

}  // namespace

extern "C" int firmware_main() {
  printf("\nteemm conformance firmware (qemu-virt) -- EL%u, MIDR 0x%08lx\n", current_el(), read_midr_el1());
  if (cmdline()[0] != '\0') printf("  command line: %s\n", cmdline());
  printf("  text   0x%08lx..0x%08lx  rodata 0x%08lx..0x%08lx\n", text().base, text().end(), rodata().base,
         rodata().end());
  printf("  data   0x%08lx..0x%08lx  bss    0x%08lx..0x%08lx\n", data().base, data().end(), bss().base,
         bss().end());
  printf("  stacks EL3 top 0x%08lx, EL1 top 0x%08lx; free RW 0x%08lx..0x%08lx (%lu KiB)\n", el3_stack().end(),
         el1_stack().end(), rw_free().base, rw_free().end(), rw_free().size / 1024);
  printf("  NS agent 0x%08lx..0x%08lx, NS scratch 0x%08lx..0x%08lx\n", ns_agent().base, ns_agent().end(),
         ns_scratch().base, ns_scratch().end());

  inject_faults();

  const int failures = run_selftest(true);
  if (failures != 0) return FW_EXIT_FAIL;

  printf("teemm-fw: PASS\n");
  return FW_EXIT_PASS;
}
