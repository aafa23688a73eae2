// firmware/qemu-virt/lower_el.cpp: see lower_el.hpp.
#include "lower_el.hpp"

#include <cstddef>

#include "sysreg.hpp"

static_assert(offsetof(teemm::fw::NsEl2Job, hcr_el2) == FW_NSJOB_HCR);
static_assert(offsetof(teemm::fw::NsEl2Job, vtcr_el2) == FW_NSJOB_VTCR);
static_assert(offsetof(teemm::fw::NsEl2Job, vttbr_el2) == FW_NSJOB_VTTBR);
static_assert(offsetof(teemm::fw::NsEl2Job, sctlr_el1) == FW_NSJOB_SCTLR_EL1);
static_assert(offsetof(teemm::fw::NsEl2Job, tcr_el1) == FW_NSJOB_TCR_EL1);
static_assert(offsetof(teemm::fw::NsEl2Job, ttbr0_el1) == FW_NSJOB_TTBR0_EL1);
static_assert(offsetof(teemm::fw::NsEl2Job, mair_el1) == FW_NSJOB_MAIR_EL1);
static_assert(offsetof(teemm::fw::NsEl2Job, count) == FW_NSJOB_COUNT);
static_assert(offsetof(teemm::fw::NsEl2Job, done) == FW_NSJOB_DONE);
static_assert(offsetof(teemm::fw::NsEl2Job, ops) == FW_NSJOB_OPS);
static_assert(offsetof(teemm::fw::NsEl2Job, results) == FW_NSJOB_RESULTS);
static_assert(sizeof(teemm::fw::NsAtOp) == 16);

extern "C" {
uint64_t fw_run_lower(uint64_t arg, uint64_t entry, uint64_t stack_top, uint64_t target);
extern teemm::fw::NsEl2Job fw_ns_el2_job;
extern char fw_ns_el2_stack_top[];
uint64_t fw_ns_el2_agent(uint64_t job);
}

namespace teemm::fw {

namespace {
constexpr uint64_t kTargetSecureEl1 = 1;
constexpr uint64_t kTargetNonSecureEl2 = 2;
}  // namespace

uint64_t run_at_secure_el1(LowerElEntry entry, uint64_t arg, uint64_t stack_top) {
  return fw_run_lower(arg, reinterpret_cast<uint64_t>(entry), stack_top & ~uint64_t{15}, kTargetSecureEl1);
}

void return_to_el3(uint64_t value) {
  register uint64_t x0 asm("x0") = value;
  asm volatile("smc %1" : : "r"(x0), "i"(FW_SMC_RETURN) : "memory");
  for (;;) {
  }
}

uint64_t run_at_ns_el2(uint64_t entry, uint64_t arg, uint64_t stack_top) {
  return fw_run_lower(arg, entry, stack_top & ~uint64_t{15}, kTargetNonSecureEl2);
}

NsEl2Job& ns_el2_job() { return fw_ns_el2_job; }

uint64_t run_ns_el2_job() {
  dsb_sy();  // the job is in memory before the agent reads it
  const uint64_t done =
      run_at_ns_el2(reinterpret_cast<uint64_t>(&fw_ns_el2_agent), reinterpret_cast<uint64_t>(&fw_ns_el2_job),
                    reinterpret_cast<uint64_t>(fw_ns_el2_stack_top));
  dsb_sy();
  return done;
}

}  // namespace teemm::fw
