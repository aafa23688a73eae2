// base/block_pool: fixed-size blocks carved out of caller-provided bytes, for the B-tree nodes.
//
// Owns nothing but the bookkeeping: the bytes belong to the caller. Blocks start on a 64-byte
// boundary so a tree node occupies whole cache lines. Released blocks go on a free list threaded
// through their first bytes; a bump index hands out never-used blocks, so init is O(1) and no
// byte is touched before it is needed.
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
    never_used_from_ = 0;
    in_use_ = 0;
    free_list_ = nullptr;
  }

  // How many blocks `size` bytes at any address surely hold (the worst alignment slack).
  static constexpr size_t blocks_in(size_t size, size_t block_size) {
    return size > kAlignment ? (size - (kAlignment - 1)) / block_size : 0;
  }

  // A block, or nullptr when none is left (callers size the pool so this does not happen).
  void* take() {
    void* block = nullptr;
    if (free_list_) {
      block = free_list_;
      free_list_ = *static_cast<void**>(block);
    } else if (never_used_from_ < capacity_) {
      block = base_ + never_used_from_++ * block_size_;
    } else {
      return nullptr;
    }
    ++in_use_;
    return block;
  }

  void give(void* block) {
    *static_cast<void**>(block) = free_list_;
    free_list_ = block;
    --in_use_;
  }

  size_t in_use() const { return in_use_; }
  size_t capacity() const { return capacity_; }

  // Every released block lies in the handed-out part, and the counts add up. O(released).
  bool audit() const {
    if (never_used_from_ > capacity_) return false;
    size_t released = 0;
    for (void* block = free_list_; block; block = *static_cast<void**>(block)) {
      const unsigned char* at = static_cast<const unsigned char*>(block);
      if (at < base_ || at >= base_ + never_used_from_ * block_size_) return false;
      if (static_cast<size_t>(at - base_) % block_size_ != 0 || ++released > never_used_from_) return false;
    }
    return released + in_use_ == never_used_from_;
  }

 private:
  unsigned char* base_ = nullptr;
  size_t block_size_ = 0;
  size_t capacity_ = 0;
  size_t never_used_from_ = 0;
  size_t in_use_ = 0;
  void* free_list_ = nullptr;
};

}  // namespace teemm
