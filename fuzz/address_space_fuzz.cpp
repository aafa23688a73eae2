// Fuzz target: long sequences of dynamic-mapping calls (hostile page lists, device requests,
// addresses and guests) on the qemu-virt address space, judged by a reference model
// (tests/support/address_space_model.hpp).
//
// For every call the model predicts success (and the VA) or the exact error. A refused call must
// leave everything as it was (usage, PA index, table pool, every live range, no TLB call). After a
// success the walker must show exactly the new range: each page at its PA, level-2 blocks where
// the list allows them, the policy's attributes (non-secure normal WB for SHM, Device of the asked
// security for IO; privileged RW, never executable, nothing for EL0), a faulting guard page, and
// phys_to_virt / virt_to_phys answering as the model does. After every call the live ranges,
// owners, reference counts, usage, PA runs and table pages equal the model's.
//
// Two fixtures live for the whole process and are restored after each input by releasing every
// guest: a roomy one, and a small one (5 spare table pages, 48 nodes, a 600-page scratch) whose
// pools run out. See fuzz/README.md.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "fuzz_input.hpp"

#include "support/address_space_fixture.hpp"
#include "support/address_space_model.hpp"

namespace {

using namespace teemm;

using fuzz::Reader;
using testing::AddressSpaceModel;
using testing::Prediction;

constexpr uint64_t kBlock = testing::kModelBlock;
constexpr GuestId kGuests[] = {GuestId(0), GuestId(1), GuestId(2), GuestId(3), GuestId(32), GuestId(33)};
constexpr size_t kGuestCount = sizeof(kGuests) / sizeof(kGuests[0]);

// One fixture for the whole process.
struct World {
  World(size_t tables, size_t va_nodes, size_t pa_nodes, size_t hash_slots, size_t scratch_pages, bool tight_pools)
      : f(tables, va_nodes, pa_nodes), tight(tight_pools) {
    // A smaller page scratch makes kLimitReached reachable; a smaller page hash keeps the audit
    // (O(slots)) cheap and makes full hash windows common.
    f.scratch.resize(std::min(scratch_pages, f.scratch.size()));
    f.pa_slots.resize(std::min(hash_slots, f.pa_slots.size()));
    FUZZ_CHECK(f.space.init(f.table, f.map, f.registry, f.storage()).ok());
    limits.scratch_pages = f.scratch.size();
    limits.pa_nodes = f.space.pa_index_stats().node_capacity;
    limits.va_nodes = va_nodes;
    limits.table_pages = f.host.pool.capacity();
    limits.static_table_pages = f.static_table_pages;
    // The model counts one level-3 table per page-mapped 2 MiB chunk: both reservations must lie
    // under a level-2 table the static map already has.
    for (mm::MemoryType type : {mm::MemoryType::kShmVaspace, mm::MemoryType::kResVaspace}) {
      const arm64::WalkResult r = f.space.translate(f.map.find_type(type)->va);
      FUZZ_CHECK(r.fault == arm64::FaultKind::kTranslation && r.level == 2);
    }
  }
  testing::AddressSpaceFixture f;
  bool tight;
  AddressSpaceModel::Limits limits;
};

World& roomy() {
  static World world(512, 1024, 1024, 2048, SIZE_MAX, false);
  return world;
}
World& small() {
  static World world(12, 48, 48, 256, 600, true);
  return world;
}

struct Snapshot {
  uint64_t shm_in_use = 0, io_in_use = 0;
  size_t shm_ranges = 0, io_ranges = 0;
  size_t runs = 0, pa_nodes = 0, hashed_pages = 0;
  size_t pool_used = 0, pool_pending = 0;
  uint64_t ranges_hash = 0;
  bool operator==(const Snapshot&) const = default;
};

uint64_t mix(uint64_t hash, uint64_t value) { return (hash ^ value) * 0x100000001b3ULL; }

arm64::DecodedAttributes expected_attributes(bool device, bool secure) {
  arm64::DecodedAttributes a;
  a.memory = device ? arm64::MemoryKind::kDevice : arm64::MemoryKind::kNormalWriteBack;
  a.privileged = {true, true, false};
  a.unprivileged = {false, false, false};
  a.shareability = device ? arm64::kShareOuter : arm64::kShareInner;
  a.non_secure = !secure;
  a.global = true;
  a.access_flag = true;
  a.single_privilege_execute = false;
  return a;
}

// A leaf as policy wants it: the decoded attributes, and the bits themselves (EL0 neither reaches
// nor executes it, EL1 does not execute it).
bool leaf_as_policy(const arm64::WalkResult& r, bool device, bool secure) {
  const uint64_t d = r.descriptor;
  return r.attributes == expected_attributes(device, secure) && (d & arm64::kUXN) != 0 && (d & arm64::kPXN) != 0 &&
         (d & arm64::kAP1) == 0;
}

// Statistics for fuzz/README.md: TEEMM_FUZZ_STATS=1 prints, at exit, the calls per input, the
// live state at the end of an input, and how often each call had each outcome.
struct Stats {
  uint64_t inputs = 0, calls = 0, live_ranges = 0, live_pages = 0, runs = 0, block_pages = 0, shared = 0,
           nodes_ran_out = 0, known_defect = 0;
  std::map<std::string, std::map<std::string, uint64_t>> outcomes;  // call -> answer -> count
  void outcome(const char* call, Error answer) { ++outcomes[call][answer == Error::kOk ? "ok" : error_name(answer)]; }
  ~Stats() {
    if (std::getenv("TEEMM_FUZZ_STATS") == nullptr || inputs == 0) return;
    const auto per_input = [this](uint64_t n) { return static_cast<double>(n) / static_cast<double>(inputs); };
    std::fprintf(stderr,
                 "address_space_fuzz: %llu inputs, %.1f calls per input; at its end %.1f live ranges, %.1f live "
                 "pages, %.1f PA runs\n",
                 static_cast<unsigned long long>(inputs), per_input(calls), per_input(live_ranges),
                 per_input(live_pages), per_input(runs));
    std::fprintf(stderr,
                 "  %llu pages checked in level-2 blocks, %llu ioremaps shared, %llu VA-node exhaustions, "
                 "%llu fresh ioremaps where sharing was due (known defect)\n",
                 static_cast<unsigned long long>(block_pages), static_cast<unsigned long long>(shared),
                 static_cast<unsigned long long>(nodes_ran_out), static_cast<unsigned long long>(known_defect));
    for (const auto& [call, answers] : outcomes) {
      std::fprintf(stderr, "  %s:", call.c_str());
      for (const auto& [answer, n] : answers)
        std::fprintf(stderr, " %s %llu,", answer.c_str(), static_cast<unsigned long long>(n));
      std::fprintf(stderr, "\n");
    }
  }
} stats;

// TEEMM_FUZZ_TRACE=1 prints every call and its answer (for reading a crash input).
const bool kTrace = std::getenv("TEEMM_FUZZ_TRACE") != nullptr;
#define TRACE(...) (kTrace ? void(std::fprintf(stderr, __VA_ARGS__)) : void(0))

// TEEMM_FUZZ_KNOWN_DEFECTS=1 also checks what known open defects break (fuzz/README.md).
const bool kKnownDefects = std::getenv("TEEMM_FUZZ_KNOWN_DEFECTS") != nullptr;

const char* answer(bool ok, Error error) { return ok ? "ok" : error_name(error); }

class Session {
 public:
  Session(World& world, Reader& in, unsigned audit_period)
      : w_(world), f_(world.f), in_(&in), model_(f_.map, world.limits), audit_period_(audit_period) {
    model_.strict_sharing = true;  // the known sharing defect is fixed (fuzz/README.md)
  }

  void run() {
    while (in_->size > 0) {
      step(in_->take<uint8_t>() % 16);
      check_state();
    }
    // Everything still live, page by page, then back to the empty fixture.
    stats.live_ranges += model_.shm().size() + model_.io().size();
    stats.live_pages += model_.live_pages();
    stats.runs += model_.runs();
    FUZZ_CHECK(f_.space.audit());
    for (const auto& [va, m] : model_.shm()) check_shm_range(va);
    for (const auto& [va, m] : model_.io()) check_io_range(va);
    for (GuestId guest : kGuests) release(guest);
    FUZZ_CHECK(model_.shm().empty() && model_.io().empty());
    FUZZ_CHECK(f_.host.pool.used() == f_.static_table_pages);
    const mm::PaIndexStats pa = f_.space.pa_index_stats();
    FUZZ_CHECK(pa.runs == 0 && pa.nodes_in_use == 0 && pa.hashed_pages == 0);
    FUZZ_CHECK(f_.space.shm_usage().in_use.bytes == 0 && f_.space.io_usage().in_use.bytes == 0);
    f_.tlb.calls.clear();
  }

 private:
  void step(unsigned op) {
    switch (op) {
      case 0:
      case 1:
      case 2:
      case 3:
      case 4: {
        const GuestId owner = guest();
        const std::vector<PhysAddr> list = op == 4 ? block_list() : small_list();
        (void)map_shared(owner, list, in_->take<uint8_t>());
        break;
      }
      case 5: map_shared_unread(); break;
      case 6:
      case 7: {
        GuestId caller = guest_or_owner();
        const uint64_t va = any_va();
        unmap_shared(caller_or_owner(caller), va);
        break;
      }
      case 8:
      case 9: ioremap_request(); break;
      case 10: {
        GuestId caller = guest_or_owner();
        const uint64_t va = any_va();
        iounmap(caller_or_owner(caller), va);
        break;
      }
      case 11: release(guest()); break;
      case 12:
      case 13: query(); break;
      case 14: exhaust(); break;
      case 15: burst(); break;
    }
  }

  // 8..64 calls whose bytes come from a generator seeded by the input: long sequences for a few
  // bytes (never nested).
  void burst() {
    uint64_t state = in_->take<uint32_t>();
    const unsigned steps = 8 + in_->below(57);
    std::vector<uint8_t> bytes(steps * 64);
    for (size_t i = 0; i < bytes.size(); i += 8) {  // splitmix64
      uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
      z ^= z >> 31;
      std::memcpy(&bytes[i], &z, 8);
    }
    Reader generated{bytes.data(), bytes.size()};
    Reader* const input = in_;
    in_ = &generated;
    for (unsigned i = 0; i < steps; ++i) {
      const unsigned op = in_->take<uint8_t>() % 16;
      step(op == 15 ? 0 : op);
      check_state();
    }
    in_ = input;
  }

  // ---- Input shapes ---------------------------------------------------------------------------------

  GuestId guest() { return kGuests[in_->below(kGuestCount)]; }

  // A caller that, three times in four, becomes the owner of the live range the next any_va() picks
  // (as a legitimate caller would be): see caller_or_owner.
  GuestId guest_or_owner() {
    as_owner_ = (in_->take<uint8_t>() & 3) != 0;
    picked_owner_.reset();
    return guest();
  }
  GuestId caller_or_owner(GuestId caller) {
    const GuestId chosen = as_owner_ && picked_owner_ ? *picked_owner_ : caller;
    as_owner_ = false;
    return chosen;
  }

  uint64_t dram_page() {
    using namespace platform::qemu_virt;
    const uint64_t high = in_->take<uint16_t>();
    const uint64_t low = in_->take<uint8_t>() & 3u;
    return kDramBase + (high << 14 | low << 12);
  }

  uint64_t hostile_page() {
    using namespace platform::qemu_virt;
    const uint64_t bases[] = {
        kTeeRamBase,
        kTeeRamRoBase,
        f_.host.pool.base().value,
        kTaRamBase,
        kSdpBase,
        kSecureRamBase,
        kGicBase,
        kUart0Base,
        kSecureUartBase,
        kRtcBase,
        kVirtioMmioBase,
        testing::kTestDeviceNonSecure,
        testing::kTestDeviceSecure,
        0,
        kDramBase + kDramSize,
        kDramBase - kPageSize,
        kNsecShmBase,
        kNsecShmBase + kNsecShmSize - kPageSize,
        uint64_t{1} << 40,
        (uint64_t{1} << 40) + kDramBase,
        kAddressLimit - kPageSize,
        kAddressLimit,
        kAddressLimit + kDramBase,
        ~kPageMask,
    };
    const uint64_t base = bases[in_->below(sizeof(bases) / sizeof(bases[0]))];
    const uint8_t shape = in_->take<uint8_t>();
    if (shape < 16) return base + shape * kPageSize;
    if (shape < 24) return dram_page() + 1 + (shape - 16) * 0x1f1;  // misaligned
    if (shape < 28) return in_->take<uint64_t>();                   // anything at all
    return base;
  }

  // 1..16 pages (sometimes up to 64), mostly physically contiguous runs from random DRAM, some
  // pages other ranges map too; one list in four has hostile pages mixed in.
  std::vector<PhysAddr> small_list() {
    const uint8_t shape = in_->take<uint8_t>();
    const size_t count = (shape & 0xc0) == 0xc0 ? 1 + in_->below(64) : 1 + (shape & 15);
    std::vector<PhysAddr> list(count);
    for (size_t i = 0; i < count; ++i) {
      const uint8_t kind = in_->take<uint8_t>();
      if (i > 0 && kind < 176) {
        list[i] = list[i - 1] + Size(kPageSize);
      } else if (kind < 192 && !model_.shm().empty()) {
        const auto& pages = nth(model_.shm(), in_->take<uint8_t>()).second.pages;
        list[i] = PhysAddr(pages[in_->below(static_cast<uint32_t>(pages.size()))]);
      } else {
        list[i] = PhysAddr(dram_page());
      }
    }
    if ((shape & 0x60) == 0) {
      for (unsigned n = 1 + (shape & 1); n > 0; --n)
        list[in_->below(static_cast<uint32_t>(count))] = PhysAddr(hostile_page());
    }
    return list;
  }

  // One or two 2 MiB-aligned runs of 512 pages (level-2 blocks), give or take a few pages before,
  // after or inside; sometimes from memory that may never be shared.
  std::vector<PhysAddr> block_list() {
    using namespace platform::qemu_virt;
    const uint8_t shape = in_->take<uint8_t>();
    uint64_t base = kDramBase + uint64_t{in_->below(512)} * kBlock;
    if ((shape & 0x1c) == 0) {
      const uint64_t hostile[] = {kSdpBase, kTaRamBase, kNsecShmBase, kDramBase + kDramSize, uint64_t{1} << 40, 0};
      base = hostile[in_->below(6)];
    }
    const size_t blocks = (shape & 0x41) == 0x41 ? 2 : 1;
    const int delta = static_cast<int8_t>(in_->take<uint8_t>()) / 2;  // -64..63 pages
    const size_t prefix = (shape & 0x20) != 0 ? 1 + (shape >> 6) : 0;
    std::vector<PhysAddr> list;
    for (size_t i = 0; i < prefix; ++i) list.emplace_back(dram_page());
    const size_t run = static_cast<size_t>(static_cast<int>(blocks * 512) + delta);
    for (size_t i = 0; i < run; ++i) list.emplace_back(base + i * kPageSize);
    if ((shape & 2) != 0) list[prefix + in_->below(static_cast<uint32_t>(run))] = PhysAddr(dram_page());
    return list;
  }

  // A VA with an eye for edges: live starts, insides, guard pages, neighbours, the reservations'
  // ends, the static map, anything.
  uint64_t any_va() {
    const uint8_t shape = in_->take<uint8_t>();
    const mm::MapEntry& shm = *f_.map.find_type(mm::MemoryType::kShmVaspace);
    const mm::MapEntry& io = *f_.map.find_type(mm::MemoryType::kResVaspace);
    const int64_t deltas[] = {0, 0, 0, 0, static_cast<int64_t>(kPageSize), -static_cast<int64_t>(kPageSize), 1, 0x800};
    const uint64_t delta = static_cast<uint64_t>(deltas[(shape >> 4) & 7]);
    switch (shape & 15) {
      case 0:
      case 1:
      case 2:
      case 3:
        if (!model_.shm().empty()) {
          const auto& [va, m] = nth(model_.shm(), in_->take<uint8_t>());
          picked_owner_ = m.owner;
          return (shape & 0x80) != 0 ? va + m.size() : va + delta;  // the guard page, or near the start
        }
        break;
      case 4:
      case 5:
      case 6:
        if (!model_.io().empty()) {
          const auto& [va, m] = nth(model_.io(), in_->take<uint8_t>());
          picked_owner_ = m.owner;
          return (shape & 0x80) != 0 ? va + m.size : va + in_->below(static_cast<uint32_t>(m.size));
        }
        break;
      case 7: return shm.va.value + (uint64_t{in_->take<uint16_t>()} << 12) + delta;
      case 8: return io.va.value + (uint64_t{in_->take<uint16_t>() & 0xfffu} << 12) + delta;
      case 9: return shm.end_va().value - kPageSize;
      case 10: return io.end_va().value - kPageSize;
      case 11: return f_.map[in_->below(static_cast<uint32_t>(f_.map.count()))].va.value + delta;
      case 12: return in_->take<uint64_t>();
    }
    return shm.va.value + delta;
  }

  template <typename Map>
  static const typename Map::value_type& nth(const Map& map, uint32_t index) {
    auto it = map.begin();
    std::advance(it, index % map.size());
    return *it;
  }

  // ---- Checked calls ----------------------------------------------------------------------------------

  Snapshot snapshot() const {
    Snapshot s;
    const mm::ReservationUsage shm = f_.space.shm_usage(), io = f_.space.io_usage();
    s.shm_in_use = shm.in_use.bytes;
    s.shm_ranges = shm.ranges;
    s.io_in_use = io.in_use.bytes;
    s.io_ranges = io.ranges;
    const mm::PaIndexStats pa = f_.space.pa_index_stats();
    s.runs = pa.runs;
    s.pa_nodes = pa.nodes_in_use;
    s.hashed_pages = pa.hashed_pages;
    s.pool_used = f_.host.pool.used();
    s.pool_pending = f_.host.pool.pending();
    uint64_t hash = 0xcbf29ce484222325ULL;
    f_.space.for_each_range([&](const mm::VaRange& r) {
      for (uint64_t v : {r.start.value, r.size.bytes, uint64_t{r.guard_page}, uint64_t{r.owner.value},
                         static_cast<uint64_t>(r.kind), r.backing})
        hash = mix(hash, v);
    });
    s.ranges_hash = hash;
    return s;
  }

  // Compares an answer with the prediction; a refusal must have changed nothing. True when the
  // call succeeded (as predicted).
  bool agree(const Prediction& p, Error got, const Snapshot& before, const char* call) {
    ++stats.calls;
    stats.outcome(call, got);
    if (got == Error::kOk && p.error == Error::kOk) return true;
    if (p.error == Error::kOk && got == Error::kOutOfMemory) ++stats.nodes_ran_out;
    const bool allowed = got == p.error || (p.error == Error::kOk && p.may_run_out && got == Error::kOutOfMemory);
    if (!allowed) {
      std::fprintf(stderr, "\n%s: the model predicts %s%s, the address space answers %s\n", call, error_name(p.error),
                   p.may_run_out ? " (or out of memory)" : "", error_name(got));
      FUZZ_CHECK(allowed);
    }
    FUZZ_CHECK(snapshot() == before);  // a refused call changes nothing
    FUZZ_CHECK(f_.tlb.calls.empty());
    return false;
  }

  Result<VirtAddr> map_shared(GuestId owner, const std::vector<PhysAddr>& list, uint64_t cookie) {
    const Prediction p = model_.predict_map_shared(list.data(), list.size());
    const Snapshot before = snapshot();
    f_.tlb.calls.clear();
    const Result<VirtAddr> got = f_.space.map_shared(owner, list.data(), PageCount(list.size()), cookie);
    TRACE("map_shared(guest %u, %zu pages from %#llx) -> %s %#llx\n", owner.value, list.size(),
          static_cast<unsigned long long>(list[0].value), answer(got.ok(), got.ok() ? Error::kOk : got.error()),
          static_cast<unsigned long long>(got.ok() ? got->value : 0));
    if (!agree(p, got.ok() ? Error::kOk : got.error(), before, "map_shared")) return got;
    FUZZ_CHECK(got->value == p.va);
    FUZZ_CHECK(f_.tlb.calls.empty());  // nothing valid was replaced
    std::vector<uint64_t> pages(list.size());
    for (size_t i = 0; i < list.size(); ++i) pages[i] = list[i].value;
    model_.map_shared(p.va, owner, cookie, std::move(pages));
    check_shm_range(p.va);
    return got;
  }

  // Calls whose answer follows from the count alone: the list must not be read at all (it is one
  // page long here, so AddressSanitizer reports any read past it).
  void map_shared_unread() {
    const uint8_t shape = in_->take<uint8_t>();
    const std::vector<PhysAddr> one{PhysAddr(dram_page())};
    const uint64_t max_list = f_.map.find_type(mm::MemoryType::kShmVaspace)->size.bytes / kPageSize - 1;
    uint64_t count = 0;
    const PhysAddr* pages = one.data();
    switch (shape & 3) {
      case 0: count = 0; break;
      case 1:
        count = 1 + in_->take<uint8_t>();
        pages = nullptr;
        break;
      case 2: count = max_list + 1 + (shape & 0x80 ? in_->take<uint64_t>() >> 1 : in_->take<uint8_t>()); break;
      case 3:
        if (w_.limits.scratch_pages >= max_list) return;  // no such count: the scratch holds any list
        count = w_.limits.scratch_pages + 1 + in_->take<uint8_t>();
        break;
    }
    const Prediction p = model_.predict_map_shared(pages, count);
    FUZZ_CHECK(p.error != Error::kOk);
    const Snapshot before = snapshot();
    f_.tlb.calls.clear();
    const Result<VirtAddr> got = f_.space.map_shared(guest(), pages, PageCount(count), 0);
    agree(p, got.ok() ? Error::kOk : got.error(), before, "map_shared (list not read)");
  }

  void unmap_shared(GuestId caller, uint64_t va) {
    const Prediction p = model_.predict_unmap_shared(caller, va);
    const Snapshot before = snapshot();
    f_.tlb.calls.clear();
    const Status got = f_.space.unmap_shared(caller, VirtAddr(va));
    TRACE("unmap_shared(guest %u, %#llx) -> %s\n", caller.value, static_cast<unsigned long long>(va),
          error_name(got.error()));
    if (!agree(p, got.error(), before, "unmap_shared")) return;
    const uint64_t size = model_.shm().at(va).size();
    FUZZ_CHECK(f_.tlb.calls.size() == 1 && f_.tlb.calls[0].input == va && f_.tlb.calls[0].size == size);
    model_.unmap_shared(va);
    check_gone(va, size);
  }

  void ioremap_request() {
    using namespace platform::qemu_virt;
    const uint8_t shape = in_->take<uint8_t>();
    const GuestId owner = guest();
    bool secure = (shape & 0x10) != 0;
    uint64_t pa = 0, size = 0;
    switch (shape & 7) {
      case 0:
      case 1:
      case 2:  // the test windows: overlapping, nested and repeated requests (sharing)
        pa = (secure ? testing::kTestDeviceSecure : testing::kTestDeviceNonSecure) + in_->below(8) * kPageSize;
        size = (1 + in_->below(4)) * kPageSize;
        if ((shape & 0x20) != 0) {
          pa += in_->take<uint8_t>();
          size -= in_->take<uint8_t>();
        }
        if ((shape & 0xc0) == 0xc0) secure = !secure;
        break;
      case 3: {  // every declared device, whole or in part, either security
        const AddressSpaceModel::Device& d = AddressSpaceModel::kDevices[in_->below(9)];
        pa = d.base + (in_->take<uint8_t>() & 0x3f) * 8;
        size = (shape & 0x20) != 0 ? d.size - (pa - d.base) : 1 + in_->below(0x2000);
        if ((shape & 0xc0) != 0) secure = d.secure;
        break;
      }
      case 4: {  // memory of every kind, and addresses past everything
        const uint64_t bases[] = {kDramBase,
                                  kSecureRamBase,
                                  kTeeRamBase,
                                  kTaRamBase,
                                  kSdpBase,
                                  kNsecShmBase,
                                  f_.host.pool.base().value,
                                  0,
                                  uint64_t{1} << 40,
                                  kDramBase + kDramSize};
        pa = bases[in_->below(10)] + in_->below(4) * kPageSize;
        size = 1 + in_->below(0x4000);
        break;
      }
      case 5:  // the very top of the address space (overflow)
        pa = (shape & 0x20) != 0 ? ~uint64_t{0} - in_->take<uint8_t>() : kAddressLimit - kPageSize;
        size = 1 + in_->take<uint16_t>();
        break;
      case 6:  // straddling a window's end
        pa = testing::kTestDeviceNonSecure + testing::kTestDeviceSize - kPageSize;
        size = 2 * kPageSize;
        secure = false;
        break;
      case 7:  // anything, including zero sizes
        pa = in_->take<uint32_t>();
        size = in_->take<uint8_t>() & 0x0f;
        break;
    }
    ioremap(owner, pa, size, secure);
  }

  void ioremap(GuestId owner, uint64_t pa, uint64_t size, bool secure) {
    const Prediction p = model_.predict_ioremap(owner, pa, size, secure);
    const Snapshot before = snapshot();
    f_.tlb.calls.clear();
    const Result<VirtAddr> got = f_.space.ioremap(owner, PhysAddr(pa), Size(size), secure);
    TRACE("ioremap(guest %u, %#llx, %#llx, %s) -> %s %#llx\n", owner.value, static_cast<unsigned long long>(pa),
          static_cast<unsigned long long>(size), secure ? "secure" : "non-secure",
          answer(got.ok(), got.ok() ? Error::kOk : got.error()),
          static_cast<unsigned long long>(got.ok() ? got->value : 0));
    bool shared = false;
    for (uint64_t va : p.shares) shared = shared || (got.ok() && va == got->value);
    if (!shared && !p.new_allowed) {
      std::fprintf(stderr, "\nioremap: the owner's live mapping covers the range and must be shared\n");
      FUZZ_CHECK(shared);
    }
    if (!shared && !p.shares.empty()) ++stats.known_defect;  // tolerated (see the model)
    if (!shared && !agree(p, got.ok() ? Error::kOk : got.error(), before, "ioremap")) return;
    FUZZ_CHECK(f_.tlb.calls.empty());
    if (!p.changes_state) {
      FUZZ_CHECK(got->value == p.va && snapshot() == before);  // the static map's own mapping
    } else if (shared) {
      ++stats.calls;
      ++stats.shared;
      stats.outcome("ioremap", Error::kOk);
      model_.ioremap_share(got->value);
    } else {
      FUZZ_CHECK(got->value == p.va);
      const uint64_t first = pa & ~kPageMask;
      const uint64_t start = p.va - (pa - first);
      model_.ioremap_new(start, owner, first, ((pa + size + kPageMask) & ~kPageMask) - first, secure);
      check_io_range(start);
    }
    const arm64::WalkResult r = f_.space.translate(*got);
    FUZZ_CHECK(r.ok() && r.output == pa && leaf_as_policy(r, true, secure));
  }

  void iounmap(GuestId caller, uint64_t va) {
    const Prediction p = model_.predict_iounmap(caller, va);
    const Snapshot before = snapshot();
    f_.tlb.calls.clear();
    const Status got = f_.space.iounmap(caller, VirtAddr(va));
    TRACE("iounmap(guest %u, %#llx) -> %s\n", caller.value, static_cast<unsigned long long>(va),
          error_name(got.error()));
    if (!agree(p, got.error(), before, "iounmap")) return;
    if (!p.changes_state) {
      FUZZ_CHECK(snapshot() == before && f_.tlb.calls.empty());
      return;
    }
    const auto it = model_.io_containing(va);
    const uint64_t start = it->first, size = it->second.size;
    if (model_.iounmap(va)) {
      FUZZ_CHECK(f_.tlb.calls.size() == 1 && f_.tlb.calls[0].input == start && f_.tlb.calls[0].size == size);
      check_gone(start, size);
    } else {
      FUZZ_CHECK(f_.tlb.calls.empty());
      check_io_range(start);
    }
  }

  void release(GuestId owner) {
    std::vector<testing::CountingTlb::Call> expected;
    std::vector<uint64_t> shm, io;
    for (const auto& [va, m] : model_.shm())
      if (m.owner == owner) shm.push_back(va), expected.push_back({va, m.size()});
    for (const auto& [va, m] : model_.io())
      if (m.owner == owner) io.push_back(va), expected.push_back({va, m.size});
    f_.tlb.calls.clear();
    ++stats.calls;
    const mm::TeardownResult got = f_.space.release_guest(owner);
    TRACE("release_guest(%u) -> %zu released, %zu failed\n", owner.value, got.released, got.failed);
    FUZZ_CHECK(got.failed == 0 && got.released == expected.size());
    stats.outcome(expected.empty() ? "release_guest (nothing)" : "release_guest", Error::kOk);
    // Teardown invalidates a span of neighbouring ranges at a time: at most one call per range, and
    // every range released lies inside one of the calls.
    FUZZ_CHECK(f_.tlb.calls.size() <= expected.size());
    for (const testing::CountingTlb::Call& range : expected) {
      bool covered = false;
      for (const testing::CountingTlb::Call& call : f_.tlb.calls)
        covered = covered || (call.input <= range.input && range.input + range.size <= call.input + call.size);
      FUZZ_CHECK(covered);
    }
    for (uint64_t va : shm) model_.unmap_shared(va);
    for (uint64_t va : io) {
      while (!model_.iounmap(va)) {
      }
    }
    for (const testing::CountingTlb::Call& c : expected) check_gone(c.input, c.size);
  }

  // phys_to_virt, virt_to_phys and a walk of arbitrary (often live) addresses, against the model.
  void query() {
    const uint8_t shape = in_->take<uint8_t>();
    uint64_t pa = 0;
    if ((shape & 3) == 0 && !model_.shm().empty()) {
      const auto& pages = nth(model_.shm(), in_->take<uint8_t>()).second.pages;
      pa = pages[in_->below(static_cast<uint32_t>(pages.size()))] + (in_->take<uint8_t>() & 0x0f) * 0x100;
    } else if ((shape & 3) == 1 && !model_.io().empty()) {
      const testing::ModelIo& io = nth(model_.io(), in_->take<uint8_t>()).second;
      pa = io.pa + in_->below(static_cast<uint32_t>(io.size));
    } else {
      pa = (shape & 3) == 2 ? hostile_page() : dram_page();
    }
    const uint64_t sizes[] = {0, 1, kPageSize, 2 * kPageSize, 0x10, kBlock, 0x300, in_->take<uint16_t>()};
    const uint64_t size = sizes[(shape >> 2) & 7];
    mm::MemoryType type = (shape & 0x40) != 0 ? mm::MemoryType::kIoNsec : mm::MemoryType::kNsecShm;
    if ((shape & 0x80) != 0) type = mm::MemoryType::kIoSec;
    if ((shape & 0x20) != 0) type = static_cast<mm::MemoryType>(in_->below(mm::kMemoryTypeCount + 2));
    const Result<VirtAddr> want = model_.predict_phys_to_virt(pa, size, type);
    ++stats.calls;
    const Result<VirtAddr> got = f_.space.phys_to_virt(PhysAddr(pa), Size(size), type);
    FUZZ_CHECK(want.ok() == got.ok());
    FUZZ_CHECK(want.ok() ? want->value == got->value : want.error() == got.error());
    stats.outcome("phys_to_virt", got.ok() ? Error::kOk : got.error());

    const uint64_t va = any_va();
    const Result<PhysAddr> phys = f_.space.virt_to_phys(VirtAddr(va));
    const Result<PhysAddr> want_phys = model_.predict_virt_to_phys(va);
    FUZZ_CHECK(phys.ok() == want_phys.ok() && (!phys.ok() || phys->value == want_phys->value));
    if (model_.in_reservation(va)) check_page(va);
  }

  // Maps until a pool runs out (the small fixture's tables, nodes or VA; only a few rounds of small
  // lists in the roomy one), then unmaps what it mapped: the table pool must be back where it was.
  void exhaust() {
    const uint8_t shape = in_->take<uint8_t>();
    const size_t pages_each[] = {1, 3, 64, 300, 511, 600};
    const size_t count = pages_each[in_->below(w_.tight ? 6 : 3)];
    const size_t rounds = w_.tight ? 64 : 3;
    const bool scattered = (shape & 1) != 0 && count <= 64;  // one PA run per page
    const GuestId owner = guest();
    const size_t pool_before = f_.host.pool.used();
    // Above the carve-out, one page past a block boundary (no blocks: every chunk needs a table).
    uint64_t base = platform::qemu_virt::kNsecShmBase + platform::qemu_virt::kNsecShmSize + kPageSize +
                    uint64_t{in_->below(256)} * kBlock;
    std::vector<uint64_t> mapped;
    for (size_t round = 0; round < rounds; ++round) {
      std::vector<PhysAddr> list(count);
      for (size_t i = 0; i < count; ++i) list[i] = PhysAddr(base + (scattered ? 2 : 1) * i * kPageSize);
      base += 2 * count * kPageSize;
      const Result<VirtAddr> va = map_shared(owner, list, round);
      check_state();
      if (!va) {
        FUZZ_CHECK(va.error() == Error::kOutOfMemory || va.error() == Error::kNoVirtualSpace);
        break;
      }
      mapped.push_back(va->value);
    }
    for (uint64_t va : mapped) unmap_shared(owner, va);
    FUZZ_CHECK(f_.host.pool.used() == pool_before);
  }

  // ---- What the tables must show ------------------------------------------------------------------------

  void check_shm_range(uint64_t va) {
    const testing::ModelShm& m = model_.shm().at(va);
    const std::vector<uint8_t> levels = AddressSpaceModel::page_levels(va, m.pages);
    for (size_t i = 0; i < m.pages.size(); ++i) {
      // A level-2 leaf decides its whole block: its first and last pages are enough.
      if (levels[i] == 2) ++stats.block_pages;
      if (levels[i] == 2 && (i % 512 != 0 && i % 512 != 511)) continue;
      const arm64::WalkResult r = f_.space.translate(VirtAddr(va + i * kPageSize));
      FUZZ_CHECK(r.ok() && r.output == m.pages[i] && r.level == levels[i]);
      FUZZ_CHECK(leaf_as_policy(r, false, false));
    }
    check_guard(va + m.size());
    // A PA-index run is one (VA, PA, size): its first and last bytes pin it down.
    for (const testing::ModelRun& run : AddressSpaceModel::runs_of(m.pages)) {
      for (const uint64_t offset : {uint64_t{0}, run.size - 1}) {
        const Result<PhysAddr> back = f_.space.virt_to_phys(VirtAddr(va + run.va + offset));
        FUZZ_CHECK(back.ok() && back->value == run.pa + offset);
      }
      for (const uint64_t size : {run.size, kPageSize}) {
        const Result<VirtAddr> want = model_.predict_phys_to_virt(run.pa, size, mm::MemoryType::kNsecShm);
        const Result<VirtAddr> got = f_.space.phys_to_virt(PhysAddr(run.pa), Size(size), mm::MemoryType::kNsecShm);
        FUZZ_CHECK(want.ok() && got.ok() && got->value == want->value);
      }
    }
  }

  void check_io_range(uint64_t start) {
    const testing::ModelIo& m = model_.io().at(start);
    for (uint64_t offset = 0; offset < m.size; offset += kPageSize) {
      const arm64::WalkResult r = f_.space.translate(VirtAddr(start + offset));
      FUZZ_CHECK(r.ok() && r.output == m.pa + offset && r.level == 3 && leaf_as_policy(r, true, m.secure));
    }
    for (const uint64_t offset : {uint64_t{0}, m.size - 1}) {
      const Result<PhysAddr> back = f_.space.virt_to_phys(VirtAddr(start + offset));
      FUZZ_CHECK(back.ok() && back->value == m.pa + offset);
    }
    check_guard(start + m.size);
    const mm::MemoryType type = m.secure ? mm::MemoryType::kIoSec : mm::MemoryType::kIoNsec;
    const Result<VirtAddr> want = model_.predict_phys_to_virt(m.pa, m.size, type);
    const Result<VirtAddr> got = f_.space.phys_to_virt(PhysAddr(m.pa), Size(m.size), type);
    FUZZ_CHECK(want.ok() && got.ok() && got->value == want->value);
  }

  void check_guard(uint64_t va) {
    const arm64::WalkResult r = f_.space.translate(VirtAddr(va));
    FUZZ_CHECK(r.fault == arm64::FaultKind::kTranslation);
    FUZZ_CHECK(!f_.space.virt_to_phys(VirtAddr(va)).ok());
  }

  // A released range: its ends fault (or belong to a range mapped since), and the live ranges on
  // either side still map their ends as before.
  void check_gone(uint64_t start, uint64_t size) {
    check_page(start);
    check_page(start + size - kPageSize);
    const auto ends = [this](uint64_t first, uint64_t bytes) {
      check_page(first);
      check_page(first + bytes - kPageSize);
    };
    if (auto it = model_.shm().upper_bound(start); it != model_.shm().end()) ends(it->first, it->second.size());
    if (auto it = model_.shm().lower_bound(start); it != model_.shm().begin()) {
      --it;
      ends(it->first, it->second.size());
    }
    if (auto it = model_.io().upper_bound(start); it != model_.io().end()) ends(it->first, it->second.size);
    if (auto it = model_.io().lower_bound(start); it != model_.io().begin()) {
      --it;
      ends(it->first, it->second.size);
    }
  }

  // One page of a reservation, as the model has it: mapped with its kind's attributes, or faulting.
  void check_page(uint64_t va) {
    const arm64::WalkResult r = f_.space.translate(VirtAddr(va));
    const std::optional<uint64_t> mapped = model_.dynamic_pa(va);
    if (!mapped) {
      FUZZ_CHECK(r.fault == arm64::FaultKind::kTranslation);
      return;
    }
    const auto io = model_.io_containing(va);
    const bool device = io != model_.io().end();
    FUZZ_CHECK(r.ok() && r.output == *mapped && leaf_as_policy(r, device, device && io->second.secure));
  }

  // After every call: the address space's own view equals the model's.
  void check_state() {
    std::vector<mm::VaRange> ranges;
    f_.space.for_each_range([&](const mm::VaRange& r) { ranges.push_back(r); });
    FUZZ_CHECK(ranges.size() == model_.shm().size() + model_.io().size());
    size_t i = 0;
    for (const auto& [va, m] : model_.shm()) {
      const mm::VaRange& r = ranges[i++];
      FUZZ_CHECK(r.start.value == va && r.size.bytes == m.size() && r.guard_page && r.owner == m.owner &&
                 r.kind == mm::VaRangeKind::kSharedMemory && r.backing == m.cookie);
    }
    for (const auto& [va, m] : model_.io()) {
      const mm::VaRange& r = ranges[i++];
      FUZZ_CHECK(r.start.value == va && r.size.bytes == m.size && r.guard_page && r.owner == m.owner &&
                 r.kind == mm::VaRangeKind::kDeviceIo && r.backing == m.refs);
    }
    FUZZ_CHECK(f_.space.shm_usage().in_use.bytes == model_.shm_in_use());
    FUZZ_CHECK(f_.space.io_usage().in_use.bytes == model_.io_in_use());
    FUZZ_CHECK(f_.space.pa_index_stats().runs == model_.runs());
    FUZZ_CHECK(f_.host.pool.used() == model_.table_pages() && f_.host.pool.pending() == 0);
    // The core's own audit walks every live page and the whole page hash (a millisecond with a
    // thousand pages live): after every 64th call in one input of four (chosen by the input), and
    // at the end of every input.
    if (audit_period_ != 0 && ++checks_ % audit_period_ == 0) FUZZ_CHECK(f_.space.audit());
  }

  World& w_;
  testing::AddressSpaceFixture& f_;
  Reader* in_;  // the input, or a burst's generated bytes
  AddressSpaceModel model_;
  unsigned audit_period_;
  unsigned checks_ = 0;
  bool as_owner_ = false;
  std::optional<GuestId> picked_owner_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Reader in{data, size};
  ++stats.inputs;
  const uint8_t setup = in.take<uint8_t>();
  World& world = (setup & 3) == 3 ? small() : roomy();
  const unsigned audit_periods[] = {64, 0, 0, 0};
  Session(world, in, audit_periods[(setup >> 2) & 3]).run();
  return 0;
}
