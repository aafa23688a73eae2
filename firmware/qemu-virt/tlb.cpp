// firmware/qemu-virt/tlb.cpp: see tlb.hpp.
#include "tlb.hpp"

namespace teemm::fw::conf {

bool CheckedTlb::skipped() {
#if defined(TEEMM_FW_SKIP_TLBI)
  return true;
#else
  return false;
#endif
}

void CheckedTlb::invalidate(arm64::Stage stage, uint64_t input, uint64_t size, uint64_t stride, bool leaf_only) {
  ++calls_;
  if (!skipped()) real_.invalidate(stage, input, size, stride, leaf_only);
}

}  // namespace teemm::fw::conf
