// firmware/qemu-virt/tlb: the library's AArch64 TLB maintenance, as the dynamic checks install it.
//
// arm64::AArch64TlbMaintenance (src/arch/arm64/tlb_maintenance) issues the real instructions for
// the EL3 or the EL1&0 regime; this wrapper only adds the test-only switch: built with
// TEEMM_FW_SKIP_TLBI it forwards nothing, and the dynamic checks must then fail, which proves they
// can see a missing invalidate.
#pragma once

#include <cstdint>

#include "arch/arm64/tlb_maintenance.hpp"

namespace teemm::fw::conf {

class CheckedTlb final : public arm64::TlbMaintenance {
 public:
  explicit CheckedTlb(arm64::TlbRegime regime) : real_(regime) {}

  void invalidate(arm64::Stage stage, uint64_t input, uint64_t size, uint64_t stride, bool leaf_only) override;

  uint64_t calls() const { return calls_; }
  uint64_t by_va() const { return real_.by_va_operations(); }
  uint64_t full() const { return real_.full_invalidations(); }
  static bool skipped();  // built with TEEMM_FW_SKIP_TLBI

 private:
  arm64::AArch64TlbMaintenance real_;
  uint64_t calls_ = 0;
};

}  // namespace teemm::fw::conf
