// firmware/qemu-virt/dynamic_checks: part 3 of issue 4. On the live system (EL3 running on the
// static table), thousands of random shared-memory ranges are allocated in the shm-vaspace
// reservation (mm::VaAllocator), mapped with map_pages onto random lists of non-secure DDR pages
// (NSEC_SHM attributes: non-secure, RW, cached, XN) and unmapped again, wholly or in two pieces
// (which splits level-2 blocks, break-before-make), with the TLB maintenance of tlb.hpp installed.
//
// After each step: AT + walker + model (three-way, translation.hpp) on the range, its guard page
// and random addresses of the window; stores and loads through the new mapping (and, for pages of
// the static nsec-shm region, a read through the static alias proves the PA). Before an unmap the
// pages are touched, so the TLB holds them; after it, a real load must fault: AT never consults the
// TLB, so only this catches a missing invalidate. At the end every table page must be back in the
// pool and the allocator's audit must pass.
#pragma once

#include <cstdint>

namespace teemm::fw::conf {

void run_dynamic_checks(uint64_t seed);

}  // namespace teemm::fw::conf
