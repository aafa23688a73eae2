// The SMC ABI's hot paths, through the whole secure world (dispatcher, page-list reader, registry,
// address space, tables) with the normal world simulated: REGISTER_SHM of a 1 GiB buffer in two
// shapes, UNREGISTER_SHM, the death of a guest holding 10k buffers, and a fast call's round trip.
//   build/release/bench/teemm_bench --benchmark_filter='RegisterShm|UnregisterShm|GuestTeardown|SmcRoundTrip'
// (GuestTeardownAmong: one guest's 10k buffers among 100k live ones.)
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <random>
#include <vector>

#include "support/normal_world.hpp"

namespace {

using namespace teemm;
using testing::NormalWorld;

constexpr uint64_t kPages = 262144;  // 1 GiB
constexpr uint64_t kBufferBase = 0x6000'0000;

// The pages of a 1 GiB buffer: 2 MiB-contiguous runs in shuffled order, or every page shuffled.
std::vector<uint64_t> buffer_pages(bool fully_shuffled) {
  std::mt19937_64 random(42);
  std::vector<uint64_t> pages;
  pages.reserve(kPages);
  if (fully_shuffled) {
    for (uint64_t i = 0; i < kPages; ++i) pages.push_back(kBufferBase + i * kPageSize);
    std::shuffle(pages.begin(), pages.end(), random);
  } else {
    std::vector<uint64_t> runs(kPages / 512);
    for (uint64_t i = 0; i < runs.size(); ++i) runs[i] = kBufferBase + i * (2u << 20);
    std::shuffle(runs.begin(), runs.end(), random);
    for (uint64_t run : runs)
      for (uint64_t i = 0; i < 512; ++i) pages.push_back(run + i * kPageSize);
  }
  return pages;
}

std::unique_ptr<NormalWorld> large_world(size_t objects, size_t ranges) {
  tool::SecureWorldOptions options;
  options.objects = objects;
  options.config.quota.buffers = static_cast<uint32_t>(objects);
  options.config.quota.pages = uint64_t{1} << 30;
  auto nw = std::make_unique<NormalWorld>(options, ranges, testing::large_qemu_virt_regions());
  if (!nw->world.ok()) std::abort();
  return nw;
}

uint64_t register_call(NormalWorld& nw, uint64_t buf_ptr, uint64_t size, uint64_t cookie) {
  tool::write_message(nw.world.ram(), NormalWorld::kArgs, NormalWorld::register_message(buf_ptr, size, cookie));
  const optee::SmcArgs r = nw.smc(optee::kCallWithArg, 0, NormalWorld::kArgs);
  return r.a[0] == optee::kReturnOk ? tool::read_message(nw.world.ram(), NormalWorld::kArgs).ret : 0xDEAD;
}

void RegisterShm(benchmark::State& state) {
  const bool shuffled = state.range(0) != 0;
  auto nw = large_world(16, kPages + 16);
  const uint64_t buf_ptr = tool::write_page_list(nw->world.ram(), NormalWorld::kLists, buffer_pages(shuffled));
  for (auto _ : state) {
    if (register_call(*nw, buf_ptr, kPages * kPageSize, 1) != optee::kTeeSuccess) std::abort();
    state.PauseTiming();
    if (nw->unregister(1) != optee::kTeeSuccess) std::abort();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kPages));
  state.SetLabel(shuffled ? "every page shuffled" : "2 MiB runs");
}
BENCHMARK(RegisterShm)->Arg(0)->Arg(1)->ArgNames({"shuffled"})->Unit(benchmark::kMillisecond);

void UnregisterShm(benchmark::State& state) {
  const bool shuffled = state.range(0) != 0;
  auto nw = large_world(16, kPages + 16);
  const uint64_t buf_ptr = tool::write_page_list(nw->world.ram(), NormalWorld::kLists, buffer_pages(shuffled));
  for (auto _ : state) {
    state.PauseTiming();
    if (register_call(*nw, buf_ptr, kPages * kPageSize, 1) != optee::kTeeSuccess) std::abort();
    state.ResumeTiming();
    if (nw->unregister(1) != optee::kTeeSuccess) std::abort();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kPages));
  state.SetLabel(shuffled ? "every page shuffled" : "2 MiB runs");
}
BENCHMARK(UnregisterShm)->Arg(0)->Arg(1)->ArgNames({"shuffled"})->Unit(benchmark::kMicrosecond)->Iterations(60);

// A cookie as Linux's driver makes one (the address of its tee_shm): scattered, not in order.
uint64_t scattered_cookie(uint64_t i) {
  uint64_t z = (i + 1) * 0x9e3779b97f4a7c15;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
  z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
  return z ^ (z >> 31);
}

// A secure world with virtualization on, room for `buffers` one-page buffers, `per_guest` a guest.
std::unique_ptr<NormalWorld> teardown_world(uint64_t buffers, uint64_t per_guest) {
  tool::SecureWorldOptions options;
  options.config.virtualization = true;
  options.objects = buffers + 16;
  options.config.quota.buffers = static_cast<uint32_t>(per_guest);
  return std::make_unique<NormalWorld>(options, 2 * buffers + 16, testing::large_qemu_virt_regions());
}

// Registers one-page buffer i (every other page from kBufferBase) for `guest` under `cookie`.
void register_page(NormalWorld& nw, uint64_t i, uint64_t guest, uint64_t cookie) {
  const uint64_t buf_ptr =
      tool::write_page_list(nw.world.ram(), NormalWorld::kLists, {kBufferBase + i * 2 * kPageSize});
  tool::write_message(nw.world.ram(), NormalWorld::kArgs, NormalWorld::register_message(buf_ptr, 4096, cookie));
  if (nw.smc(optee::kCallWithArg, 0, NormalWorld::kArgs, 0, guest).a[0] != optee::kReturnOk) std::abort();
}

// A guest with 10k live one-page buffers dies (VM_DESTROYED): everything it had is released.
// Cookies 0, 1, 2, ... (scattered:0) or scattered over 64 bits (scattered:1).
void GuestTeardown(benchmark::State& state) {
  constexpr uint64_t kBuffers = 10000;
  const bool scattered = state.range(0) != 0;
  auto nw = teardown_world(kBuffers, kBuffers);
  for (auto _ : state) {
    state.PauseTiming();
    if (nw->smc(optee::kVmCreated, 1).a[0] != optee::kReturnOk) std::abort();
    for (uint64_t i = 0; i < kBuffers; ++i) register_page(*nw, i, 1, scattered ? scattered_cookie(i) : i);
    if (nw->world.dispatcher().objects().count() != kBuffers) std::abort();
    // Bookkeeping per buffer: the registry's tree and the SHM allocator's tree, as they stand.
    state.counters["bytes_per_buffer"] =
        static_cast<double>(nw->world.dispatcher().objects().bytes_in_use() +
                            nw->world.dispatcher().address_space().shm_usage().tree_bytes) /
        kBuffers;
    state.ResumeTiming();
    if (nw->smc(optee::kVmDestroyed, 1).a[0] != optee::kReturnOk) std::abort();
  }
  if (nw->world.dispatcher().address_space().shm_usage().ranges != 0) std::abort();
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kBuffers));
}
BENCHMARK(GuestTeardown)->Arg(0)->Arg(1)->ArgNames({"scattered"})->Unit(benchmark::kMicrosecond)->Iterations(20);

// Issue 11's teardown among others: ten guests with 10k one-page buffers each, registered in
// turn (so each guest's buffers interleave with the others'), and one of them dies.
void GuestTeardownAmong(benchmark::State& state) {
  constexpr uint64_t kGuests = 10;
  constexpr uint64_t kPerGuest = 10000;
  constexpr uint64_t kBuffers = kGuests * kPerGuest;
  auto nw = teardown_world(kBuffers, kPerGuest);
  for (auto _ : state) {
    state.PauseTiming();
    for (uint64_t g = 1; g <= kGuests; ++g) {
      if (nw->smc(optee::kVmCreated, g).a[0] != optee::kReturnOk) std::abort();
    }
    for (uint64_t i = 0; i < kBuffers; ++i) register_page(*nw, i, 1 + i % kGuests, i);
    if (nw->world.dispatcher().objects().count() != kBuffers) std::abort();
    state.ResumeTiming();
    if (nw->smc(optee::kVmDestroyed, 1).a[0] != optee::kReturnOk) std::abort();
    state.PauseTiming();
    if (nw->world.dispatcher().objects().count() != kBuffers - kPerGuest) std::abort();
    for (uint64_t g = 2; g <= kGuests; ++g) {
      if (nw->smc(optee::kVmDestroyed, g).a[0] != optee::kReturnOk) std::abort();
    }
    state.ResumeTiming();
  }
  if (nw->world.dispatcher().address_space().shm_usage().ranges != 0) std::abort();
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kPerGuest));
}
BENCHMARK(GuestTeardownAmong)->Unit(benchmark::kMicrosecond)->Iterations(3);

// The same at the size a guest really has: ten guests with `per_guest` one-page buffers each,
// interleaved, and one of them dies. Timed by hand around VM_DESTROYED alone (the set-up around it
// costs more than the call).
void GuestTeardownAmongFew(benchmark::State& state) {
  constexpr uint64_t kGuests = 10;
  const uint64_t per_guest = static_cast<uint64_t>(state.range(0));
  const uint64_t buffers = kGuests * per_guest;
  auto nw = teardown_world(buffers, per_guest);
  for (auto _ : state) {
    for (uint64_t g = 1; g <= kGuests; ++g) {
      if (nw->smc(optee::kVmCreated, g).a[0] != optee::kReturnOk) std::abort();
    }
    for (uint64_t i = 0; i < buffers; ++i) register_page(*nw, i, 1 + i % kGuests, i);
    const auto start = std::chrono::steady_clock::now();
    if (nw->smc(optee::kVmDestroyed, 1).a[0] != optee::kReturnOk) std::abort();
    state.SetIterationTime(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    if (nw->world.dispatcher().objects().count() != buffers - per_guest) std::abort();
    for (uint64_t g = 2; g <= kGuests; ++g) {
      if (nw->smc(optee::kVmDestroyed, g).a[0] != optee::kReturnOk) std::abort();
    }
  }
  if (nw->world.dispatcher().address_space().shm_usage().ranges != 0) std::abort();
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * per_guest));
}
BENCHMARK(GuestTeardownAmongFew)
    ->Arg(2)
    ->Arg(10)
    ->Arg(19)
    ->Iterations(2000)
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond);

void SmcRoundTrip(benchmark::State& state) {
  NormalWorld nw;
  for (auto _ : state) benchmark::DoNotOptimize(nw.smc(optee::kGetThreadCount));
}
BENCHMARK(SmcRoundTrip);

}  // namespace
