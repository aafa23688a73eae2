// shm/page_list: reading a non-contiguous page list (OPTEE_MSG_ATTR_NONCONTIG) out of normal-world
// memory into secure memory.
//
// The normal world describes a buffer of `size` bytes starting `offset` bytes into its first page
// as a chain of 4 KiB list pages: 511 page addresses each, then the physical address of the next
// list page. The reader follows exactly as many list pages as ceil((offset + size) / 4 KiB) pages
// need (the last next-pointer is never followed), reads each list page's entries once, straight
// into the caller's secure array, and refuses: a list page outside non-secure DDR or not 4 KiB
// aligned, a chain that comes back to a list page it already read, a data page not 4 KiB aligned,
// more pages than the caller's bound. Whether the data pages may be shared memory is the address
// space's decision (mm::AddressSpace::map_shared checks every page again, whoever calls it).
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/address.hpp"
#include "base/result.hpp"
#include "shm/normal_world_memory.hpp"

namespace teemm::shm {

// Secure storage for one read: the page addresses, and the list pages already read (for loops).
struct PageListScratch {
  PhysAddr* pages = nullptr;
  size_t page_capacity = 0;
  PhysAddr* lists = nullptr;
  size_t list_capacity = 0;  // list_pages_for(page_capacity) always suffices

  static constexpr size_t list_pages_for(size_t pages) { return (pages + 510) / 511; }
};

struct PageListResult {
  uint64_t pages = 0;   // entries filled in scratch.pages
  uint64_t offset = 0;  // of the buffer in its first page
};

// `buf_ptr` is tmem.buf_ptr: the first list page's PA with the buffer's offset in bits [11:0].
// Errors: kZeroSize; kAddressOverflow (offset + size wraps); kLimitReached (more pages than
// scratch holds); kForbiddenMemory (a list page outside non-secure DDR); kMisaligned (a data page
// not 4 KiB aligned); kInvalidArgument (a loop in the chain, or no scratch).
Result<PageListResult> read_page_list(const NormalWorldMemory& memory, uint64_t buf_ptr, uint64_t size,
                                      const PageListScratch& scratch);

// Pages a buffer of `size` bytes at `offset` into its first page spans; 0 when that overflows.
constexpr uint64_t pages_spanned(uint64_t offset, uint64_t size) {
  if (size > UINT64_MAX - offset - kPageMask) return 0;
  return (offset + size + kPageMask) >> kPageShift;
}

}  // namespace teemm::shm
