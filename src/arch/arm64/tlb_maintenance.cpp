// TLB maintenance instructions for the EL1&0 and EL3 regimes (see tlb_maintenance.hpp).
#include "arch/arm64/tlb_maintenance.hpp"

#if defined(__aarch64__)

namespace teemm::arm64 {
namespace {

// TLBI by-VA operand: VA[55:12] in bits [43:0]; ASID (bits [63:48]) unused by the forms below.
constexpr uint64_t tlbi_operand(uint64_t va) { return (va >> kPageShift) & ((uint64_t{1} << 44) - 1); }

}  // namespace

void AArch64TlbMaintenance::invalidate(Stage stage, uint64_t input, uint64_t size, uint64_t stride, bool leaf_only) {
  if (size == 0 || stride == 0 || (stride & (stride - 1)) != 0) __builtin_trap();
  const bool stage2 = stage == Stage::kStage2;
  if (stage2 && regime_ != TlbRegime::kEl2) __builtin_trap();  // only EL2 may invalidate stage 2
  ++calls_;
  asm volatile("dsb ishst" ::: "memory");
  const uint64_t first = input & ~(stride - 1);
  const uint64_t operations = (input + size - first + stride - 1) / stride;
  if (operations > max_by_va_) {
    if (stage2)
      asm volatile("tlbi vmalls12e1is" ::: "memory");  // stage 1 and 2 of the current VMID
    else
      invalidate_all();
    ++full_;
  } else {
    for (uint64_t address = first; address < input + size; address += stride) {
      if (stage2)
        invalidate_ipa(address, leaf_only);
      else
        invalidate_page(address, leaf_only);
    }
    by_va_ += operations;
    // Combined stage 1 + stage 2 entries are tagged by VA, which no IPA operation names.
    if (stage2) asm volatile("dsb ish\n\ttlbi vmalle1is" ::: "memory");
  }
  asm volatile("dsb ish\n\tisb" ::: "memory");
}

void AArch64TlbMaintenance::invalidate_ipa(uint64_t ipa, bool leaf_only) const {
  // IPAS2E1IS takes IPA[51:12] in bits [39:0]: the same shift as a VA operand.
  if (leaf_only)
    asm volatile("tlbi ipas2le1is, %0" ::"r"(tlbi_operand(ipa)) : "memory");
  else
    asm volatile("tlbi ipas2e1is, %0" ::"r"(tlbi_operand(ipa)) : "memory");
}

void AArch64TlbMaintenance::invalidate_page(uint64_t va, bool leaf_only) const {
  const uint64_t operand = tlbi_operand(va);
  if (regime_ == TlbRegime::kEl2) {
    if (leaf_only)
      asm volatile("tlbi vale2is, %0" ::"r"(operand) : "memory");
    else
      asm volatile("tlbi vae2is, %0" ::"r"(operand) : "memory");
  } else if (regime_ == TlbRegime::kEl3) {
    if (leaf_only)
      asm volatile("tlbi vale3is, %0" ::"r"(operand) : "memory");
    else
      asm volatile("tlbi vae3is, %0" ::"r"(operand) : "memory");
  } else {
    if (leaf_only)
      asm volatile("tlbi vaale1is, %0" ::"r"(operand) : "memory");
    else
      asm volatile("tlbi vaae1is, %0" ::"r"(operand) : "memory");
  }
}

void AArch64TlbMaintenance::invalidate_all() const {
  if (regime_ == TlbRegime::kEl2)
    asm volatile("tlbi alle2is" ::: "memory");
  else if (regime_ == TlbRegime::kEl3)
    asm volatile("tlbi alle3is" ::: "memory");
  else
    asm volatile("tlbi vmalle1is" ::: "memory");
}

}  // namespace teemm::arm64

#endif  // __aarch64__
