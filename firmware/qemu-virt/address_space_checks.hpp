// firmware/qemu-virt/address_space_checks: mm::AddressSpace itself on the CPU (issue 8, item 9).
//
// The dynamic part drives the allocator and the table directly; this part runs the core's run-time
// memory manager as a TEE core would. At secure EL1, with the EL1 MMU on the EL1&0 table, it builds
// an mm::AddressSpace over that live table (the static map, the registry the image registered, and
// storage at the end of the free RW area, address_space_storage()), with the library's
// AArch64TlbMaintenance for the EL1 regime as the table's TLB hook (tlb.hpp), and then:
//
//   churn      map_shared of a few hundred random page lists of non-secure DDR (a few chunks each,
//              some with a 2 MiB block; from a hot DDR window and from the firmware's NS scratch,
//              whose identity mapping lets a load prove the PA) for three guests; per range AT
//              three-way at EL1 and EL0, the library's translate / virt_to_phys / phys_to_virt
//              against the walker and AT, stores and loads through the mapping (and the alias),
//              a fetch at EL1 and at EL0 and an EL0 load (all must fault); unmap_shared by a
//              foreign guest refused (the range still works), then by the owner, after which a
//              load of every touched page must fault (a stale TLB entry would let it complete).
//   refusals   map_shared of lists with one page of TEE code, TA RAM, SDP, secure RAM, the GIC,
//              a device, PA 0, the NSEC_SHM carve-out, past the end of DRAM and past the output
//              size: kForbiddenMemory; a misaligned page, an empty list, too long lists: their
//              errors; ioremap of TEE code as a secure device, DRAM, the non-secure UART as secure,
//              the secure GPIO as non-secure, more than a declared device: kForbiddenMemory. Each
//              must change nothing (usage, PA index, table pool, and the leaves the walker finds in
//              both reservations).
//   ioremap    the PL031 RTC, the PL061 GPIO (non-secure and secure) and two virtio-mmio transports,
//              read through the new mapping (PrimeCell IDs, the virtio magic), three-way at EL1 and
//              EL0, fetches refused; the static UART answered from the static map; sharing counted
//              per owner, a foreign iounmap refused, the last iounmap unmaps (a load must fault).
//   teardown   release_guest of a guest with 80 ranges (more than two lock batches) and two
//              ioremaps: all gone (loads fault), another guest's ranges intact; then everything.
//
// audit() must hold after every step (audits are not counted: they are the library judging itself).
// Every AT comparison counts two translations; every answer of the library that is checked (a map
// or an ioremap, a lookup against the walker and AT, a refusal, an unmap's status, a release
// count) one; every load, store and fetch one access.
#pragma once

#include <cstdint>

namespace teemm::fw::conf {

// At secure EL1 with the EL1 MMU on the EL1&0 table; the table's SHM and IO reservations must be
// empty (the dynamic-sel1 part leaves them so).
void run_address_space_checks(uint64_t seed);

}  // namespace teemm::fw::conf
