// Guests, lifecycle and quotas (see guest_table.hpp).
#include "virt/guest_table.hpp"

namespace teemm::virt {

Status GuestTable::init(Guest* storage, size_t capacity, bool virtualization, const Quota& default_quota) {
  if (storage == nullptr || capacity == 0) return Error::kInvalidArgument;
  guests_ = storage;
  capacity_ = capacity;
  virtualization_ = virtualization;
  default_quota_ = default_quota;
  for (size_t i = 0; i < capacity_; ++i) guests_[i] = Guest{};
  if (!virtualization_) {
    guests_[0].id = GuestId(0);
    guests_[0].live = true;
    guests_[0].quota = default_quota_;
  }
  return Status();
}

Status GuestTable::create(GuestId id) {
  if (virtualization_ == id.is_hypervisor()) return Error::kInvalidArgument;
  if (find(id) != nullptr) return Error::kOverlap;
  for (size_t i = 0; i < capacity_; ++i) {
    if (guests_[i].live) continue;
    guests_[i] = Guest{id, true, default_quota_, Usage{}};
    return Status();
  }
  return Error::kOutOfMemory;
}

Status GuestTable::destroy(GuestId id) {
  Guest* guest = find(id);
  if (guest == nullptr) return Error::kNotFound;
  *guest = Guest{};
  return Status();
}

Guest* GuestTable::find(GuestId id) {
  for (size_t i = 0; i < capacity_; ++i)
    if (guests_[i].live && guests_[i].id == id) return &guests_[i];
  return nullptr;
}

const Guest* GuestTable::find(GuestId id) const { return const_cast<GuestTable*>(this)->find(id); }

Status GuestTable::set_quota(GuestId id, const Quota& quota) {
  Guest* guest = find(id);
  if (guest == nullptr) return Error::kNotFound;
  guest->quota = quota;
  return Status();
}

Status GuestTable::take_buffer(GuestId id, uint64_t pages) {
  Guest* guest = find(id);
  if (guest == nullptr) return Error::kNotFound;
  if (guest->usage.buffers >= guest->quota.buffers || pages > guest->quota.pages - guest->usage.pages)
    return Error::kLimitReached;
  ++guest->usage.buffers;
  guest->usage.pages += pages;
  return Status();
}

void GuestTable::give_buffer(GuestId id, uint64_t pages) {
  if (Guest* guest = find(id)) {
    --guest->usage.buffers;
    guest->usage.pages -= pages;
  }
}

Status GuestTable::take_thread(GuestId id) {
  Guest* guest = find(id);
  if (guest == nullptr) return Error::kNotFound;
  if (guest->usage.threads >= guest->quota.threads) return Error::kLimitReached;
  ++guest->usage.threads;
  return Status();
}

void GuestTable::give_thread(GuestId id) {
  if (Guest* guest = find(id)) --guest->usage.threads;
}

size_t GuestTable::live_count() const {
  size_t n = 0;
  for_each_live([&](const Guest&) { ++n; });
  return n;
}

}  // namespace teemm::virt
