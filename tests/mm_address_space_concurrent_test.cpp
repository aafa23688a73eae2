// Several CPUs (threads) using one address space at once: mapping, checking, unmapping shared
// memory, sharing device mappings, and tearing guests down. Run under ThreadSanitizer by the test
// suite (ctest -R Concurrent in the tsan preset); any data race or lost update fails it.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "support/address_space_fixture.hpp"

namespace teemm::mm {
namespace {

constexpr int kThreads = 4;
constexpr int kRounds = 300;

void worker(AddressSpace& space, int index, std::atomic<int>& failures) {
  const GuestId guest(static_cast<uint16_t>(index + 1));
  const uint64_t pa_base = platform::qemu_virt::kDramBase + uint64_t(index) * (64u << 20);
  std::vector<VirtAddr> live;
  for (int round = 0; round < kRounds; ++round) {
    std::vector<PhysAddr> pages;
    const uint64_t count = 1 + round % 7;
    for (uint64_t i = 0; i < count; ++i) pages.push_back(PhysAddr(pa_base + ((round * 8 + i) % 4096) * kPageSize));
    const Result<VirtAddr> va = space.map_shared(guest, pages.data(), PageCount(count), round);
    if (!va) {
      ++failures;
      continue;
    }
    for (uint64_t i = 0; i < count; ++i) {
      const arm64::WalkResult r = space.translate(*va + PageCount(i).size());
      if (!r.ok() || r.output != pages[i].value) ++failures;
      const Result<PhysAddr> pa = space.virt_to_phys(*va + PageCount(i).size());
      if (!pa || *pa != pages[i]) ++failures;
    }
    live.push_back(*va);
    // Every thread maps and unmaps the same device page: the shared mapping's count must hold.
    const Result<VirtAddr> device =
        space.ioremap(kHypervisorGuest, PhysAddr(testing::kTestDeviceSecure), Size(kPageSize), true);
    if (!device || !space.translate(*device).ok()) ++failures;
    if (device && !space.iounmap(kHypervisorGuest, *device)) ++failures;
    if (round % 3 == 0) {
      if (!space.unmap_shared(guest, live.front())) ++failures;
      live.erase(live.begin());
    }
    if (round % 50 == 49) {
      if (space.release_guest(guest).released != live.size()) ++failures;
      live.clear();
    }
  }
  for (VirtAddr va : live)
    if (!space.unmap_shared(guest, va)) ++failures;
}

TEST(AddressSpaceConcurrent, ThreadsMapCheckAndUnmapWithoutLosingAnything) {
  testing::AddressSpaceFixture f(1024, 8192, 8192);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) threads.emplace_back(worker, std::ref(f.space), i, std::ref(failures));
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_TRUE(f.space.audit());
  EXPECT_EQ(f.space.shm_usage().ranges, 0u);
  EXPECT_EQ(f.space.io_usage().ranges, 0u);
  EXPECT_EQ(f.space.pa_index_stats().nodes_in_use, 0u);
  EXPECT_EQ(f.host.pool.used(), f.static_table_pages);
}

TEST(AddressSpaceConcurrent, SpinLockExcludes) {
  SpinLock lock;
  int64_t counter = 0;  // deliberately not atomic: only the lock protects it
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i)
    threads.emplace_back([&] {
      for (int j = 0; j < 20000; ++j) {
        LockGuard guard(lock);
        ++counter;
      }
    });
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(counter, int64_t{kThreads} * 20000);
  EXPECT_TRUE(lock.try_lock());
  EXPECT_FALSE(lock.try_lock());
  lock.unlock();
}

}  // namespace
}  // namespace teemm::mm
