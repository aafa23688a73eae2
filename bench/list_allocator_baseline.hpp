// bench/list_allocator_baseline: the baseline the VA allocator is compared with — a first-fit
// allocator over one sorted singly linked list of areas, one node per area, written here to the
// published description of OP-TEE's tee_mm (first fit from the pool's low end; free finds the
// area by walking the list). Not used by the core: it exists so that ratios come from one run.
#pragma once

#include <cstdint>
#include <vector>

namespace teemm::bench {

class ListAllocator {
 public:
  ListAllocator(uint64_t base, uint64_t size, size_t max_areas)
      : base_(base), end_(base + size), nodes_(max_areas + 1) {
    for (size_t i = 1; i < nodes_.size(); ++i) nodes_[i].next = i + 1 < nodes_.size() ? i + 1 : 0;
    free_ = nodes_.size() > 1 ? 1 : 0;
  }

  // First fit from the low end; 0 when nothing fits or no node is left.
  uint64_t allocate(uint64_t size, uint16_t owner) {
    if (free_ == 0) return 0;
    size_t previous = 0;  // nodes_[0] is the list head
    uint64_t cursor = base_;
    for (size_t at = nodes_[0].next; at != 0; previous = at, at = nodes_[at].next) {
      if (nodes_[at].start - cursor >= size) break;
      cursor = nodes_[at].start + nodes_[at].size;
    }
    if (end_ - cursor < size && nodes_[previous].next == 0) return 0;
    const size_t node = free_;
    free_ = nodes_[node].next;
    nodes_[node] = Node{cursor, size, nodes_[previous].next, owner};
    nodes_[previous].next = node;
    return cursor;
  }

  bool free(uint64_t start) {
    for (size_t previous = 0, at = nodes_[0].next; at != 0; previous = at, at = nodes_[at].next) {
      if (nodes_[at].start != start) continue;
      unlink(previous, at);
      return true;
    }
    return false;
  }

  // tee_mm has no per-owner teardown: a caller walks the list and frees what is its own.
  size_t free_all_of(uint16_t owner) {
    size_t freed = 0;
    for (size_t previous = 0, at = nodes_[0].next; at != 0;) {
      const size_t next = nodes_[at].next;
      if (nodes_[at].owner == owner) {
        unlink(previous, at);
        ++freed;
      } else {
        previous = at;
      }
      at = next;
    }
    return freed;
  }

 private:
  struct Node {
    uint64_t start = 0;
    uint64_t size = 0;
    size_t next = 0;
    uint16_t owner = 0;
  };
  void unlink(size_t previous, size_t at) {
    nodes_[previous].next = nodes_[at].next;
    nodes_[at].next = free_;
    free_ = at;
  }

  uint64_t base_;
  uint64_t end_;
  std::vector<Node> nodes_;
  size_t free_ = 0;
};

}  // namespace teemm::bench
