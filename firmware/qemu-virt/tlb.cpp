// firmware/qemu-virt/tlb.cpp: see tlb.hpp.
#include "tlb.hpp"

#include "runtime.hpp"
#include "sysreg.hpp"

namespace teemm::fw::conf {

bool El3Tlb::skipped() {
#if defined(TEEMM_FW_SKIP_TLBI)
  return true;
#else
  return false;
#endif
}

void El3Tlb::invalidate(arm64::Stage stage, uint64_t input, uint64_t size, uint64_t stride, bool leaf_only) {
  FW_CHECK(stage == arm64::Stage::kStage1);  // only the EL3 regime's table is edited live
  FW_CHECK(stride != 0 && (stride & (stride - 1)) == 0 && size != 0);
  ++calls_;
  if (skipped()) return;
  dsb_ishst();
  const uint64_t first = input & ~(stride - 1);
  const uint64_t operations = (input + size - first + stride - 1) / stride;
  if (operations > kMaxByVa) {
    tlbi_alle3();
    ++full_;
  } else {
    for (uint64_t va = first; va < input + size; va += stride) {
      if (leaf_only) {
        tlbi_vale3(va);
      } else {
        tlbi_vae3(va);
      }
    }
    by_va_ += operations;
  }
  dsb_ish();
  isb();
}

}  // namespace teemm::fw::conf
