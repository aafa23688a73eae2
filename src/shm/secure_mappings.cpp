// Access to shared memory through the secure world's tables (see secure_mappings.hpp).
#include "shm/secure_mappings.hpp"

namespace teemm::shm {

template <typename Access>
Status WalkedMappings::each_page(VirtAddr va, size_t size, bool write, Access&& access) {
  if (size == 0) return Status();
  if (!range_fits(va.value, size, UINT64_MAX)) return Error::kAddressOverflow;
  for (size_t done = 0; done < size;) {
    const VirtAddr at = va + Size(done);
    const size_t chunk = size - done < kPageSize - at.page_offset() ? size - done : kPageSize - at.page_offset();
    const arm64::WalkResult walk = space_.translate(at);
    const arm64::Access& rights = walk.attributes.privileged;
    if (!walk.ok() || !walk.attributes.non_secure || !rights.read || (write && !rights.write)) return Error::kNotMapped;
    if (Status s = access(PhysAddr(walk.output), done, chunk); !s) return s;
    done += chunk;
  }
  return Status();
}

Status WalkedMappings::read(VirtAddr va, void* out, size_t size) {
  auto* bytes = static_cast<unsigned char*>(out);
  return each_page(va, size, false,
                   [&](PhysAddr pa, size_t done, size_t chunk) { return memory_.read(pa, bytes + done, chunk); });
}

Status WalkedMappings::write(VirtAddr va, const void* in, size_t size) {
  const auto* bytes = static_cast<const unsigned char*>(in);
  return each_page(va, size, true,
                   [&](PhysAddr pa, size_t done, size_t chunk) { return memory_.write(pa, bytes + done, chunk); });
}

}  // namespace teemm::shm
