// base/sort: an in-place heap sort for the core, which has no <algorithm> it may rely on.
// O(n log n) worst case, no allocation, not stable (callers sort on total orders).
#pragma once

#include <cstddef>
#include <utility>

namespace teemm {

template <typename T, typename Less>
void heap_sort(T* items, size_t count, Less less) {
  auto sift_down = [&](size_t root, size_t end) {
    for (;;) {
      size_t child = 2 * root + 1;
      if (child >= end) return;
      if (child + 1 < end && less(items[child], items[child + 1])) ++child;
      if (!less(items[root], items[child])) return;
      std::swap(items[root], items[child]);
      root = child;
    }
  };
  for (size_t i = count / 2; i-- > 0;) sift_down(i, count);
  for (size_t end = count; end > 1; --end) {
    std::swap(items[0], items[end - 1]);
    sift_down(0, end - 1);
  }
}

}  // namespace teemm
