// firmware/qemu-virt/tlb: the library's TlbMaintenance hook, implemented for the EL3 regime.
//
// The library calls invalidate() once per unmap for the whole input range (and once per block it
// splits, between break and make). The architectural sequence: DSB ISHST (the cleared descriptors
// are visible to the walker), then TLBI VALE3 per `stride` when only leaves went (VAE3 when tables
// were freed too, so walk-cache entries go as well), or TLBI ALLE3 when that would be too many
// operations, then DSB ISH (the invalidation has completed) and ISB (no later instruction was
// fetched or translated with the old entries).
//
// Built with TEEMM_FW_SKIP_TLBI (test only, CMake option of the same name) it does nothing at all:
// the dynamic checks must then fail, which proves they can see a missing invalidate.
#pragma once

#include <cstdint>

#include "arch/arm64/translation_table.hpp"

namespace teemm::fw::conf {

class El3Tlb final : public arm64::TlbMaintenance {
 public:
  // Above this many by-VA operations one TLBI ALLE3 is cheaper.
  static constexpr uint64_t kMaxByVa = 64;

  void invalidate(arm64::Stage stage, uint64_t input, uint64_t size, uint64_t stride, bool leaf_only) override;

  uint64_t calls() const { return calls_; }
  uint64_t by_va() const { return by_va_; }
  uint64_t full() const { return full_; }
  static bool skipped();  // built with TEEMM_FW_SKIP_TLBI

 private:
  uint64_t calls_ = 0;
  uint64_t by_va_ = 0;
  uint64_t full_ = 0;
};

}  // namespace teemm::fw::conf
