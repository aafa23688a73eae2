// Fuzz target: arbitrary sequences of dynamic-mapping calls (hostile page lists, sizes, addresses,
// guests) on the qemu-virt address space. Every call either succeeds or returns an error; the
// audit (allocators, PA index, and every run against the walker) holds after each one, and
// releasing everything gives every table page back.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "fuzz_input.hpp"

#include "support/address_space_fixture.hpp"

namespace {

using namespace teemm;

using fuzz::check;
using fuzz::Reader;

PhysAddr page_from(Reader& in) {
  const uint8_t shape = in.take<uint8_t>();
  if (shape < 8) return PhysAddr(in.take<uint64_t>());  // anything, aligned or not
  return PhysAddr(platform::qemu_virt::kDramBase + (uint64_t{in.take<uint16_t>()} << 12));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Reader in{data, size};
  testing::AddressSpaceFixture f(256, 64, 64);
  std::vector<VirtAddr> live;
  while (in.size > 0) {
    const uint8_t op = in.take<uint8_t>() % 6;
    if (op == 0) {
      std::vector<PhysAddr> pages(1 + in.take<uint8_t>() % 40);
      const bool contiguous = in.take<uint8_t>() & 1;
      for (size_t i = 0; i < pages.size(); ++i)
        pages[i] = contiguous && i > 0 ? pages[i - 1] + Size(kPageSize) : page_from(in);
      const Result<VirtAddr> va =
          f.space.map_shared(GuestId(in.take<uint8_t>() % 4), pages.data(), PageCount(pages.size()), 0);
      if (va) live.push_back(*va);
    } else if (op == 1 && !live.empty()) {
      const size_t i = in.take<uint8_t>() % live.size();
      const Result<mm::VaRange> range = f.space.shm_range(live[i]);
      check(range.ok() && f.space.unmap_shared(range->owner, live[i]).ok());
      live.erase(live.begin() + static_cast<std::ptrdiff_t>(i));
    } else if (op == 2) {
      const GuestId caller(in.take<uint8_t>() % 4);
      (void)f.space.unmap_shared(caller, VirtAddr(in.take<uint64_t>()));  // hostile: must not crash
      (void)f.space.iounmap(caller, VirtAddr(in.take<uint64_t>()));
    } else if (op == 3) {
      const Result<VirtAddr> va =
          f.space.ioremap(kHypervisorGuest, page_from(in), Size(in.take<uint16_t>()), in.take<uint8_t>() & 1);
      if (va) (void)f.space.iounmap(kHypervisorGuest, *va);
    } else if (op == 4) {
      const GuestId guest(in.take<uint8_t>() % 4);
      (void)f.space.release_guest(guest);
      live.clear();
      f.space.for_each_range([&](const mm::VaRange& r) {
        if (r.kind == mm::VaRangeKind::kSharedMemory) live.push_back(r.start);
      });
    } else {
      (void)f.space.phys_to_virt(page_from(in), Size(in.take<uint16_t>()),
                                 static_cast<mm::MemoryType>(in.take<uint8_t>() % 20));
      (void)f.space.virt_to_phys(VirtAddr(in.take<uint64_t>()));
    }
    check(f.space.audit());
  }
  for (uint16_t guest = 0; guest < 4; ++guest) (void)f.space.release_guest(GuestId(guest));
  check(f.space.shm_usage().ranges == 0);
  check(f.host.pool.used() == f.static_table_pages);
  return 0;
}
