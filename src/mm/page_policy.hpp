// mm/page_policy: which physical pages the run-time memory manager may map, and as what.
//
// Owns the answer to two questions the registry's regions decide but are too slow to ask of it
// page by page: may [pa, pa + size) be mapped as normal-world shared memory, and may it be
// ioremapped as device registers of a given security? Built once from a PhysMemRegistry into a
// sorted array of disjoint physical ranges in caller storage; each question is then one binary
// search (O(log r) for r ranges), so a 262,144-page list is checked in well under a millisecond.
//
// Shared memory: inside the non-secure DDR list, and outside every static mapping other than
// RAM_NSEC (TEE RAM, TA RAM, the reserved-SHM carve-out, devices), every SDP region and every
// declared device. Secure memory and anything the platform did not declare are refused.
// Device IO: inside a declared device range or a static IO mapping of the same security; the
// registry already refuses devices overlapping memory of any kind.
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/address.hpp"
#include "base/result.hpp"
#include "mm/phys_mem_registry.hpp"

namespace teemm::mm {

enum class PageUse : uint8_t { kSharedMemory, kDeviceSecure, kDeviceNonSecure };

struct PolicyRange {
  uint64_t base = 0;
  uint64_t end = 0;  // one past the last byte
  PageUse use = PageUse::kSharedMemory;
};

class PagePolicy {
 public:
  // Storage that always suffices for `registry` (each subtraction splits at most one range).
  static size_t ranges_needed(const PhysMemRegistry& registry) { return 2 * registry.count() + 1; }

  // Errors: kInvalidArgument (storage null with a non-zero capacity), kOutOfMemory (too little
  // storage; then the policy allows nothing).
  Status build(const PhysMemRegistry& registry, PolicyRange* storage, size_t capacity);

  // kOk when all of [pa, pa + size) may be used as `use`; kForbiddenMemory otherwise (also for a
  // zero size or a range that wraps).
  Status check(PhysAddr pa, Size size, PageUse use) const;
  // The allowed range of `use` that holds all of [pa, pa + size), for callers that check many
  // ranges and expect most to fall in the same one. Error: kForbiddenMemory.
  Result<PolicyRange> allowed_range(PhysAddr pa, Size size, PageUse use) const;

  size_t count() const { return count_; }
  const PolicyRange& operator[](size_t index) const { return ranges_[index]; }

 private:
  bool append(uint64_t base, uint64_t end, PageUse use);
  void subtract(uint64_t base, uint64_t end, bool& fits);
  void sort_and_merge(size_t first);

  PolicyRange* ranges_ = nullptr;
  size_t capacity_ = 0;
  size_t count_ = 0;
};

}  // namespace teemm::mm
