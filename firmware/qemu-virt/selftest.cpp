// firmware/qemu-virt/selftest.cpp: see selftest.hpp. The tables built here are deliberately tiny
// and hand-made (independent of the library under test).
#include "selftest.hpp"

#include <cstdint>

#include "console.hpp"
#include "exceptions.hpp"
#include "layout.hpp"
#include "lower_el.hpp"
#include "sysreg.hpp"

namespace teemm::fw {
namespace {

// ---- A minimal stage-1 EL3 table (VA == PA, 4 GiB, 4 KiB granule, walk from level 1) ---------------
constexpr uint64_t kDescValid = 1;
constexpr uint64_t kDescTable = 3;            // level 1/2
constexpr uint64_t kDescBlock = 1;            // level 1/2
constexpr uint64_t kDescPage = 3;             // level 3
constexpr uint64_t kAttrDevice = 0 << 2;      // MAIR index 0
constexpr uint64_t kAttrNormal = 1 << 2;      // MAIR index 1
constexpr uint64_t kApOneRangeRes1 = 1 << 6;  // AP[1]: RES1 in regimes with one VA range
constexpr uint64_t kApReadOnly = 1 << 7;      // AP[2]
constexpr uint64_t kShInner = 3 << 8;
constexpr uint64_t kAf = 1 << 10;
constexpr uint64_t kXn = uint64_t{1} << 54;
constexpr uint64_t kNormalRw = kAttrNormal | kApOneRangeRes1 | kShInner | kAf;
constexpr uint64_t kDeviceRw = kAttrDevice | kApOneRangeRes1 | kAf | kXn;

constexpr uint64_t kMair = 0x44ff00;                     // 0: Device-nGnRnE, 1: Normal WB RW-alloc, 2: Normal NC
constexpr uint64_t kTcrEl3 = 32                          // T0SZ: 4 GiB
                             | (1 << 8)                  // IRGN0 WB-WA
                             | (1 << 10)                 // ORGN0 WB-WA
                             | (3 << 12)                 // SH0 inner shareable
                             | (0 << 14)                 // TG0 4 KiB
                             | (2 << 16)                 // PS 40 bits
                             | (1u << 23) | (1u << 31);  // RES1

// Test pages in TA_RAM (0x0e400000), mapped by an L3 table.
constexpr uint64_t kTestBase = 0x0e400000;
constexpr uint64_t kPageRwx = kTestBase + 0x0000;       // RW, executable
constexpr uint64_t kPageRo = kTestBase + 0x1000;        // RO, XN
constexpr uint64_t kPageRwXn = kTestBase + 0x2000;      // RW, XN
constexpr uint64_t kPageUnmapped = kTestBase + 0x3000;  // invalid L3 entry
constexpr uint64_t kPageNoAf = kTestBase + 0x4000;      // AF = 0
constexpr uint64_t kUnmappedL2 = 0x0e600000;            // invalid L2 entry
constexpr uint64_t kUnmappedL1 = 0x40000000;            // invalid L1 entry

alignas(4096) uint64_t g_l1[512];
alignas(4096) uint64_t g_l2[512];
alignas(4096) uint64_t g_l3[512];

uint64_t g_probe_target = 0x1122334455667788ull;

int g_failures = 0;
bool g_verbose = true;

void check(bool ok, const char* what, uint64_t got = 0) {
  if (!ok) {
    ++g_failures;
    printf("  [FAIL] %s (got 0x%lx)\n", what, got);
  } else if (g_verbose) {
    printf("  [ok]   %s\n", what);
  }
}

void build_tables() {
  for (auto& e : g_l1) e = 0;
  for (auto& e : g_l2) e = 0;
  for (auto& e : g_l3) e = 0;
  g_l1[0] = reinterpret_cast<uint64_t>(g_l2) | kDescTable;
  g_l2[kUart0Base >> 21] = (kUart0Base & ~uint64_t{0x1fffff}) | kDeviceRw | kDescBlock;
  g_l2[0x0e000000 >> 21] = 0x0e000000 | kNormalRw | kDescBlock;        // secure RAM incl. TEE_RAM_RX
  g_l2[0x0e200000 >> 21] = 0x0e200000 | kNormalRw | kXn | kDescBlock;  // TEE_RAM_RO + TEE_RAM_RW
  g_l2[kTestBase >> 21] = reinterpret_cast<uint64_t>(g_l3) | kDescTable;
  g_l3[0] = kPageRwx | kNormalRw | kDescPage;
  g_l3[1] = kPageRo | kNormalRw | kApReadOnly | kXn | kDescPage;
  g_l3[2] = kPageRwXn | kNormalRw | kXn | kDescPage;
  g_l3[4] = kPageNoAf | (kNormalRw & ~kAf) | kXn | kDescPage;
  (void)kDescValid;
  dcache_clean_invalidate_range(reinterpret_cast<uint64_t>(g_l1), sizeof(g_l1));
  dcache_clean_invalidate_range(reinterpret_cast<uint64_t>(g_l2), sizeof(g_l2));
  dcache_clean_invalidate_range(reinterpret_cast<uint64_t>(g_l3), sizeof(g_l3));
}

// A data abort at EL3 with the given status code, at the given address.
bool is_data_abort(uint64_t esr, uint64_t far, unsigned fsc, uint64_t va) {
  return esr_ec(esr) == kEcDataAbortSame && esr_fsc(esr) == fsc && far == va;
}
bool is_inst_abort(uint64_t esr, uint64_t far, unsigned fsc, uint64_t va) {
  return esr_ec(esr) == kEcInstAbortSame && esr_fsc(esr) == fsc && far == va;
}
bool par_fault_is(uint64_t par, unsigned fst) { return par_faulted(par) && par_fst(par) == fst; }

void test_mmu_off() {
  printf("selftest: probes with the MMU off (EL%u)\n", current_el());
  uint64_t v = 0;
  uint64_t esr = 0;
  const auto target = reinterpret_cast<uint64_t>(&g_probe_target);
  check(!probe_read(target, &v, &esr) && v == 0x1122334455667788ull, "probe_read of .data", v);
  check(!probe_write(target, 0xa5a5a5a5a5a5a5a5ull, &esr) && g_probe_target == 0xa5a5a5a5a5a5a5a5ull,
        "probe_write of .data", g_probe_target);
  // QEMU 7.2 does not fault unaligned accesses with the MMU off (architecturally Device memory), so
  // ask for alignment checking explicitly to get a recoverable fault.
  uint64_t far = 0;
  const bool unchecked_faulted = probe_read(target + 1, &v, &esr, &far);
  printf("  [info] unaligned 64-bit read with the MMU off and SCTLR_EL3.A = 0: %s\n",
         unchecked_faulted ? "faults" : "does not fault");
  write_sctlr_el3(read_sctlr_el3() | kSctlrA);
  isb();
  const bool faulted = probe_read(target + 1, &v, &esr, &far);
  write_sctlr_el3(read_sctlr_el3() & ~kSctlrA);
  isb();
  check(faulted && is_data_abort(esr, far, kFscAlignment, target + 1),
        "unaligned probe_read with SCTLR_EL3.A: data abort, alignment fault, recovered", esr);
}

void test_mmu_on() {
  printf("selftest: EL3 MMU on with a hand-made table (TTBR0_EL3 = %p)\n", static_cast<void*>(g_l1));
  build_tables();
  enable_mmu_el3(kMair, kTcrEl3, reinterpret_cast<uint64_t>(g_l1));
  check((read_sctlr_el3() & kSctlrM) != 0, "running with SCTLR_EL3.M set");

  // AT S1E3R/W against the table.
  const uint64_t code = reinterpret_cast<uint64_t>(&test_mmu_on);
  uint64_t par = at_s1e3r(code);
  check(!par_faulted(par) && par_pa(par) == (code & ~uint64_t{0xfff}) && par_attr(par) == 0xff,
        "AT S1E3R of our code: PA == VA, Normal WB (ATTR 0xff)", par);
  par = at_s1e3r(kUart0Base);
  check(!par_faulted(par) && par_pa(par) == kUart0Base && par_attr(par) == 0x00, "AT S1E3R of UART0: Device", par);
  check(par_fault_is(at_s1e3r(kUnmappedL1), fsc_translation(1)), "AT S1E3R unmapped: translation fault L1",
        read_par_el1());
  check(par_fault_is(at_s1e3r(kUnmappedL2), fsc_translation(2)), "AT S1E3R unmapped: translation fault L2",
        read_par_el1());
  check(par_fault_is(at_s1e3r(kPageUnmapped), fsc_translation(3)), "AT S1E3R unmapped: translation fault L3",
        read_par_el1());
  check(!par_faulted(at_s1e3r(kPageRo)), "AT S1E3R read-only page: ok", read_par_el1());
  check(par_fault_is(at_s1e3w(kPageRo), fsc_permission(3)), "AT S1E3W read-only page: permission fault L3",
        read_par_el1());
  check(par_fault_is(at_s1e3r(kPageNoAf), fsc_access_flag(3)), "AT S1E3R AF=0 page: access flag fault L3",
        read_par_el1());

  // Real accesses.
  uint64_t v = 0;
  uint64_t esr = 0;
  uint64_t far = 0;
  check(probe_read(kUnmappedL1, &v, &esr, &far) && is_data_abort(esr, far, fsc_translation(1), kUnmappedL1),
        "probe_read unmapped: data abort, translation L1", esr);
  check(probe_read(kUnmappedL2, &v, &esr, &far) && is_data_abort(esr, far, fsc_translation(2), kUnmappedL2),
        "probe_read unmapped: data abort, translation L2", esr);
  check(probe_read(kPageUnmapped + 8, &v, &esr, &far) && is_data_abort(esr, far, fsc_translation(3), kPageUnmapped + 8),
        "probe_read unmapped: data abort, translation L3, FAR exact", esr);
  check(probe_read(kPageNoAf, &v, &esr, &far) && is_data_abort(esr, far, fsc_access_flag(3), kPageNoAf),
        "probe_read AF=0: data abort, access flag L3", esr);
  check(!probe_read(kPageRo, &v, &esr), "probe_read read-only page: ok", esr);
  check(probe_write(kPageRo, 1, &esr, &far) && is_data_abort(esr, far, fsc_permission(3), kPageRo) && esr_wnr(esr),
        "probe_write read-only page: data abort, permission L3, WnR", esr);
  check(!probe_write(kPageRwXn, 0x5a5a, &esr) && !probe_read(kPageRwXn, &v, &esr) && v == 0x5a5a,
        "probe_write + probe_read RW page: ok, value read back", v);
  check(!probe_execute(ret_page(), &esr), "probe_execute ret_page (RX): ok", esr);
  bool planted = false;
  check(!probe_execute_planted(kPageRwx, &esr, &far, &planted) && planted,
        "probe_execute_planted RWX page: ret planted, executed, ok", esr);
  check(probe_execute(kPageRwXn, &esr, &far) && is_inst_abort(esr, far, fsc_permission(3), kPageRwXn),
        "probe_execute XN page: instruction abort, permission L3", esr);
  check(probe_execute(kPageUnmapped, &esr, &far) && is_inst_abort(esr, far, fsc_translation(3), kPageUnmapped),
        "probe_execute unmapped page: instruction abort, translation L3", esr);
  const uint64_t ro = rodata().base;
  check(probe_execute(ro, &esr, &far) && is_inst_abort(esr, far, fsc_permission(2), ro),
        "probe_execute .rodata (XN block): instruction abort, permission L2", esr);

  // TLB maintenance: unmap a page the TLB has seen, without and then with TLBI.
  check(!probe_read(kPageRwXn, &v, &esr), "page in the TLB (read ok)", esr);
  g_l3[2] = 0;
  dsb_sy();
  const bool at_sees_unmap = par_faulted(at_s1e3r(kPageRwXn));
  const bool load_faults_before_tlbi = probe_read(kPageRwXn, &v, &esr);
  printf("  [info] after clearing the PTE without TLBI: AT %s, load %s\n",
         at_sees_unmap ? "faults (AT walks the table)" : "translates (stale TLB)",
         load_faults_before_tlbi ? "faults" : "succeeds (stale TLB entry)");
  tlbi_vae3(kPageRwXn);
  dsb_sy();
  isb();
  check(probe_read(kPageRwXn, &v, &esr, &far) && is_data_abort(esr, far, fsc_translation(3), kPageRwXn),
        "after TLBI VAE3: load faults, translation L3", esr);
  check(par_fault_is(at_s1e3r(kPageRwXn), fsc_translation(3)), "after TLBI VAE3: AT faults", read_par_el1());

  disable_mmu_el3();
  check((read_sctlr_el3() & kSctlrM) == 0, "EL3 MMU off again");
}

uint64_t el1_entry(uint64_t arg) {
  const unsigned el = current_el();
  uint64_t v = 0;
  uint64_t esr = 0;
  uint64_t far = 0;
  const auto target = reinterpret_cast<uint64_t>(&g_probe_target);
  const bool read_ok = !probe_read(target, &v, &esr);
  write_sctlr_el1(read_sctlr_el1() | kSctlrA);
  isb();
  const bool align_faults =
      probe_read(target + 4 + 1, &v, &esr, &far) && esr_ec(esr) == kEcDataAbortSame && esr_fsc(esr) == kFscAlignment;
  write_sctlr_el1(read_sctlr_el1() & ~kSctlrA);
  isb();
  printf("  S-EL1: CurrentEL %u; probe_read %s; unaligned probe with SCTLR_EL1.A %s\n", el, read_ok ? "ok" : "FAULTED",
         align_faults ? "faults (alignment), recovered" : "did NOT fault");
  return (el == 1 && read_ok && align_faults) ? arg + 1 : 0;
}

void test_secure_el1() {
  printf("selftest: drop to secure EL1 and come back\n");
  const uint64_t r1 = run_at_secure_el1(&el1_entry, 41);
  check(r1 == 42, "run_at_secure_el1: ran at EL1, probes work there, result returned", r1);
  const uint64_t r2 = run_at_secure_el1(&el1_entry, 99);
  check(r2 == 100 && current_el() == 3 && (read_scr_el3() & 1) == 0, "second round trip; back at secure EL3", r2);
}

void test_ns_el2_stage2() {
  printf("selftest: non-secure EL2 agent, stage-2 AT\n");
  // Stage 2: IPA [0, 1 GiB) -> PA [1 GiB, 2 GiB) as one level-1 block; the rest unmapped.
  auto* s2 = reinterpret_cast<uint64_t*>(ns_scratch().base);
  for (unsigned i = 0; i < 512; ++i) s2[i] = 0;
  s2[0] = 0x40000000 | (0xfull << 2) /* MemAttr Normal WB */ | (3 << 6) /* S2AP RW */ | kShInner | kAf | kDescBlock;
  dcache_clean_invalidate_range(ns_scratch().base, 4096);

  NsEl2Job& job = ns_el2_job();
  job.hcr_el2 = (uint64_t{1} << 31) | 1;  // RW | VM
  job.vtcr_el2 = 32 | (1 << 6) | (1 << 8) | (1 << 10) | (3 << 12) | (2 << 16) | (1u << 31);
  job.vttbr_el2 = ns_scratch().base;
  job.sctlr_el1 = kSctlrEl1Reset;  // EL1 stage 1 off: VA == IPA
  job.tcr_el1 = 0;
  job.ttbr0_el1 = 0;
  job.mair_el1 = kMair;
  job.ops[0] = {NsOp::kAtS12E1R, 0x00123000};
  job.ops[1] = {NsOp::kAtS12E1R, 0x40000000};
  job.ops[2] = {NsOp::kAtS1E1R, 0x40000000};
  job.ops[3] = {NsOp::kAtS12E1W, 0x3ffff000};
  job.ops[4] = {NsOp::kTlbiAlle1, 0};
  job.ops[5] = {NsOp::kAtS1E2R, 0x0e100000};
  job.count = 6;
  job.done = 0;
  const uint64_t done = run_ns_el2_job();
  check(done == 6 && job.done == 6 && current_el() == 3 && (read_scr_el3() & 1) == 0,
        "agent ran 6 operations at NS-EL2 and returned to secure EL3", done);
  const uint64_t* r = job.results;
  check(!par_faulted(r[0]) && par_pa(r[0]) == 0x40123000 && (r[0] & kParNS) != 0,
        "AT S12E1R IPA 0x00123000 -> PA 0x40123000 (NS)", r[0]);
  check(par_faulted(r[1]) && (r[1] & kParS) != 0 && par_fst(r[1]) == fsc_translation(1),
        "AT S12E1R IPA 0x40000000: stage-2 translation fault L1", r[1]);
  check(!par_faulted(r[2]) && par_pa(r[2]) == 0x40000000, "AT S1E1R 0x40000000 -> IPA 0x40000000 (stage 1 only)", r[2]);
  check(!par_faulted(r[3]) && par_pa(r[3]) == 0x7ffff000, "AT S12E1W IPA 0x3ffff000 -> PA 0x7ffff000", r[3]);
  check(r[4] == 0, "TLBI op result 0", r[4]);
  check(!par_faulted(r[5]) && par_pa(r[5]) == 0x0e100000, "AT S1E2R with EL2 MMU off: flat", r[5]);
}

}  // namespace

int run_selftest(bool verbose) {
  g_failures = 0;
  g_verbose = verbose;
  test_mmu_off();
  test_mmu_on();
  test_secure_el1();
  test_ns_el2_stage2();
  printf("selftest: %s (%d failure%s)\n", g_failures == 0 ? "PASS" : "FAIL", g_failures, g_failures == 1 ? "" : "s");
  return g_failures;
}

}  // namespace teemm::fw
