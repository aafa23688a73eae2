// virt/guest_table: the guests (normal-world VMs) the secure world serves, their lifecycle and
// their quotas.
//
// Owns, per guest id: whether it exists, what it may hold at once (registered buffers, pages of
// shared memory, threads in use) and what it holds now. With virtualization off there is exactly
// one guest, id 0 (the only normal world), created at init and never destroyed. With it on, id 0
// is the hypervisor, which creates and destroys the others (VM_CREATED / VM_DESTROYED) and is
// not a guest itself. A quota is checked before anything is taken, so a guest at its limit is
// refused while every other guest goes on unaffected.
//
// Storage: a caller-sized array of Guest records; lookups scan it (guests are few; the bound is
// the caller's). Not thread-safe: the dispatcher serialises.
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/guest_id.hpp"
#include "base/result.hpp"

namespace teemm::virt {

struct Quota {
  uint32_t buffers = 256;  // registered shared-memory objects and RPC buffers
  uint64_t pages = 65536;  // pages those hold (256 MiB)
  uint32_t threads = 4;    // yielding calls in flight (running or suspended)
};

struct Usage {
  uint32_t buffers = 0;
  uint64_t pages = 0;
  uint32_t threads = 0;
  bool operator==(const Usage&) const = default;
};

struct Guest {
  GuestId id;
  bool live = false;
  Quota quota;
  Usage usage;
};

class GuestTable {
 public:
  GuestTable() = default;
  GuestTable(const GuestTable&) = delete;
  GuestTable& operator=(const GuestTable&) = delete;

  // `capacity` records in `storage`. With virtualization off, guest 0 is created here.
  // Errors: kInvalidArgument (no storage).
  Status init(Guest* storage, size_t capacity, bool virtualization, const Quota& default_quota);

  bool virtualization() const { return virtualization_; }
  // Errors: kInvalidArgument (id 0 with virtualization on, or any id but 0 with it off),
  // kOverlap (already live: refused, nothing changes), kOutOfMemory (no free record).
  Status create(GuestId id);
  // Forgets the guest; the caller has released everything it held. Error: kNotFound.
  Status destroy(GuestId id);

  Guest* find(GuestId id);
  const Guest* find(GuestId id) const;
  // Errors: kNotFound.
  Status set_quota(GuestId id, const Quota& quota);
  const Quota& default_quota() const { return default_quota_; }

  // Take or give back resources; taking beyond the quota is kLimitReached and takes nothing.
  Status take_buffer(GuestId id, uint64_t pages);
  void give_buffer(GuestId id, uint64_t pages);
  Status take_thread(GuestId id);
  void give_thread(GuestId id);

  template <typename Visitor>
  void for_each_live(Visitor&& visit) const {
    for (size_t i = 0; i < capacity_; ++i)
      if (guests_[i].live) visit(guests_[i]);
  }
  size_t live_count() const;

 private:
  Guest* guests_ = nullptr;
  size_t capacity_ = 0;
  bool virtualization_ = false;
  Quota default_quota_;
};

}  // namespace teemm::virt
