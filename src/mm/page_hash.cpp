// mm/page_hash: probing, storing and auditing the PA index's page hash.
#include "mm/page_hash.hpp"

namespace teemm::mm {

void PageHash::init(PageSlot* slots, size_t count) {
  slots_ = count != 0 ? slots : nullptr;
  count_ = slots_ != nullptr ? count : 0;
  window_ = count_ < kWindow ? count_ : kWindow;
  homes_ = count_ - window_ + 1;
  used_ = 0;
  for (size_t i = 0; i < count_; ++i) slots_[i] = PageSlot{};
}

// Fibonacci hashing of the page frame (with its type), then the high half of a 64x64 product to
// land in [0, homes_): any slot count works, no power of two, no division. Consecutive frames
// spread over the whole table, so a run's pages do not crowd one window.
size_t PageHash::home(uint64_t key) const {
  const uint64_t mixed = (key >> kPageShift) * 0x9e37'79b9'7f4a'7c15u;
  return static_cast<size_t>((static_cast<unsigned __int128>(mixed) * homes_) >> 64);
}

const PageSlot* PageHash::find(uint64_t key) const {
  if (count_ == 0) return nullptr;
  const PageSlot* window = slots_ + home(key);
  for (size_t i = 0; i < window_; ++i) {
    if ((window[i].key_bits & ~kPageMask) == key) return &window[i];
  }
  return nullptr;
}

bool PageHash::put(uint64_t key, uint64_t page_va, uint64_t pages) {
  if (count_ == 0) return false;
  PageSlot* window = slots_ + home(key);
  PageSlot* target = nullptr;
  for (size_t i = 0; i < window_; ++i) {
    if ((window[i].key_bits & ~kPageMask) == key) {
      target = &window[i];
      break;
    }
    if (target == nullptr && !is_full(window[i])) target = &window[i];
  }
  if (target == nullptr) return false;
  used_ += !is_full(*target);
  if (pages > kMaxPages) pages = kMaxPages;
  target->key_bits = key | (pages >> 12);
  target->va_bits = page_va | (pages & kPageMask);
  return true;
}

void PageHash::erase(PageSlot* slot) {
  used_ -= is_full(*slot);
  *slot = PageSlot{};
}

bool PageHash::audit() const {
  size_t full = 0;
  for (size_t i = 0; i < count_; ++i) {
    const PageSlot& slot = slots_[i];
    if (!is_full(slot)) {
      if (slot.va_bits != 0) return false;
      continue;
    }
    ++full;
    const uint64_t key = key_of(slot);
    const size_t start = home(key);
    if (i < start || i >= start + window_ || find(key) != &slot || pages_of(slot) == 0) return false;
  }
  return full == used_ && window_ <= count_ && (count_ == 0 || homes_ + window_ == count_ + 1);
}

}  // namespace teemm::mm
