// tests/support/huge_pages: caller-sized pools backed by 2 MiB pages where the host allows it.
//
// A TEE maps its pools with 2 MiB blocks; a host process gets 4 KiB pages unless it asks. Asking
// (transparent huge pages, madvise mode) keeps benchmarks of large pools from measuring the host's
// TLB instead of the data structure. Falls back silently to ordinary pages.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <cstdlib>
#include <memory>
#include <new>

namespace teemm::testing {

struct HugeFree {
  size_t count = 0;
  template <typename T>
  void operator()(T* items) const {
    for (size_t i = 0; i < count; ++i) items[i].~T();
    std::free(items);
  }
};

template <typename T>
using HugeArray = std::unique_ptr<T[], HugeFree>;

template <typename T>
HugeArray<T> make_huge_array(size_t count) {
  constexpr size_t kHuge = size_t{2} << 20;
  const size_t bytes = (count * sizeof(T) + kHuge - 1) / kHuge * kHuge;
  void* memory = std::aligned_alloc(kHuge, bytes);
  if (memory == nullptr) throw std::bad_alloc();
  (void)madvise(memory, bytes, MADV_HUGEPAGE);
  T* items = static_cast<T*>(memory);
  for (size_t i = 0; i < count; ++i) new (&items[i]) T();
  return HugeArray<T>(items, HugeFree{count});
}

}  // namespace teemm::testing
