// shm/normal_world_memory: the one door through which the secure core reads and writes memory
// the normal world owns (SMC arguments, page lists, RPC messages).
//
// Every access is checked first: the whole range must be non-secure DDR as the platform's
// registry declares it (which by registration never overlaps secure memory), so a hostile
// physical address can never make the core read or write its own secrets. Backends provide the
// raw access: a sparse simulated RAM on the host, the secure world's own mapping on bare metal.
// Reads copy into secure memory; callers check and use the copy, never read the same bytes twice.
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/address.hpp"
#include "base/result.hpp"
#include "mm/phys_mem_registry.hpp"

namespace teemm::shm {

class NormalWorldMemory {
 public:
  // `registry` decides what is non-secure DDR; it must outlive this object.
  explicit NormalWorldMemory(const mm::PhysMemRegistry& registry) : registry_(&registry) {}
  NormalWorldMemory(const NormalWorldMemory&) = delete;
  NormalWorldMemory& operator=(const NormalWorldMemory&) = delete;

  // Errors: kZeroSize, kForbiddenMemory (any byte outside non-secure DDR, or the range wraps).
  Status read(PhysAddr pa, void* out, size_t size) const;
  Status write(PhysAddr pa, const void* in, size_t size);
  Result<uint64_t> read_u64(PhysAddr pa) const;

  // True when [pa, pa + size) may be accessed at all.
  bool accessible(PhysAddr pa, uint64_t size) const;

 protected:
  ~NormalWorldMemory() = default;
  // Raw access to a checked range.
  virtual void raw_read(uint64_t pa, void* out, size_t size) const = 0;
  virtual void raw_write(uint64_t pa, const void* in, size_t size) = 0;

 private:
  const mm::PhysMemRegistry* registry_;
};

}  // namespace teemm::shm
