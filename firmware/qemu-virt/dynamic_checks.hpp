// firmware/qemu-virt/dynamic_checks: part 3 of issue 4, run twice: at EL3 on the EL3-regime
// table and at secure EL1 on the EL1&0-regime table, each with the library's AArch64 TLB
// maintenance for that regime. On the live system, thousands of random shared-memory ranges are allocated in the
// shm-vaspace reservation (mm::VaAllocator), mapped with map_pages onto random lists of non-secure DDR pages (NSEC_SHM
// attributes: non-secure, RW, cached, XN) and unmapped again, wholly or in two pieces (which splits level-2 blocks,
// break-before-make), with the TLB maintenance of tlb.hpp installed.
//
// After each step: AT + walker + model (three-way, translation.hpp) on the range, its guard page
// and random addresses of the window (on the EL1&0 table also AT S1E0R/W: EL0 may touch none of
// it); stores and loads through the new mapping (and, for pages of the static nsec-shm region, a
// read through the static alias proves the PA); a fetch in every new range must fault (shared
// memory is never executable; at secure EL1 also an EL0 fetch and an EL0 load). Before an unmap the
// pages are touched, so the TLB holds them; after it, a real load must fault: AT never consults the
// TLB, so only this catches a missing invalidate. At the end every table page must be back in the
// pool and the allocator's audit must pass.
#pragma once

#include <cstdint>

#include "report.hpp"
#include "translation.hpp"

namespace teemm::fw::conf {

// Maps and unmaps shared memory live on the table of `regime`, at that exception level (the
// caller runs it there with the MMU on), with the library's TLB maintenance for that regime.
void run_dynamic_checks(Regime regime, Part part, uint64_t seed);

}  // namespace teemm::fw::conf
