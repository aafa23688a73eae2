// arch/arm64/registers: values for the system registers that point the MMU at teemm's tables
// (TCR_ELx, VTCR_EL2) and the SCTLR bits that turn it on. Field names follow the Arm ARM.
#pragma once

#include <cstdint>

#include "arch/arm64/descriptor.hpp"

namespace teemm::arm64 {

// ---- TCR_EL1 / TCR_EL2 / TCR_EL3 fields for TTBR0 ----------------------------------------------
inline constexpr unsigned kTcrT0SZShift = 0;
inline constexpr unsigned kTcrIRGN0Shift = 8;
inline constexpr unsigned kTcrORGN0Shift = 10;
inline constexpr unsigned kTcrSH0Shift = 12;
inline constexpr unsigned kTcrTG0Shift = 14;             // 0b00 = 4 KiB
inline constexpr uint64_t kTcrEPD1 = uint64_t{1} << 23;  // TCR_EL1: no walks through TTBR1
inline constexpr unsigned kTcrTG1Shift = 30;             // TCR_EL1.TG1: TTBR1's granule
inline constexpr uint64_t kTcrTG1Granule4K = 0b10;       // TG1 encodes sizes differently from TG0; 0b00 is reserved
inline constexpr unsigned kTcrEL1IPSShift = 32;          // TCR_EL1.IPS
inline constexpr unsigned kTcrEL3PSShift = 16;           // TCR_EL2/EL3.PS
inline constexpr uint64_t kTcrEL3RES1 = (uint64_t{1} << 23) | (uint64_t{1} << 31);
inline constexpr uint64_t kCacheWriteBackWriteAllocate = 0b01;

// ---- VTCR_EL2 fields -------------------------------------------------------------------------------
inline constexpr unsigned kVtcrT0SZShift = 0;
inline constexpr unsigned kVtcrSL0Shift = 6;
inline constexpr unsigned kVtcrIRGN0Shift = 8;
inline constexpr unsigned kVtcrORGN0Shift = 10;
inline constexpr unsigned kVtcrSH0Shift = 12;
inline constexpr unsigned kVtcrTG0Shift = 14;
inline constexpr unsigned kVtcrPSShift = 16;
inline constexpr uint64_t kVtcrRES1 = uint64_t{1} << 31;

// ---- SCTLR_ELx -----------------------------------------------------------------------------------
inline constexpr uint64_t kSctlrM = uint64_t{1} << 0;   // MMU enable
inline constexpr uint64_t kSctlrA = uint64_t{1} << 1;   // alignment check
inline constexpr uint64_t kSctlrC = uint64_t{1} << 2;   // data cacheability
inline constexpr uint64_t kSctlrI = uint64_t{1} << 12;  // instruction cacheability
inline constexpr uint64_t kSctlrWXN = uint64_t{1} << 19;

// Physical address size encodings shared by IPS/PS: 32, 36, 40, 42, 44, 48 bits.
constexpr uint64_t physical_size_encoding(unsigned pa_bits) {
  return pa_bits <= 32 ? 0 : pa_bits <= 36 ? 1 : pa_bits <= 40 ? 2 : pa_bits <= 42 ? 3 : pa_bits <= 44 ? 4 : 5;
}

constexpr uint64_t tcr_walk_attributes(unsigned va_bits) {
  return (uint64_t{64 - va_bits} << kTcrT0SZShift) | (kCacheWriteBackWriteAllocate << kTcrIRGN0Shift) |
         (kCacheWriteBackWriteAllocate << kTcrORGN0Shift) | (kShareInner << kTcrSH0Shift);
}

// TCR_EL3 (or TCR_EL2 without VHE): TTBR0 only, 4 KiB granule, cached walks.
constexpr uint64_t tcr_el3_value(unsigned va_bits, unsigned pa_bits) {
  return kTcrEL3RES1 | tcr_walk_attributes(va_bits) | (physical_size_encoding(pa_bits) << kTcrEL3PSShift);
}

// TCR_EL1: TTBR0 only (TTBR1 walks disabled), 4 KiB granule, cached walks. TG1 is programmed with
// a valid 4 KiB encoding although EPD1 keeps TTBR1 unused: a reserved TG1 value is treated as an
// IMPLEMENTATION DEFINED granule, and nothing should depend on that.
constexpr uint64_t tcr_el1_value(unsigned va_bits, unsigned pa_bits) {
  return kTcrEPD1 | (kTcrTG1Granule4K << kTcrTG1Shift) | tcr_walk_attributes(va_bits) |
         (physical_size_encoding(pa_bits) << kTcrEL1IPSShift);
}

// VTCR_EL2.SL0 for a 4 KiB granule: 0 = start at level 2, 1 = level 1, 2 = level 0.
constexpr uint64_t vtcr_sl0_for(unsigned ipa_bits) { return 2 - start_level_for(ipa_bits); }

// A stage-2 walk that starts at level 0 (an IPA space above 39 bits) is valid only when VTCR_EL2.PS
// gives more than 42 bits of output (the Arm ARM's consistency check on SL0; QEMU enforces it). teemm
// does not concatenate root tables, so a 40-bit IPA space needs a 44- or 48-bit PS.
constexpr bool vtcr_start_level_valid(unsigned ipa_bits, unsigned pa_bits) {
  return start_level_for(ipa_bits) > 0 || pa_bits > 42;
}

constexpr uint64_t vtcr_el2_value(unsigned ipa_bits, unsigned pa_bits) {
  return kVtcrRES1 | (uint64_t{64 - ipa_bits} << kVtcrT0SZShift) | (vtcr_sl0_for(ipa_bits) << kVtcrSL0Shift) |
         (kCacheWriteBackWriteAllocate << kVtcrIRGN0Shift) | (kCacheWriteBackWriteAllocate << kVtcrORGN0Shift) |
         (kShareInner << kVtcrSH0Shift) | (physical_size_encoding(pa_bits) << kVtcrPSShift);
}

}  // namespace teemm::arm64
