// base/block_pool: fixed-size blocks carved out of caller-provided bytes, for the B-tree nodes.
//
// Owns nothing but the bookkeeping: the bytes belong to the caller. Blocks start on a 64-byte
// boundary so a tree node occupies whole cache lines. Never-used blocks are carved from either
// end of the storage, so init is O(1) and no byte is touched before it is needed; released blocks
// go on a free list per end, threaded through their first bytes.
#pragma once

#include <cstddef>
#include <cstdint>

namespace teemm {

// One unit of caller storage for a BlockPool, sized by its owner (bytes per element it serves).
// Opaque: callers only allocate arrays of these and hand them over.
template <size_t kBytes>
class PoolStorageUnit {
 public:
  PoolStorageUnit() = default;

 private:
  [[maybe_unused]] alignas(8) unsigned char bytes_[kBytes];  // the pool reads these as blocks
};

// Which end of the storage a block is carved from. A tree takes its few, hot inner nodes from one
// end and its many leaves from the other, so the inner nodes share a small, dense run of pages
// (TLB entries and cache sets) instead of being scattered among the leaves.
enum class PoolEnd : uint8_t { kLow, kHigh };

class BlockPool {
 public:
  static constexpr size_t kAlignment = 64;

  // Uses [bytes, bytes + size) for blocks of `block_size` bytes (a multiple of kAlignment).
  void init(void* bytes, size_t size, size_t block_size) {
    const uintptr_t start = reinterpret_cast<uintptr_t>(bytes);
    const uintptr_t aligned = (start + kAlignment - 1) & ~uintptr_t{kAlignment - 1};
    const size_t slack = static_cast<size_t>(aligned - start);
    base_ = reinterpret_cast<unsigned char*>(aligned);
    block_size_ = block_size;
    capacity_ = (bytes && size > slack) ? (size - slack) / block_size : 0;
    carved_[0] = carved_[1] = 0;
    free_list_[0] = free_list_[1] = nullptr;
    in_use_ = 0;
  }

  // How many blocks `size` bytes at any address surely hold (the worst alignment slack).
  static constexpr size_t blocks_in(size_t size, size_t block_size) {
    return size > kAlignment ? (size - (kAlignment - 1)) / block_size : 0;
  }

  // A block, preferably from `end`, or nullptr when none is left at all (callers size the pool
  // so this does not happen). Released blocks of `end` come first, then never-used ones carved
  // from that end; only when the two ends have met does it reuse a block the other end released.
  void* take(PoolEnd end) {
    const unsigned side = static_cast<unsigned>(end);
    void* block = pop(side);
    if (!block && carved_[0] + carved_[1] < capacity_) block = carve(side);
    if (!block) block = pop(side ^ 1u);
    if (block) ++in_use_;
    return block;
  }

  // Returns a block to the free list of `end` (the end it is meant for, whichever carved it).
  void give(void* block, PoolEnd end) {
    const unsigned side = static_cast<unsigned>(end);
    *static_cast<void**>(block) = free_list_[side];
    free_list_[side] = block;
    --in_use_;
  }

  size_t in_use() const { return in_use_; }
  size_t capacity() const { return capacity_; }

  // Every released block is one that was carved, and the counts add up. O(released).
  bool audit() const {
    if (carved_[0] + carved_[1] > capacity_) return false;
    size_t released = 0;
    for (void* list : free_list_) {
      for (void* block = list; block; block = *static_cast<void**>(block)) {
        if (!was_carved(block) || ++released > carved_[0] + carved_[1]) return false;
      }
    }
    return released + in_use_ == carved_[0] + carved_[1];
  }

 private:
  void* pop(unsigned side) {
    void* block = free_list_[side];
    if (block) free_list_[side] = *static_cast<void**>(block);
    return block;
  }
  void* carve(unsigned side) {
    const size_t index = side == 0 ? carved_[0] : capacity_ - 1 - carved_[1];
    ++carved_[side];
    return base_ + index * block_size_;
  }
  bool was_carved(const void* block) const {
    const unsigned char* at = static_cast<const unsigned char*>(block);
    if (at < base_ || at >= base_ + capacity_ * block_size_) return false;
    const size_t offset = static_cast<size_t>(at - base_);
    if (offset % block_size_ != 0) return false;
    const size_t index = offset / block_size_;
    return index < carved_[0] || index >= capacity_ - carved_[1];
  }

  unsigned char* base_ = nullptr;
  size_t block_size_ = 0;
  size_t capacity_ = 0;
  size_t carved_[2] = {0, 0};  // never-used blocks handed out from the low and the high end
  void* free_list_[2] = {nullptr, nullptr};
  size_t in_use_ = 0;
};

}  // namespace teemm
