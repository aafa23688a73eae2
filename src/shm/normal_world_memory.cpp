// Checked access to normal-world memory (see normal_world_memory.hpp).
#include "shm/normal_world_memory.hpp"

namespace teemm::shm {

bool NormalWorldMemory::accessible(PhysAddr pa, uint64_t size) const {
  return size != 0 && range_fits(pa.value, size, kAddressLimit) &&
         registry_->covers(mm::RegionKind::kNonSecureDdr, pa, Size(size));
}

Status NormalWorldMemory::read(PhysAddr pa, void* out, size_t size) const {
  if (size == 0) return Error::kZeroSize;
  if (out == nullptr) return Error::kInvalidArgument;
  if (!accessible(pa, size)) return Error::kForbiddenMemory;
  raw_read(pa.value, out, size);
  return Status();
}

Status NormalWorldMemory::write(PhysAddr pa, const void* in, size_t size) {
  if (size == 0) return Error::kZeroSize;
  if (in == nullptr) return Error::kInvalidArgument;
  if (!accessible(pa, size)) return Error::kForbiddenMemory;
  raw_write(pa.value, in, size);
  return Status();
}

Result<uint64_t> NormalWorldMemory::read_u64(PhysAddr pa) const {
  uint64_t value = 0;
  if (Status s = read(pa, &value, sizeof(value)); !s) return s.error();
  return value;
}

}  // namespace teemm::shm
