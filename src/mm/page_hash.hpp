// mm/page_hash: a bounded, lossy page -> (VA, pages to the run's end) cache for the PA index.
//
// Owns nothing but a view of caller-sized slot storage. A key is a typed page address
// (type << kRunTypeShift | page-aligned PA). Open addressing with a fixed probe window: a key
// lives in one of the kWindow slots that start at its home, so every operation reads at most
// kWindow consecutive slots (two or three cache lines), whatever the keys. A key that finds no
// free slot in its window is simply not stored: the table never refuses its owner and never
// grows a probe sequence. Because lookups scan the whole window rather than stopping at the first
// empty slot, erasing is just emptying the slot: no tombstones, no backward shifting.
//
// Which value a key should hold, and when, is the PA index's business (mm/pa_index.cpp); this
// class only stores, finds and erases. Not thread-safe, like its owner.
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/address.hpp"

namespace teemm::mm {

// One slot, 16 bytes and 16-aligned: four per cache line, never straddling two. Opaque to callers,
// who only provide storage.
//  key_bits: the typed page address; its low 12 bits hold bits 12..23 of the page count.
//  va_bits:  the VA of the page; its low 12 bits hold bits 0..11 of the page count.
// The page count (pages from this page to the end of the run, saturated at kMaxPages) is never
// zero in a full slot; an empty slot has key_bits == kEmptyKey, whose type field (0xff) no run has.
struct alignas(16) PageSlot {
  uint64_t key_bits = ~uint64_t{0};
  uint64_t va_bits = 0;
};

class PageHash {
 public:
  static constexpr uint32_t kWindow = 8;
  static constexpr uint64_t kMaxPages = (uint64_t{1} << 24) - 1;  // 64 GiB; longer runs are cut short here
  static constexpr uint64_t kEmptyKey = ~uint64_t{0};

  // Uses `count` slots at `slots` (which must outlive this) and empties them: O(count). With no
  // slots the hash is disabled: find finds nothing and put stores nothing.
  void init(PageSlot* slots, size_t count);

  bool enabled() const { return count_ != 0; }
  size_t capacity() const { return count_; }
  size_t used() const { return used_; }

  // The slot holding `key`, or null.
  const PageSlot* find(uint64_t key) const;
  PageSlot* find(uint64_t key) { return const_cast<PageSlot*>(static_cast<const PageHash*>(this)->find(key)); }

  // Stores key -> (page_va, pages), replacing the key's value if present. Returns false, storing
  // nothing, when the key's window is full. `pages` (>= 1) is saturated at kMaxPages.
  bool put(uint64_t key, uint64_t page_va, uint64_t pages);
  void erase(PageSlot* slot);

  static uint64_t key_of(const PageSlot& slot) { return slot.key_bits & ~kPageMask; }
  static uint64_t va_of(const PageSlot& slot) { return slot.va_bits & ~kPageMask; }
  static uint64_t pages_of(const PageSlot& slot) {
    return ((slot.key_bits & kPageMask) << 12) | (slot.va_bits & kPageMask);
  }
  static bool is_full(const PageSlot& slot) { return slot.key_bits != kEmptyKey; }

  // Calls visit(const PageSlot&) for every full slot, in slot order.
  template <typename Visitor>
  void for_each(Visitor&& visit) const {
    for (size_t i = 0; i < count_; ++i) {
      if (is_full(slots_[i])) visit(slots_[i]);
    }
  }

  // Every full slot sits in its key's window, is the first holder of its key there, holds a
  // non-zero page count, and the full slots number used(). O(capacity).
  bool audit() const;

 private:
  size_t home(uint64_t key) const;

  PageSlot* slots_ = nullptr;
  size_t count_ = 0;
  size_t window_ = 0;  // min(kWindow, count_)
  size_t homes_ = 0;   // count_ - window_ + 1: windows never wrap
  size_t used_ = 0;
};

}  // namespace teemm::mm
