// Reading non-contiguous page lists (see page_list.hpp).
#include "shm/page_list.hpp"

#include "optee/abi.hpp"

namespace teemm::shm {

Result<PageListResult> read_page_list(const NormalWorldMemory& memory, uint64_t buf_ptr, uint64_t size,
                                      const PageListScratch& scratch) {
  if (size == 0) return Error::kZeroSize;
  if (scratch.pages == nullptr || scratch.lists == nullptr) return Error::kInvalidArgument;
  PageListResult result;
  result.offset = buf_ptr & kPageMask;
  result.pages = pages_spanned(result.offset, size);
  if (result.pages == 0) return Error::kAddressOverflow;
  if (result.pages > scratch.page_capacity) return Error::kLimitReached;
  const size_t list_count = PageListScratch::list_pages_for(result.pages);
  if (list_count > scratch.list_capacity) return Error::kLimitReached;

  PhysAddr list(buf_ptr & ~kPageMask);
  uint64_t filled = 0;
  for (size_t l = 0; l < list_count; ++l) {
    for (size_t seen = 0; seen < l; ++seen)
      if (scratch.lists[seen] == list) return Error::kInvalidArgument;  // the chain loops
    scratch.lists[l] = list;
    const uint64_t here =
        result.pages - filled < optee::kPagesPerListPage ? result.pages - filled : optee::kPagesPerListPage;
    if (Status s = memory.read(list, scratch.pages + filled, here * sizeof(PhysAddr)); !s) return s.error();
    filled += here;
    if (filled < result.pages) {  // the next pointer is read only when it is needed
      const Result<uint64_t> next = memory.read_u64(list + Size(optee::kPagesPerListPage * sizeof(uint64_t)));
      if (!next) return next.error();
      if ((*next & kPageMask) != 0) return Error::kMisaligned;
      list = PhysAddr(*next);
    }
  }
  for (uint64_t i = 0; i < result.pages; ++i)
    if (!scratch.pages[i].is_page_aligned()) return Error::kMisaligned;
  return result;
}

}  // namespace teemm::shm
