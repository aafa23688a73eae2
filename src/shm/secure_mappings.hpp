// shm/secure_mappings: reading and writing shared memory through the secure world's own mapping
// of it (the VA mm::AddressSpace gave it), never through its physical address.
//
// The interface is what the built-in service uses. WalkedMappings is the portable implementation:
// each page is translated by a walk of the live tables (mm::AddressSpace::translate), must be a
// non-secure, privileged read-write leaf, and its bytes are then reached at the PA the walk gave —
// so on the host every access proves the tables map what the service believes they map. On bare
// metal a direct implementation dereferences the VA with the MMU on.
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/address.hpp"
#include "base/result.hpp"
#include "mm/address_space.hpp"
#include "shm/normal_world_memory.hpp"

namespace teemm::shm {

class SecureMappings {
 public:
  // Errors: kNotMapped (a page of the range is not a non-secure read-write mapping).
  virtual Status read(VirtAddr va, void* out, size_t size) = 0;
  virtual Status write(VirtAddr va, const void* in, size_t size) = 0;

 protected:
  ~SecureMappings() = default;
};

class WalkedMappings final : public SecureMappings {
 public:
  WalkedMappings(const mm::AddressSpace& space, NormalWorldMemory& memory) : space_(space), memory_(memory) {}
  Status read(VirtAddr va, void* out, size_t size) override;
  Status write(VirtAddr va, const void* in, size_t size) override;

 private:
  template <typename Access>
  Status each_page(VirtAddr va, size_t size, bool write, Access&& access);

  const mm::AddressSpace& space_;
  NormalWorldMemory& memory_;
};

}  // namespace teemm::shm
