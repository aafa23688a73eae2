// firmware/qemu-virt/sysreg.hpp: system-register access, address translation (AT), TLB and cache
// maintenance, barriers and MMU on/off for the bare-metal image. Everything is inline assembly; the
// functions are always inlined so that they can be used from any exception level.
#pragma once

#include <cstdint>

namespace teemm::fw {

#define TEEMM_FW_INLINE [[gnu::always_inline]] inline

// ---- Plain register access -------------------------------------------------------------------------
#define TEEMM_FW_SYSREG_RO(reg)              \
  TEEMM_FW_INLINE uint64_t read_##reg() {    \
    uint64_t v;                              \
    asm volatile("mrs %0, " #reg : "=r"(v)); \
    return v;                                \
  }
#define TEEMM_FW_SYSREG_RW(reg) \
  TEEMM_FW_SYSREG_RO(reg)       \
  TEEMM_FW_INLINE void write_##reg(uint64_t v) { asm volatile("msr " #reg ", %0" : : "r"(v) : "memory"); }

TEEMM_FW_SYSREG_RW(mair_el3)
TEEMM_FW_SYSREG_RW(mair_el1)
TEEMM_FW_SYSREG_RW(tcr_el3)
TEEMM_FW_SYSREG_RW(tcr_el1)
TEEMM_FW_SYSREG_RW(ttbr0_el3)
TEEMM_FW_SYSREG_RW(ttbr0_el1)
TEEMM_FW_SYSREG_RW(ttbr1_el1)
TEEMM_FW_SYSREG_RW(sctlr_el3)
TEEMM_FW_SYSREG_RW(sctlr_el2)
TEEMM_FW_SYSREG_RW(sctlr_el1)
TEEMM_FW_SYSREG_RW(vtcr_el2)
TEEMM_FW_SYSREG_RW(vttbr_el2)
TEEMM_FW_SYSREG_RW(hcr_el2)
TEEMM_FW_SYSREG_RW(par_el1)
TEEMM_FW_SYSREG_RW(scr_el3)
TEEMM_FW_SYSREG_RW(vbar_el3)
TEEMM_FW_SYSREG_RW(vbar_el1)
TEEMM_FW_SYSREG_RW(tpidr_el3)
TEEMM_FW_SYSREG_RO(esr_el3)
TEEMM_FW_SYSREG_RO(far_el3)
TEEMM_FW_SYSREG_RO(esr_el1)
TEEMM_FW_SYSREG_RO(far_el1)
TEEMM_FW_SYSREG_RO(mpidr_el1)
TEEMM_FW_SYSREG_RO(midr_el1)
TEEMM_FW_SYSREG_RO(id_aa64mmfr0_el1)
TEEMM_FW_SYSREG_RO(ctr_el0)
TEEMM_FW_SYSREG_RO(cntpct_el0)
TEEMM_FW_SYSREG_RO(cntfrq_el0)

#undef TEEMM_FW_SYSREG_RW
#undef TEEMM_FW_SYSREG_RO

// Current exception level (0..3).
TEEMM_FW_INLINE unsigned current_el() {
  uint64_t v;
  asm volatile("mrs %0, CurrentEL" : "=r"(v));
  return static_cast<unsigned>((v >> 2) & 3);
}

// ---- Barriers --------------------------------------------------------------------------------------
TEEMM_FW_INLINE void isb() { asm volatile("isb" : : : "memory"); }
TEEMM_FW_INLINE void dsb_sy() { asm volatile("dsb sy" : : : "memory"); }
TEEMM_FW_INLINE void dsb_ish() { asm volatile("dsb ish" : : : "memory"); }
TEEMM_FW_INLINE void dsb_ishst() { asm volatile("dsb ishst" : : : "memory"); }
TEEMM_FW_INLINE void dmb_sy() { asm volatile("dmb sy" : : : "memory"); }

// ---- Address translation: AT + isb, returns PAR_EL1 -----------------------------------------------
// PAR_EL1 on success: F (bit 0) = 0, SH bits 8:7, NS bit 9, PA bits 47:12, ATTR bits 63:56.
// On a fault: F = 1, FST bits 6:1, PTW bit 8, S bit 9 (stage 2), bit 11 RES1.
#define TEEMM_FW_AT(op)                                    \
  TEEMM_FW_INLINE uint64_t at_##op(uint64_t va) {          \
    asm volatile("at " #op ", %0" : : "r"(va) : "memory"); \
    isb();                                                 \
    return read_par_el1();                                 \
  }
TEEMM_FW_AT(s1e3r)
TEEMM_FW_AT(s1e3w)
TEEMM_FW_AT(s1e1r)
TEEMM_FW_AT(s1e1w)
TEEMM_FW_AT(s1e0r)  // at EL1: the EL1&0 regime with EL0's permissions
TEEMM_FW_AT(s1e0w)
TEEMM_FW_AT(s12e1r)  // at EL3 with SCR_EL3.NS = 0 this behaves as s1e1r (no secure stage 2 in v8.0)
TEEMM_FW_AT(s12e1w)
TEEMM_FW_AT(s1e2r)
TEEMM_FW_AT(s1e2w)
#undef TEEMM_FW_AT

inline constexpr uint64_t kParF = uint64_t{1} << 0;
inline constexpr uint64_t kParNS = uint64_t{1} << 9;   // success: output in non-secure PA space
inline constexpr uint64_t kParS = uint64_t{1} << 9;    // fault: the fault is in stage 2
inline constexpr uint64_t kParPtw = uint64_t{1} << 8;  // fault: on a stage-2 walk of a stage-1 table
inline constexpr uint64_t kParPaMask = 0x0000fffffffff000ull;
TEEMM_FW_INLINE bool par_faulted(uint64_t par) { return (par & kParF) != 0; }
TEEMM_FW_INLINE uint64_t par_pa(uint64_t par) { return par & kParPaMask; }
TEEMM_FW_INLINE unsigned par_fst(uint64_t par) { return static_cast<unsigned>((par >> 1) & 0x3f); }
TEEMM_FW_INLINE unsigned par_attr(uint64_t par) { return static_cast<unsigned>(par >> 56); }
TEEMM_FW_INLINE unsigned par_sh(uint64_t par) { return static_cast<unsigned>((par >> 7) & 3); }

// ---- TLB maintenance (operands are addresses; the page number is formed here) ----------------------
TEEMM_FW_INLINE void tlbi_alle3() { asm volatile("tlbi alle3" : : : "memory"); }
TEEMM_FW_INLINE void tlbi_alle3is() { asm volatile("tlbi alle3is" : : : "memory"); }
TEEMM_FW_INLINE void tlbi_vae3(uint64_t va) {
  asm volatile("tlbi vae3, %0" : : "r"((va >> 12) & 0xfffffffffffull) : "memory");
}
TEEMM_FW_INLINE void tlbi_vale3(uint64_t va) {
  asm volatile("tlbi vale3, %0" : : "r"((va >> 12) & 0xfffffffffffull) : "memory");
}
TEEMM_FW_INLINE void tlbi_alle1() { asm volatile("tlbi alle1" : : : "memory"); }
TEEMM_FW_INLINE void tlbi_alle1is() { asm volatile("tlbi alle1is" : : : "memory"); }
TEEMM_FW_INLINE void tlbi_vmalle1() { asm volatile("tlbi vmalle1" : : : "memory"); }
TEEMM_FW_INLINE void tlbi_vae1(uint64_t va) {  // ASID 0
  asm volatile("tlbi vae1, %0" : : "r"((va >> 12) & 0xfffffffffffull) : "memory");
}
TEEMM_FW_INLINE void tlbi_ipas2e1(uint64_t ipa) {
  asm volatile("tlbi ipas2e1, %0" : : "r"((ipa >> 12) & 0xfffffffffull) : "memory");
}
TEEMM_FW_INLINE void tlbi_vmalls12e1() { asm volatile("tlbi vmalls12e1" : : : "memory"); }

// ---- Cache maintenance by VA (QEMU does not model caches; this is for architectural correctness) --
TEEMM_FW_INLINE uint64_t dcache_line_size() { return uint64_t{4} << ((read_ctr_el0() >> 16) & 0xf); }
TEEMM_FW_INLINE uint64_t icache_line_size() { return uint64_t{4} << (read_ctr_el0() & 0xf); }
TEEMM_FW_INLINE void dc_civac(uint64_t va) { asm volatile("dc civac, %0" : : "r"(va) : "memory"); }
TEEMM_FW_INLINE void dc_cvac(uint64_t va) { asm volatile("dc cvac, %0" : : "r"(va) : "memory"); }
TEEMM_FW_INLINE void dc_ivac(uint64_t va) { asm volatile("dc ivac, %0" : : "r"(va) : "memory"); }
TEEMM_FW_INLINE void dc_cvau(uint64_t va) { asm volatile("dc cvau, %0" : : "r"(va) : "memory"); }
TEEMM_FW_INLINE void ic_ivau(uint64_t va) { asm volatile("ic ivau, %0" : : "r"(va) : "memory"); }
TEEMM_FW_INLINE void ic_iallu() { asm volatile("ic iallu" : : : "memory"); }

// Clean and invalidate [va, va + size) to the point of coherency (e.g. tables written with the MMU off).
inline void dcache_clean_invalidate_range(uint64_t va, uint64_t size) {
  const uint64_t line = dcache_line_size();
  for (uint64_t p = va & ~(line - 1); p < va + size; p += line) dc_civac(p);
  dsb_sy();
}

// Make instructions written as data at [va, va + size) visible to instruction fetch.
inline void sync_icache_range(uint64_t va, uint64_t size) {
  const uint64_t dline = dcache_line_size();
  for (uint64_t p = va & ~(dline - 1); p < va + size; p += dline) dc_cvau(p);
  dsb_ish();
  const uint64_t iline = icache_line_size();
  for (uint64_t p = va & ~(iline - 1); p < va + size; p += iline) ic_ivau(p);
  dsb_ish();
  isb();
}

// ---- MMU on/off ----------------------------------------------------------------------------------
inline constexpr uint64_t kSctlrM = uint64_t{1} << 0;
inline constexpr uint64_t kSctlrA = uint64_t{1} << 1;
inline constexpr uint64_t kSctlrC = uint64_t{1} << 2;
inline constexpr uint64_t kSctlrI = uint64_t{1} << 12;
inline constexpr uint64_t kSctlrWxn = uint64_t{1} << 19;

// Values boot.S leaves in SCTLR_ELx: MMU, caches and alignment checks off (RES1 bits, plus SA).
inline constexpr uint64_t kSctlrEl3Reset = 0x30c50838;
inline constexpr uint64_t kSctlrEl2Reset = 0x30c50838;
inline constexpr uint64_t kSctlrEl1Reset = 0x30d00800;

// Program MAIR/TCR/TTBR0 of EL3, invalidate the EL3 TLB, turn on MMU and caches. The code calling this
// must be mapped at VA == PA (it keeps executing at the same addresses).
inline void enable_mmu_el3(uint64_t mair, uint64_t tcr, uint64_t ttbr0) {
  write_mair_el3(mair);
  write_tcr_el3(tcr);
  write_ttbr0_el3(ttbr0);
  isb();
  tlbi_alle3();
  dsb_sy();
  isb();
  write_sctlr_el3(read_sctlr_el3() | kSctlrM | kSctlrC | kSctlrI);
  isb();
}

// Turn the EL3 MMU and data cache off again and drop the EL3 TLB.
inline void disable_mmu_el3() {
  dsb_sy();
  write_sctlr_el3(read_sctlr_el3() & ~(kSctlrM | kSctlrC));
  isb();
  tlbi_alle3();
  dsb_sy();
  isb();
}

// The same for the EL1&0 regime (TTBR0_EL1 only), from EL1 or from EL3 (SCR_EL3.NS picks which
// security state's EL1 regime the TLBI affects).
inline void enable_mmu_el1(uint64_t mair, uint64_t tcr, uint64_t ttbr0) {
  write_mair_el1(mair);
  write_tcr_el1(tcr);
  write_ttbr0_el1(ttbr0);
  isb();
  tlbi_vmalle1();
  dsb_sy();
  isb();
  write_sctlr_el1(read_sctlr_el1() | kSctlrM | kSctlrC | kSctlrI);
  isb();
}

inline void disable_mmu_el1() {
  dsb_sy();
  write_sctlr_el1(read_sctlr_el1() & ~(kSctlrM | kSctlrC));
  isb();
  tlbi_vmalle1();
  dsb_sy();
  isb();
}

}  // namespace teemm::fw
