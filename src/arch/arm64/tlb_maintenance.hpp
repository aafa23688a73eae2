// arch/arm64/tlb_maintenance: the TlbMaintenance hook in real instructions, for a stage-1 table of
// the EL1&0 regime (where an OP-TEE core runs), the EL2 regime or the EL3 regime, and for a stage-2
// table at EL2. AArch64 builds only.
//
// One call covers one operation's whole input range: DSB ISHST (cleared descriptors reach the
// walker), then one TLBI by VA per `stride` — the last-level form when only leaves went, the form
// that also drops walk-cache entries when tables were freed — or a single invalidate-all when that
// would take more than `max_by_va` operations, then DSB ISH (done on every CPU of the inner
// shareable domain) and ISB. Inner-shareable forms: other CPUs may hold the old entries. EL1
// invalidations name no ASID (the "all ASIDs" forms): the core's mappings are global.
//
// At EL2 the same class also serves a stage-2 table (the guest whose VMID VTTBR_EL2 holds): TLBI
// IPAS2E1IS (IPAS2LE1IS for leaves only) per stride, then, because the TLB may also hold combined
// stage 1 + stage 2 entries tagged by VA that no IPA operation can name, DSB ISH and TLBI
// VMALLE1IS for that VMID (the Arm ARM's sequence for a stage-2 change).
#pragma once

#if defined(__aarch64__)

#include <cstdint>

#include "arch/arm64/translation_table.hpp"

namespace teemm::arm64 {

enum class TlbRegime : unsigned char { kEl1, kEl2, kEl3 };

class AArch64TlbMaintenance final : public TlbMaintenance {
 public:
  // Above this many by-VA operations one invalidate-all is cheaper (Linux uses a similar bound).
  static constexpr uint64_t kDefaultMaxByVa = 64;

  explicit AArch64TlbMaintenance(TlbRegime regime, uint64_t max_by_va = kDefaultMaxByVa)
      : regime_(regime), max_by_va_(max_by_va) {}

  // `stage` must be kStage1, or kStage2 for the kEl2 regime; anything else is a programming error.
  void invalidate(Stage stage, uint64_t input, uint64_t size, uint64_t stride, bool leaf_only) override;

  uint64_t calls() const { return calls_; }
  uint64_t by_va_operations() const { return by_va_; }
  uint64_t full_invalidations() const { return full_; }

 private:
  void invalidate_page(uint64_t va, bool leaf_only) const;
  void invalidate_all() const;
  void invalidate_ipa(uint64_t ipa, bool leaf_only) const;

  TlbRegime regime_;
  uint64_t max_by_va_;
  uint64_t calls_ = 0;
  uint64_t by_va_ = 0;
  uint64_t full_ = 0;
};

}  // namespace teemm::arm64

#endif  // __aarch64__
