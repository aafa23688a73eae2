// firmware/qemu-virt/main.cpp: firmware_main of the conformance image (issue 4).
//
// 1. selftest: the infrastructure (probes, MMU, lower ELs) on hand-made tables (selftest.cpp);
// 2. the library builds the qemu-virt static map and its tables; EL3 turns its MMU on with them and
//    keeps running on them; then, with the CPU as judge:
//    static    AT over every page and random addresses, three-way (static_checks.cpp), at EL3 and
//              at secure EL1 on the same table;
//    access    real loads, stores and fetches on samples of each kind of region (access_checks.cpp);
//    el0       secure EL0 on the EL1&0 table: real EL0 accesses and AT S1E0R/W (access_checks.cpp,
//              static_checks.cpp, el0.S);
//    dynamic   thousands of shared-memory ranges mapped and unmapped on the live system with real
//              TLB maintenance (dynamic_checks.cpp, tlb.cpp);
//    address-space  mm::AddressSpace itself at secure EL1: map_shared, refusals, ioremap,
//              release_guest (address_space_checks.cpp);
//    stage2    a library-built stage 2 and NS EL1 stage 1 judged at non-secure EL2 (stage2_checks.cpp).
// 3. one summary line per part and overall; exit status 0 only with 0 mismatches.
//
// Command-line words (QEMU: -semihosting-config enable=on,target=native,arg=WORD):
//   crash=el3 | crash=el1 | crash=el2   raise an unexpected exception at EL3, secure EL1 or non-secure
//                                       EL2 after the banner (the run must exit with 3 / 3 / 4).
//   seed=N                              seed of the random samples (default fixed, printed).
//   verbose                             print the selftest line by line.
//   vacuous                             test only: count nothing, so that every part falls short of
//                                       its minimum (the run must fail).
#include <cstdint>

#include "access_checks.hpp"
#include "address_space_checks.hpp"
#include "console.hpp"
#include "dynamic_checks.hpp"
#include "layout.hpp"
#include "lower_el.hpp"
#include "platform.hpp"
#include "report.hpp"
#include "runtime.hpp"
#include "selftest.hpp"
#include "stage2_checks.hpp"
#include "static_checks.hpp"
#include "sysreg.hpp"

using namespace teemm::fw;
using namespace teemm::fw::conf;

namespace {

constexpr uint64_t kDefaultSeed = 0x7ee3317e5eedull;

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

// seed=N (decimal or 0x hex) from the command line.
uint64_t seed_from_cmdline() {
  for (const char* p = cmdline(); *p != '\0'; ++p) {
    if ((p == cmdline() || p[-1] == ' ') && p[0] == 's' && p[1] == 'e' && p[2] == 'e' && p[3] == 'd' && p[4] == '=') {
      p += 5;
      const unsigned base = (p[0] == '0' && p[1] == 'x') ? 16 : 10;
      if (base == 16) p += 2;
      uint64_t v = 0;
      for (; *p != '\0' && *p != ' '; ++p) {
        const char c = *p;
        const unsigned d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : 99;
        if (d >= base) break;
        v = v * base + d;
      }
      return v;
    }
  }
  return kDefaultSeed;
}

uint64_t g_seed = kDefaultSeed;

void timed(const char* what, void (*part)()) {
  const uint64_t start = now_us();
  part();
  printf("  (%s: %lu ms)\n", what, (now_us() - start) / 1000);
}

// The minimums of the static and access parts come from the map (see run_static_checks and
// run_access_checks): every page of every mapped region twice (AT R and W) plus the edges and
// samples; at least 12 loads, a store and a fetch per region (a load and a fetch per device).
constexpr const char* kStaticMinimum = "2 AT (R, W) x (every page of every mapped region + edges + samples)";
constexpr const char* kAccessMinimum = "12 loads + a store + a fetch per region (devices: a load + a fetch) + samples";

// Secure EL1 parts: the EL1&0-regime table, at S-EL1 and at S-EL0.
uint64_t secure_el1_checks(uint64_t) {
  timed("static-sel1", [] {
    require_minimum(Part::kStaticEl1, run_static_checks(Regime::kSecureEl1, Part::kStaticEl1, g_seed + 1), 0,
                    kStaticMinimum);
  });
  timed("access-sel1", [] {
    require_minimum(Part::kAccessEl1, 0, run_access_checks(Regime::kSecureEl1, Part::kAccessEl1, g_seed + 3),
                    kAccessMinimum);
  });
  // EL0: a load, a store and a fetch at EL0 in every region and the EL0 window (first: a fetch that
  // completes is the plainest witness), then AT S1E0R/W over the whole map (EL0 may do nothing
  // anywhere in it: permission faults where it is mapped).
  timed("el0", [] {
    const uint64_t accesses = run_access_checks(Regime::kSecureEl0, Part::kEl0, g_seed + 8);
    const uint64_t translations = run_static_checks(Regime::kSecureEl0, Part::kEl0, g_seed + 7);
    require_minimum(Part::kEl0, translations, accesses,
                    "AT S1E0R/W on every page of every mapped region + edges + samples; at EL0 12 loads, a store and "
                    "a fetch per region (devices: a load + a fetch) + samples + the EL0 window");
  });
  timed("dynamic-sel1", [] { run_dynamic_checks(Regime::kSecureEl1, Part::kDynamicEl1, g_seed + 6); });
  timed("address-space", [] { run_address_space_checks(g_seed + 9); });
  return 0;
}

void print_banner() {
  printf("\nteemm conformance firmware (qemu-virt) -- EL%u, MIDR 0x%08lx\n", current_el(), read_midr_el1());
  if (cmdline()[0] != '\0') printf("  command line: %s\n", cmdline());
  printf("  text 0x%08lx..0x%08lx, rodata ..0x%08lx, data/bss ..0x%08lx, free RW 0x%08lx..0x%08lx (%lu KiB)\n",
         text().base, text().end(), rodata().end(), bss().end(), rw_free().base, rw_free().end(),
         rw_free().size / 1024);
  printf("  NS agent 0x%08lx..0x%08lx, NS scratch 0x%08lx..0x%08lx\n", ns_agent().base, ns_agent().end(),
         ns_scratch().base, ns_scratch().end());
}

}  // namespace

extern "C" int firmware_main() {
  print_banner();
  inject_faults();

  if (run_selftest(has_arg("verbose")) != 0) return FW_EXIT_FAIL;
  g_seed = seed_from_cmdline();
  if (has_arg("vacuous")) {
    printf("conformance: vacuous (test only): nothing will be counted\n");
    stop_counting();
  }
  printf("conformance: seed 0x%lx\n", g_seed);

  build_system();
  enable_el3_mmu();
  printf("conformance: EL3 MMU on, running on teemm's tables (TTBR0_EL3 0x%lx, TCR_EL3 0x%lx, MAIR_EL3 0x%lx)\n",
         read_ttbr0_el3(), read_tcr_el3(), read_mair_el3());

  timed("static-el3", [] {
    require_minimum(Part::kStaticEl3, run_static_checks(Regime::kEl3, Part::kStaticEl3, g_seed), 0, kStaticMinimum);
  });
  timed("access-el3", [] {
    require_minimum(Part::kAccessEl3, 0, run_access_checks(Regime::kEl3, Part::kAccessEl3, g_seed + 2), kAccessMinimum);
  });
  timed("secure EL1 and EL0 parts", [] {
    enable_secure_el1_mmu();
    run_at_secure_el1(&secure_el1_checks, 0);
    disable_secure_el1_mmu();
  });
  timed("dynamic", [] { run_dynamic_checks(Regime::kEl3, Part::kDynamic, g_seed + 4); });
  timed("stage2", [] { run_stage2_checks(g_seed + 5); });

  print_summary();
  if (total_mismatches() != 0) {
    printf("teemm-fw: FAIL\n");
    return FW_EXIT_FAIL;
  }
  printf("teemm-fw: PASS\n");
  return FW_EXIT_PASS;
}
