// firmware/qemu-virt/address_space_checks.cpp: see address_space_checks.hpp.
#include "address_space_checks.hpp"

#include <new>

#include "access_checks.hpp"
#include "arch/arm64/walker.hpp"
#include "console.hpp"
#include "el0.hpp"
#include "exceptions.hpp"
#include "layout.hpp"
#include "mm/address_space.hpp"
#include "platform.hpp"
#include "platform/builtin/qemu_virt.hpp"
#include "report.hpp"
#include "rng.hpp"
#include "runtime.hpp"
#include "sysreg.hpp"
#include "tlb.hpp"
#include "translation.hpp"

namespace teemm::fw::conf {
namespace {

namespace qv = platform::qemu_virt;

constexpr Part kPart = Part::kAddressSpace;
constexpr Regime kEl1 = Regime::kSecureEl1;
constexpr Regime kEl0 = Regime::kSecureEl0;

// ---- The address space's storage, at the end of the free RW area (platform.hpp) ------------------
constexpr size_t kMaxShmRanges = 160;
constexpr size_t kMaxIoRanges = 16;
constexpr size_t kPaNodes = 512;        // PA-index runs: a few chunks per range
constexpr size_t kPageSlots = 256;      // a small page hash: its paths (hits, full windows) run too
constexpr size_t kPolicyRanges = 64;    // PagePolicy::ranges_needed(registry) is 2 x 19 + 1 here
constexpr size_t kScratchPages = 1024;  // the longest list one map_shared call may pass

struct Storage {
  mm::VaAllocator::Node shm_nodes[mm::VaAllocator::nodes_needed(kMaxShmRanges)];
  mm::VaAllocator::Node io_nodes[mm::VaAllocator::nodes_needed(kMaxIoRanges)];
  mm::PaIndex::Node pa_nodes[kPaNodes];
  mm::PageSlot slots[kPageSlots];
  mm::PolicyRange policy[kPolicyRanges];
  PhysAddr scratch[kScratchPages];
};
static_assert(sizeof(Storage) <= kAddressSpaceStoragePages * kPageSize,
              "the address space's storage must fit in kAddressSpaceStoragePages");

// ---- The plan ------------------------------------------------------------------------------------
constexpr unsigned kChurnCreates = 300;  // map_shared calls of the churn (each range also unmapped)
constexpr unsigned kSmallSlots = 32;     // live small ranges at most
constexpr unsigned kBigSlots = 1;        // live block ranges at most (each audit walks all its pages)
constexpr uint64_t kSmallMaxPages = 16;
constexpr uint64_t kBigMaxPages = 512 + 32;
constexpr unsigned kBigPercent = 3;
constexpr unsigned kReleasedRanges = 80;  // the guest release_guest tears down: > 2 lock batches
constexpr unsigned kKeptRanges = 6;       // another guest's, which must survive it
constexpr uint64_t kTeardownMaxPages = 3;
constexpr unsigned kIoSlots = 10;
constexpr uint64_t kCheckedPages = 8;  // pages verified per range (all of a small one)

constexpr GuestId kGuests[] = {GuestId(1), GuestId(2), GuestId(3)};
constexpr GuestId kReleased = GuestId(7);
constexpr GuestId kKept = GuestId(8);
constexpr GuestId kStranger = GuestId(9);  // owns nothing, ever

// Physical pages: a hot window of non-secure DDR the dynamic parts touched already (first touches
// are slow on QEMU), its 2 MiB blocks, and a window of the firmware's NS scratch, which the static
// map also maps at VA == PA (fw-ns-window, RAM_NSEC, which the policy allows as shared memory): a
// load there proves where a shared mapping points.
constexpr uint64_t kHotBase = 0x48000000;
constexpr uint64_t kHotEnd = 0x48400000;
constexpr uint64_t kHotBlocks = 8;  // 2 MiB blocks from kHotBase
constexpr uint64_t kAliasBase = 0x40a00000;
constexpr uint64_t kAliasEnd = 0x40e00000;
constexpr uint64_t kBlock = uint64_t{1} << 21;

// Known values of QEMU virt's devices (hw/timer/pl031.c, hw/gpio/pl061.c, hw/virtio/virtio-mmio.c):
// the PrimeCell peripheral and cell ID registers at 0xfe0..0xffc, one byte each.
constexpr uint32_t kPl031Id[8] = {0x31, 0x10, 0x14, 0x00, 0x0d, 0xf0, 0x05, 0xb1};
constexpr uint32_t kPl061Id[8] = {0x61, 0x10, 0x04, 0x00, 0x0d, 0xf0, 0x05, 0xb1};
constexpr uint32_t kVirtioMagic = 0x74726976;   // "virt", offset 0 of every transport
constexpr uint32_t kVirtioVendor = 0x554d4551;  // "QEMU", offset 0xc

struct Device {
  const char* name;
  uint64_t pa;  // what is asked for (need not be page aligned)
  uint64_t size;
  bool secure;
  const uint32_t* id;  // PrimeCell IDs at page offset 0xfe0, or null: a virtio-mmio transport
};

constexpr Device kDevices[] = {
    {"rtc (PL031)", qv::kRtcBase, qv::kPl0x1Size, false, kPl031Id},
    {"gpio (PL061)", qv::kGpioBase + 0xfe0, 0x20, false, kPl061Id},
    {"secure-gpio (PL061)", qv::kSecureGpioBase, qv::kPl0x1Size, true, kPl061Id},
    {"virtio-mmio transport 0", qv::kVirtioMmioBase, 0x200, false, nullptr},
    {"virtio-mmio transport 31", qv::kVirtioMmioBase + 31 * 0x200, 0x200, false, nullptr},
};
constexpr unsigned kDeviceCount = sizeof(kDevices) / sizeof(kDevices[0]);

// What must be refused, and with what.
struct SharedRefusal {
  const char* what;
  uint64_t pa;
  Error error;
};
constexpr SharedRefusal kSharedRefusals[] = {
    {"TEE code", qv::kTeeRamBase, Error::kForbiddenMemory},
    {"TEE data (the table pool's region)", qv::kTeeRamRwBase, Error::kForbiddenMemory},
    {"TA RAM", qv::kTaRamBase + 0x10000, Error::kForbiddenMemory},
    {"SDP", qv::kSdpBase, Error::kForbiddenMemory},
    {"secure RAM (boot firmware)", qv::kSecureRamBase, Error::kForbiddenMemory},
    {"the GIC", qv::kGicBase, Error::kForbiddenMemory},
    {"a declared device (rtc)", qv::kRtcBase, Error::kForbiddenMemory},
    {"PA 0 (flash)", 0, Error::kForbiddenMemory},
    {"the NSEC_SHM carve-out", qv::kNsecShmBase + 0x3000, Error::kForbiddenMemory},
    {"past the end of DRAM", qv::kDramBase + qv::kDramSize, Error::kForbiddenMemory},
    {"past the tables' 40-bit output size", uint64_t{1} << 40, Error::kForbiddenMemory},
    {"a misaligned page", kHotBase + 0x808, Error::kMisaligned},
};
constexpr unsigned kSharedRefusalCount = sizeof(kSharedRefusals) / sizeof(kSharedRefusals[0]);

struct IoRefusal {
  const char* what;
  uint64_t pa;
  uint64_t size;
  bool secure;
};
constexpr IoRefusal kIoRefusals[] = {
    {"TEE code as a secure device", qv::kTeeRamBase, kPageSize, true},
    {"TA RAM as a secure device", qv::kTaRamBase, kPageSize, true},
    {"non-secure DRAM as a device", kHotBase, kPageSize, false},
    {"non-secure DRAM as a secure device", kHotBase, kPageSize, true},
    {"the non-secure UART as secure", qv::kUart0Base, qv::kUartSize, true},
    {"the secure GPIO as non-secure", qv::kSecureGpioBase, qv::kPl0x1Size, false},
    {"the RTC as secure", qv::kRtcBase, qv::kPl0x1Size, true},
    {"virtio-mmio beyond its declared 16 KiB", qv::kVirtioMmioBase, 2 * qv::kVirtioMmioSize, false},
    {"PA 0 (flash)", 0, kPageSize, true},
};
constexpr unsigned kIoRefusalCount = sizeof(kIoRefusals) / sizeof(kIoRefusals[0]);
// Besides the lists above: an empty list, a list longer than the page scratch, a list longer than
// the reservation, and an empty ioremap.
constexpr unsigned kOtherRefusals = 4;

// ---- The model: what the address space should hold ------------------------------------------------
struct Mapping {
  bool live = false;
  bool io = false;
  bool secure = false;  // io
  GuestId owner;
  uint64_t va = 0;  // page aligned
  uint64_t pages = 0;
  PhysAddr* pa = nullptr;  // shm: the page list
  uint64_t io_pa = 0;      // io: first page
  uint64_t cookie = 0;
  unsigned refs = 0;         // io: ioremap calls not yet undone
  uint64_t safe_offset = 0;  // io: a register of the first page that is harmless to read
};

constexpr unsigned kShmSlots = kSmallSlots + kBigSlots + kReleasedRanges + kKeptRanges;
PhysAddr g_small_pages[kSmallSlots][kSmallMaxPages];
PhysAddr g_big_pages[kBigSlots][kBigMaxPages];
PhysAddr g_teardown_pages[kReleasedRanges + kKeptRanges][kTeardownMaxPages];
Mapping g_maps[kShmSlots + kIoSlots];

mm::AddressSpace g_as;

// The state a refused call must leave as it was: the address space's own accounting, the table
// pool, and the leaves the walker finds in both reservations (count and a hash of the descriptors).
struct Snapshot {
  uint64_t shm_in_use = 0;
  uint64_t shm_ranges = 0;
  uint64_t io_in_use = 0;
  uint64_t io_ranges = 0;
  uint64_t runs = 0;
  uint64_t pool_used = 0;
  uint64_t leaves = 0;
  uint64_t leaf_hash = 0;
  bool operator==(const Snapshot&) const = default;
};

const char* error_text(Error e) { return error_name(e); }

class Checks {
 public:
  explicit Checks(uint64_t seed) : rng_(seed) {}

  // ---- churn -------------------------------------------------------------------------------------
  void churn() {
    for (unsigned created = 0; created < kChurnCreates;) {
      Mapping* slot = free_churn_slot();
      if (slot != nullptr && (live_churn() == 0 || rng_.chance(55))) {
        ++created;
        const bool big = static_cast<unsigned>(slot - g_maps) >= kSmallSlots;
        create_shared(*slot, kGuests[rng_.below(3)], big ? rng_.between(512, kBigMaxPages) : small_count(),
                      big ? Source::kWithBlock : Source::kMixed);
      } else {
        destroy_shared(*random_live_churn());
      }
    }
    printf(
        "  address-space: churn: %u ranges mapped (%lu pages, %lu with a 2 MiB block), %lu unmapped by their owner\n",
        kChurnCreates, pages_mapped_, blocks_, unmapped_);
  }

  // ---- refusals ----------------------------------------------------------------------------------
  void refusals() {
    for (const SharedRefusal& r : kSharedRefusals) refuse_shared(r);
    // An empty list; one longer than the page scratch; one longer than the reservation (checked
    // before a single page of it is read, so a short array does).
    PhysAddr one[1] = {PhysAddr(kHotBase)};
    refuse_shared_count("an empty list", one, 0, Error::kZeroSize);
    refuse_shared_count("a list longer than the page scratch", one, kScratchPages + 1, Error::kLimitReached);
    refuse_shared_count("a list longer than the SHM reservation", one, shm_entry().size.bytes / kPageSize + 1,
                        Error::kNoVirtualSpace);
    for (const IoRefusal& r : kIoRefusals) refuse_io(r.what, r.pa, r.size, r.secure, Error::kForbiddenMemory);
    refuse_io("an empty range", qv::kRtcBase, 0, false, Error::kZeroSize);
    printf("  address-space: refusals: %u map_shared, %u ioremap, each changed nothing\n", kSharedRefusalCount + 3,
           kIoRefusalCount + 1);
  }

  // ---- ioremap -----------------------------------------------------------------------------------
  void io() {
    // Every declared device, for guest 1; the first one also for guest 2 (a mapping of its own).
    for (const Device& d : kDevices) io_map(kGuests[0], d);
    Mapping* rtc2 = io_map(kGuests[1], kDevices[0]);
    // The platform's own devices are answered from the static map: same VA, nothing mapped.
    static_device("uart0", qv::kUart0Base + 0x18, 4, false);
    static_device("secure-uart", qv::kSecureUartBase + 0x18, 4, true);
    // Sharing: the same owner asking again gets the same mapping, counted.
    Mapping* rtc = find_io(kGuests[0], kDevices[0].pa);
    FW_CHECK(rtc != nullptr && rtc2 != nullptr);
    const Result<VirtAddr> again = g_as.ioremap(kGuests[0], PhysAddr(kDevices[0].pa), Size(kDevices[0].size), false);
    count_translations(kPart);
    if (!again || again->value != rtc->va)
      mismatch(kPart, "ioremap of %s again by its owner: %s, expected the shared VA 0x%lx", kDevices[0].name,
               again ? "a new VA" : error_text(again.error()), rtc->va);
    else
      ++rtc->refs;
    audit("a shared ioremap");
    // A stranger may not undo it; the owner undoes one reference, then the last.
    expect_status("iounmap by a foreign guest", g_as.iounmap(kStranger, VirtAddr(rtc->va)), Error::kPermissionDenied);
    audit("a refused iounmap");
    while (rtc->refs > 1) {
      expect_status("iounmap of a shared mapping", g_as.iounmap(kGuests[0], VirtAddr(rtc->va)), Error::kOk);
      --rtc->refs;
      read_ids(*rtc, kDevices[0]);  // still there
      audit("iounmap of a shared mapping");
    }
    uint64_t touched[1] = {touch_address(*rtc)};
    touch(touched, 1);
    expect_status("the last iounmap", g_as.iounmap(kGuests[0], VirtAddr(rtc->va)), Error::kOk);
    rtc->live = false;
    verify_gone(touched, 1);
    audit("the last iounmap");
    printf("  address-space: ioremap: %u devices read through new mappings, static devices from the static map\n",
           kDeviceCount);
  }

  // ---- teardown ----------------------------------------------------------------------------------
  void teardown() {
    Mapping* released = &g_maps[kSmallSlots + kBigSlots];
    Mapping* kept = released + kReleasedRanges;
    for (unsigned i = 0; i < kReleasedRanges; ++i)
      create_shared(released[i], kReleased, rng_.between(1, kTeardownMaxPages), Source::kMixed);
    for (unsigned i = 0; i < kKeptRanges; ++i)
      create_shared(kept[i], kKept, rng_.between(1, kTeardownMaxPages), Source::kMixed);
    io_map(kReleased, kDevices[0]);
    io_map(kReleased, kDevices[3]);
    // Touch a page of every range of the guest, so that the TLB holds them, then release it.
    const uint64_t expected = count_live(kReleased);
    uint64_t touched[kReleasedRanges + 2];
    uint64_t n = 0;
    for (Mapping& m : g_maps)
      if (m.live && m.owner == kReleased) touched[n++] = touch_address(m);
    touch(touched, n);
    release(kReleased, expected);
    verify_gone(touched, n);
    // The other guest's ranges are intact.
    for (unsigned i = 0; i < kKeptRanges; ++i) store_load(kept[i], rng_.below(kept[i].pages));
    audit("release_guest");
    printf("  address-space: release_guest: %lu ranges of guest %u released, guest %u intact\n", expected,
           kReleased.value, kKept.value);
    // Everything else, guest by guest.
    for (GuestId g : {kGuests[0], kGuests[1], kGuests[2], kKept}) {
      const uint64_t live = count_live(g);
      n = 0;
      uint64_t all[kShmSlots + kIoSlots];
      for (Mapping& m : g_maps)
        if (m.live && m.owner == g) all[n++] = touch_address(m);
      touch(all, n);
      release(g, live);
      verify_gone(all, n);
      audit("release_guest");
    }
  }

  void final_state(uint64_t pool_before) {
    const mm::ReservationUsage shm = g_as.shm_usage();
    const mm::ReservationUsage io = g_as.io_usage();
    const mm::PaIndexStats pa = g_as.pa_index_stats();
    count_translations(kPart);
    if (shm.ranges != 0 || io.ranges != 0 || pa.runs != 0 || shm.in_use.bytes != 0 || io.in_use.bytes != 0)
      mismatch(kPart, "after releasing every guest: %zu SHM ranges, %zu IO ranges, %zu PA-index runs remain",
               shm.ranges, io.ranges, pa.runs);
    if (system().pool->used() != pool_before)
      mismatch(kPart, "table pages leaked: the pool holds %zu pages, %lu before the part", system().pool->used(),
               pool_before);
    const Snapshot s = snapshot();
    if (s.leaves != 0) mismatch(kPart, "the walker still finds %lu leaves in the reservations", s.leaves);
    audit("the end");
  }

  uint64_t audits() const { return audits_; }

 private:
  enum class Source { kMixed, kWithBlock };

  // ---- model -------------------------------------------------------------------------------------
  unsigned live_churn() const {
    unsigned n = 0;
    for (unsigned i = 0; i < kSmallSlots + kBigSlots; ++i) n += g_maps[i].live ? 1 : 0;
    return n;
  }

  uint64_t count_live(GuestId g) const {
    uint64_t n = 0;
    for (const Mapping& m : g_maps) n += (m.live && m.owner == g) ? 1 : 0;
    return n;
  }

  Mapping* free_churn_slot() {
    const bool big = rng_.chance(kBigPercent);
    const unsigned first = big ? kSmallSlots : 0;
    const unsigned end = big ? kSmallSlots + kBigSlots : kSmallSlots;
    for (unsigned i = first; i < end; ++i)
      if (!g_maps[i].live) return &g_maps[i];
    return nullptr;
  }

  Mapping* random_live_churn() {
    // A block range is gone again soon: every audit walks each of its 512+ pages.
    for (unsigned i = kSmallSlots; i < kSmallSlots + kBigSlots; ++i)
      if (g_maps[i].live && rng_.chance(50)) return &g_maps[i];
    for (;;) {
      Mapping& m = g_maps[rng_.below(kSmallSlots + kBigSlots)];
      if (m.live) return &m;
    }
  }

  PhysAddr* pages_of(const Mapping& m) {
    const unsigned i = static_cast<unsigned>(&m - g_maps);
    if (i < kSmallSlots) return g_small_pages[i];
    if (i < kSmallSlots + kBigSlots) return g_big_pages[i - kSmallSlots];
    return g_teardown_pages[i - kSmallSlots - kBigSlots];
  }

  Mapping* free_io_slot() {
    for (unsigned i = kShmSlots; i < kShmSlots + kIoSlots; ++i)
      if (!g_maps[i].live) return &g_maps[i];
    panic("address-space: no free IO slot in the model");
  }

  Mapping* find_io(GuestId owner, uint64_t pa) {
    for (unsigned i = kShmSlots; i < kShmSlots + kIoSlots; ++i) {
      Mapping& m = g_maps[i];
      if (m.live && m.owner == owner && pa >= m.io_pa && pa < m.io_pa + m.pages * kPageSize) return &m;
    }
    return nullptr;
  }

  static const mm::MapEntry& shm_entry() { return *system().map->find_type(mm::MemoryType::kShmVaspace); }
  static const mm::MapEntry& io_entry() { return *system().map->find_type(mm::MemoryType::kResVaspace); }

  // What the model says about any VA (the static map outside both reservations).
  Expectation expect(uint64_t va) const {
    for (const Mapping& m : g_maps) {
      if (!m.live || va < m.va || va - m.va >= m.pages * kPageSize) continue;
      const uint64_t offset = va - m.va;
      if (m.io)
        return expect_for_type(m.secure ? mm::MemoryType::kIoSec : mm::MemoryType::kIoNsec, m.io_pa + offset,
                               "ioremap");
      return expect_for_type(mm::MemoryType::kNsecShm, m.pa[offset / kPageSize].value + (offset & kPageMask),
                             "map_shared");
    }
    const mm::MapEntry& shm = shm_entry();
    const mm::MapEntry& io = io_entry();
    Expectation none;
    if (va >= shm.va.value && va < entry_end(shm)) {
      none.name = "shm-vaspace (free)";
      return none;
    }
    if (va >= io.va.value && va < entry_end(io)) {
      none.name = "io-vaspace (free)";
      return none;
    }
    return expect_in(kEl1, va);
  }

  // A VA of the mapping that is harmless to load (any shared page; a device's ID register).
  uint64_t touch_address(const Mapping& m) {
    return m.io ? m.va + m.safe_offset : m.va + rng_.below(m.pages) * kPageSize + rng_.below(kPageSize / 8) * 8;
  }

  // ---- page lists --------------------------------------------------------------------------------
  uint64_t small_count() { return rng_.chance(60) ? rng_.between(1, 4) : rng_.between(1, kSmallMaxPages); }

  // A run of `n` contiguous pages from one of the windows.
  uint64_t random_run(uint64_t n) {
    const bool alias = rng_.chance(35);
    const uint64_t base = alias ? kAliasBase : kHotBase;
    const uint64_t pages = ((alias ? kAliasEnd : kHotEnd) - base) / kPageSize;
    return base + rng_.below(pages - n + 1) * kPageSize;
  }

  // `count` pages in one to four physically contiguous chunks; a block list starts with 512
  // contiguous pages on a 2 MiB boundary (the library then maps a level-2 block).
  void fill(Mapping& m, uint64_t count, Source source) {
    PhysAddr* pa = pages_of(m);
    uint64_t i = 0;
    if (source == Source::kWithBlock) {
      const uint64_t block = rng_.chance(50) ? kHotBase + rng_.below(kHotBlocks) * kBlock
                                             : kAliasBase + rng_.below((kAliasEnd - kAliasBase) / kBlock) * kBlock;
      for (; i < 512; ++i) pa[i] = PhysAddr(block + i * kPageSize);
    }
    for (unsigned chunk = 0; i < count; ++chunk) {
      const uint64_t left = count - i;
      const uint64_t n = chunk == 3 ? left : rng_.between(1, left);
      const uint64_t run = random_run(n);
      for (uint64_t k = 0; k < n; ++k) pa[i++] = PhysAddr(run + k * kPageSize);
    }
    m.pa = pa;
    m.pages = count;
  }

  // Page indices worth checking in [0, n): all of them when few, else both ends and a sample.
  template <typename Visit>
  void for_checked_pages(uint64_t n, Visit&& visit) {
    if (n <= kCheckedPages) {
      for (uint64_t i = 0; i < n; ++i) visit(i);
      return;
    }
    visit(0);
    visit(n - 1);
    for (uint64_t k = 2; k < kCheckedPages; ++k) visit(rng_.below(n));
  }

  // ---- checks ------------------------------------------------------------------------------------
  void audit(const char* after) {
    ++audits_;
    if (!g_as.audit()) mismatch(kPart, "audit() fails after %s", after);
  }

  void expect_status(const char* what, Status s, Error want) {
    count_translations(kPart);
    if (s.error() != want) mismatch(kPart, "%s: %s, expected %s", what, error_text(s.error()), error_text(want));
  }

  // AT three-way at EL1 and at EL0 (EL0 may touch nothing of the address space's).
  void three_way(uint64_t va) {
    const Expectation e = expect(va);
    const arm64::WalkResult w = walk_regime(kEl1, va);
    check_translation(kPart, kEl1, va, e, w, translate_with_cpu(kEl1, va));
    check_translation(kPart, kEl0, va, e, w, translate_with_cpu(kEl0, va));
  }

  // The library's own answers about a mapped VA, against the walker and the CPU: translate() (its
  // walk, under its lock), virt_to_phys, and phys_to_virt, whose VA AT must take back to the PA.
  void lookups(uint64_t va, uint64_t pa, mm::MemoryType type) {
    count_translations(kPart, 3);
    const arm64::WalkResult mine = walk_regime(kEl1, va);
    const arm64::WalkResult theirs = g_as.translate(VirtAddr(va));
    if (theirs.fault != mine.fault || theirs.output != mine.output || theirs.descriptor != mine.descriptor)
      mismatch(kPart, "translate(0x%lx): %s 0x%lx, the walker %s 0x%lx", va, arm64::fault_kind_name(theirs.fault),
               theirs.output, arm64::fault_kind_name(mine.fault), mine.output);
    const Result<PhysAddr> p = g_as.virt_to_phys(VirtAddr(va));
    if (!p || p->value != pa)
      mismatch(kPart, "virt_to_phys(0x%lx): %s 0x%lx, expected PA 0x%lx", va, p ? "PA" : error_text(p.error()),
               p ? p->value : 0, pa);
    const Result<VirtAddr> v = g_as.phys_to_virt(PhysAddr(pa), Size(8), type);
    const uint64_t par = v ? at_s1e1r(v->value) : 0;
    if (!v || par_faulted(par) || (par_pa(par) | (v->value & kPageMask)) != pa) {
      char cpu[64] = "-";
      if (v) describe_par(par, cpu, sizeof(cpu));
      mismatch(kPart, "phys_to_virt(0x%lx): %s 0x%lx, where AT S1E1R gives %s", pa, v ? "VA" : error_text(v.error()),
               v ? v->value : 0, cpu);
    }
  }

  // A fresh value stored through page i of a shared range and loaded back, and, where the static
  // map holds the same PA at VA == PA (the NS scratch), loaded through that alias too.
  void store_load(const Mapping& m, uint64_t i) {
    const uint64_t va = m.va + i * kPageSize + rng_.below(kPageSize / 8) * 8;
    const uint64_t pa = m.pa[i].value + (va & kPageMask);
    const uint64_t tag = rng_.next();
    uint64_t back = 0;
    count_accesses(kPart, 2);
    if (probe_write(va, tag) || probe_read(va, &back) || back != tag) {
      mismatch(kPart, "store/load through map_shared VA 0x%lx failed (read 0x%lx, wrote 0x%lx)", va, back, tag);
      return;
    }
    if (!ns_scratch().contains(pa)) return;
    count_accesses(kPart);
    if (probe_read(pa, &back) || back != tag)
      mismatch(kPart, "map_shared VA 0x%lx does not reach PA 0x%lx: the static alias reads 0x%lx, not 0x%lx", va, pa,
               back, tag);
  }

  // Execute permission, which AT cannot show: a fetch at EL1 and at EL0 must fault, and an EL0
  // load too. `plant` only where the memory is ours to write (never a device).
  void fetches(uint64_t va, bool plant) {
    va &= ~uint64_t{7};
    const Expectation e = expect(va);
    const arm64::WalkResult w = walk_regime(kEl1, va);
    judge_access(kPart, kEl1, AccessOp::kFetch, va, e, w, try_access(kEl1, AccessOp::kFetch, va, 0, plant));
    judge_access(kPart, kEl0, AccessOp::kFetch, va, e, w, try_access(kEl0, AccessOp::kFetch, va, 0, plant));
    judge_access(kPart, kEl0, AccessOp::kRead, va, e, w, try_access(kEl0, AccessOp::kRead, va));
  }

  // Loads the given VAs (all mapped) so that the TLB holds them.
  void touch(const uint64_t* vas, uint64_t n) {
    for (uint64_t k = 0; k < n; ++k) {
      uint64_t v = 0;
      count_accesses(kPart);
      if (probe_read(vas[k], &v))
        mismatch(kPart, "load from mapped VA 0x%lx faulted (ESR 0x%lx)", vas[k], last_probe_fault().esr);
    }
  }

  // After an unmap: AT (three-way, EL1 and EL0) and a real load must see every touched VA gone,
  // and the library must not find it either.
  void verify_gone(const uint64_t* vas, uint64_t n) {
    for (uint64_t k = 0; k < n; ++k) {
      const uint64_t va = vas[k];
      three_way(va);
      const arm64::WalkResult w = walk_regime(kEl1, va);
      uint64_t v = 0;
      uint64_t esr = 0;
      uint64_t far = 0;
      count_accesses(kPart);
      if (!probe_read(va, &v, &esr, &far))
        mismatch(kPart, "stale TLB entry: load from VA 0x%lx completed after the address space unmapped it", va);
      else if (esr_ec(esr) != kEcDataAbortSame || esr_fsc(esr) != fault_status_of(w) || far != va)
        mismatch(kPart, "load from unmapped VA 0x%lx: ESR 0x%lx FAR 0x%lx, walker %s L%u", va, esr, far,
                 arm64::fault_kind_name(w.fault), w.level);
      count_translations(kPart);
      if (const Result<PhysAddr> p = g_as.virt_to_phys(VirtAddr(va)); p)
        mismatch(kPart, "virt_to_phys(0x%lx) still answers PA 0x%lx after the unmap", va, p->value);
    }
  }

  Snapshot snapshot() const {
    Snapshot s;
    const mm::ReservationUsage shm = g_as.shm_usage();
    const mm::ReservationUsage io = g_as.io_usage();
    s.shm_in_use = shm.in_use.bytes;
    s.shm_ranges = shm.ranges;
    s.io_in_use = io.in_use.bytes;
    s.io_ranges = io.ranges;
    s.runs = g_as.pa_index_stats().runs;
    s.pool_used = system().pool->used();
    const arm64::TranslationTable& t = system().el1_table->raw();
    for (const mm::MapEntry* e : {&shm_entry(), &io_entry()}) {
      arm64::for_each_leaf(arm64::TableMemory{system().pool}, t.root(), kVaBits, e->va.value, entry_end(*e),
                           [&](const arm64::LeafVisit& leaf) {
                             ++s.leaves;
                             s.leaf_hash = (s.leaf_hash ^ leaf.descriptor ^ leaf.input) * 0x100000001b3ull;
                           });
    }
    return s;
  }

  // ---- shared memory -----------------------------------------------------------------------------
  void create_shared(Mapping& m, GuestId owner, uint64_t count, Source source) {
    fill(m, count, source);
    m.cookie = rng_.next();
    const Result<VirtAddr> r = g_as.map_shared(owner, m.pa, PageCount(count), m.cookie);
    count_translations(kPart);
    if (!r) {
      mismatch(kPart, "map_shared(guest %u, %lu pages) refused: %s", owner.value, count, error_text(r.error()));
      return;
    }
    m.live = true;
    m.io = false;
    m.owner = owner;
    m.va = r->value;
    pages_mapped_ += count;
    if (source == Source::kWithBlock) ++blocks_;
    const mm::MapEntry& shm = shm_entry();
    if (m.va < shm.va.value || m.va + count * kPageSize > entry_end(shm) || (m.va & kPageMask) != 0)
      mismatch(kPart, "map_shared gave VA 0x%lx, outside the SHM reservation", m.va);
    if (source == Source::kWithBlock && (m.va & (kBlock - 1)) != 0)
      mismatch(kPart, "map_shared of a list starting on a 2 MiB boundary gave VA 0x%lx, not 2 MiB aligned", m.va);
    const Result<mm::VaRange> range = g_as.shm_range(VirtAddr(m.va));
    if (!range || range->start.value != m.va || range->owner != owner || range->backing != m.cookie ||
        range->size.bytes != count * kPageSize || !range->guard_page)
      mismatch(kPart, "shm_range(0x%lx) does not describe the range map_shared made", m.va);
    for_checked_pages(count, [&](uint64_t i) {
      const uint64_t va = m.va + i * kPageSize + rng_.below(kPageSize / 8) * 8;
      three_way(va);
      lookups(va, m.pa[i].value + (va & kPageMask), mm::MemoryType::kNsecShm);
      store_load(m, i);
    });
    fetches(m.va + rng_.below(count) * kPageSize + rng_.below(kPageSize / 4) * 4, true);
    three_way(m.va + count * kPageSize);  // the guard page
    audit("map_shared");
  }

  void destroy_shared(Mapping& m) {
    // A stranger is refused and the range still works; so is an address inside it.
    expect_status("unmap_shared by a foreign guest", g_as.unmap_shared(kStranger, VirtAddr(m.va)),
                  Error::kPermissionDenied);
    if (m.pages > 1)
      expect_status("unmap_shared of a VA inside a range", g_as.unmap_shared(m.owner, VirtAddr(m.va + kPageSize)),
                    Error::kNotFound);
    store_load(m, rng_.below(m.pages));
    audit("refused unmap_shared calls");
    uint64_t touched[kCheckedPages];
    uint64_t n = 0;
    for_checked_pages(m.pages,
                      [&](uint64_t i) { touched[n++] = m.va + i * kPageSize + rng_.below(kPageSize / 8) * 8; });
    touch(touched, n);
    expect_status("unmap_shared by its owner", g_as.unmap_shared(m.owner, VirtAddr(m.va)), Error::kOk);
    m.live = false;
    ++unmapped_;
    verify_gone(touched, n);
    count_translations(kPart);
    if (g_as.shm_range(VirtAddr(m.va))) mismatch(kPart, "shm_range(0x%lx) still answers after unmap_shared", m.va);
    audit("unmap_shared");
  }

  void refuse_shared(const SharedRefusal& r) {
    PhysAddr list[4];
    for (unsigned i = 0; i < 4; ++i) list[i] = PhysAddr(kHotBase + rng_.below(256) * kPageSize);
    list[1 + rng_.below(2)] = PhysAddr(r.pa);  // never first: every page must be checked
    const Snapshot before = snapshot();
    const Result<VirtAddr> got = g_as.map_shared(kGuests[0], list, PageCount(4), 0x5ec);
    count_translations(kPart);
    if (got.error() != r.error) {
      mismatch(kPart, "map_shared of a list with a page of %s (PA 0x%lx): %s, expected %s", r.what, r.pa,
               got ? "mapped" : error_text(got.error()), error_text(r.error));
      if (got) (void)g_as.unmap_shared(kGuests[0], *got);
      return;
    }
    if (!(snapshot() == before)) mismatch(kPart, "a refused map_shared (a page of %s) changed something", r.what);
    audit("a refused map_shared");
  }

  void refuse_shared_count(const char* what, const PhysAddr* list, uint64_t count, Error want) {
    const Snapshot before = snapshot();
    const Result<VirtAddr> got = g_as.map_shared(kGuests[0], list, PageCount(count), 0x5ec);
    count_translations(kPart);
    if (got.error() != want) {
      mismatch(kPart, "map_shared of %s: %s, expected %s", what, got ? "mapped" : error_text(got.error()),
               error_text(want));
      if (got) (void)g_as.unmap_shared(kGuests[0], *got);
      return;
    }
    if (!(snapshot() == before)) mismatch(kPart, "a refused map_shared (%s) changed something", what);
    audit("a refused map_shared");
  }

  void refuse_io(const char* what, uint64_t pa, uint64_t size, bool secure, Error want) {
    const Snapshot before = snapshot();
    const Result<VirtAddr> got = g_as.ioremap(kGuests[0], PhysAddr(pa), Size(size), secure);
    count_translations(kPart);
    if (got.error() != want) {
      mismatch(kPart, "ioremap of %s (PA 0x%lx, 0x%lx bytes): %s, expected %s", what, pa, size,
               got ? "mapped" : error_text(got.error()), error_text(want));
      if (got) (void)g_as.iounmap(kGuests[0], *got);
      return;
    }
    if (!(snapshot() == before)) mismatch(kPart, "a refused ioremap (%s) changed something", what);
    audit("a refused ioremap");
  }

  // ---- devices -----------------------------------------------------------------------------------
  // The device's known values, read through the mapping: PrimeCell IDs or the virtio magic/vendor.
  void read_ids(const Mapping& m, const Device& d) {
    if (d.id != nullptr) {
      for (unsigned k = 0; k < 8; ++k) {
        const uint64_t va = m.va + 0xfe0 + 4 * k;  // the device's page is the mapping's first
        uint32_t v = 0;
        uint64_t esr = 0;
        count_accesses(kPart);
        if (probe_read32(va, &v, &esr))
          mismatch(kPart, "%s through VA 0x%lx: load of ID register 0x%x faulted (ESR 0x%lx)", d.name, va,
                   0xfe0 + 4 * k, esr);
        else if ((v & 0xff) != d.id[k])
          mismatch(kPart, "%s through VA 0x%lx: ID register 0x%x reads 0x%x, expected 0x%x", d.name, va, 0xfe0 + 4 * k,
                   v, d.id[k]);
      }
      return;
    }
    const uint64_t va = m.va + (d.pa - m.io_pa);
    uint32_t magic = 0;
    uint32_t vendor = 0;
    count_accesses(kPart, 2);
    if (probe_read32(va, &magic) || magic != kVirtioMagic || probe_read32(va + 0xc, &vendor) || vendor != kVirtioVendor)
      mismatch(kPart, "%s through VA 0x%lx: magic 0x%x, vendor 0x%x; expected 0x%x, 0x%x", d.name, va, magic, vendor,
               kVirtioMagic, kVirtioVendor);
  }

  Mapping* io_map(GuestId owner, const Device& d) {
    const Result<VirtAddr> r = g_as.ioremap(owner, PhysAddr(d.pa), Size(d.size), d.secure);
    count_translations(kPart);
    if (!r) {
      mismatch(kPart, "ioremap of %s (PA 0x%lx) for guest %u refused: %s", d.name, d.pa, owner.value,
               error_text(r.error()));
      return nullptr;
    }
    Mapping& m = *free_io_slot();
    m.live = true;
    m.io = true;
    m.secure = d.secure;
    m.owner = owner;
    m.io_pa = d.pa & ~kPageMask;
    m.pages = ((d.pa + d.size + kPageMask) & ~kPageMask) / kPageSize - m.io_pa / kPageSize;
    m.va = r->value & ~kPageMask;
    m.refs = 1;
    m.safe_offset = d.id != nullptr ? 0xfe0 : d.pa & kPageMask;  // an ID register, or the virtio magic
    const mm::MapEntry& io = io_entry();
    if ((r->value & kPageMask) != (d.pa & kPageMask) || m.va < io.va.value ||
        m.va + m.pages * kPageSize > entry_end(io))
      mismatch(kPart, "ioremap of %s gave VA 0x%lx: not in the IO reservation at the page offset of PA 0x%lx", d.name,
               r->value, d.pa);
    for (uint64_t i = 0; i < m.pages; ++i) {
      const uint64_t va = m.va + i * kPageSize + rng_.below(kPageSize / 8) * 8;
      three_way(va);
      lookups(va, m.io_pa + (va - m.va), d.secure ? mm::MemoryType::kIoSec : mm::MemoryType::kIoNsec);
    }
    read_ids(m, d);
    fetches(r->value, false);  // never planted: a device
    audit("ioremap");
    return &m;
  }

  // A device the static map holds: ioremap answers with its static VA (VA == PA here).
  void static_device(const char* name, uint64_t pa, uint64_t size, bool secure) {
    const Snapshot before = snapshot();
    const Result<VirtAddr> r = g_as.ioremap(kGuests[0], PhysAddr(pa), Size(size), secure);
    count_translations(kPart);
    if (!r || r->value != pa)
      mismatch(kPart, "ioremap of the static %s (PA 0x%lx): %s 0x%lx, expected its static VA", name, pa,
               r ? "VA" : error_text(r.error()), r ? r->value : 0);
    if (!(snapshot() == before)) mismatch(kPart, "ioremap of the static %s mapped something", name);
    if (r) {
      uint32_t v = 0;
      count_accesses(kPart);
      if (probe_read32(r->value, &v)) mismatch(kPart, "load from the static %s at VA 0x%lx faulted", name, r->value);
      expect_status("iounmap of a static device", g_as.iounmap(kGuests[0], *r), Error::kOk);
    }
    audit("ioremap of a static device");
  }

  void release(GuestId g, uint64_t expected) {
    const mm::TeardownResult t = g_as.release_guest(g);
    count_translations(kPart);
    if (t.released != expected || t.failed != 0)
      mismatch(kPart, "release_guest(%u): %zu released, %zu failed; the guest had %lu ranges", g.value, t.released,
               t.failed, expected);
    for (Mapping& m : g_maps)
      if (m.live && m.owner == g) m.live = false;
  }

  Rng rng_;
  uint64_t audits_ = 0;
  uint64_t pages_mapped_ = 0;
  uint64_t blocks_ = 0;
  uint64_t unmapped_ = 0;
};

}  // namespace

void run_address_space_checks(uint64_t seed) {
  const System& sys = system();
  // Minimum, from the plan: every map_shared (the churn's and the teardown's) compared (1), one page
  // three-way at EL1 and EL0 (4 AT), the library's three lookups (3), shm_range after it and once
  // the range is gone (2), and the page checked again when gone (4 AT + virt_to_phys); a store and
  // a load through it, a fetch at EL1, one at EL0 and an EL0 load, a touch and the load after the
  // unmap. Every refusal compared (1). Every ioremap'd device: the call, 4 AT, 3 lookups; its ID
  // reads (at least 2), a fetch at EL1 and at EL0 and an EL0 load.
  const uint64_t ranges = kChurnCreates + kReleasedRanges + kKeptRanges;
  const uint64_t min_translations = ranges * (1 + 4 + 3 + 4 + 1) + kSharedRefusalCount + kIoRefusalCount +
                                    kOtherRefusals + kDeviceCount * (1 + 4 + 3);
  const uint64_t min_accesses = ranges * (2 + 3 + 2) + kDeviceCount * (2 + 3);
  require_minimum(kPart, min_translations, min_accesses,
                  "per map_shared range: the call + 4 AT + 3 lookups + 4 AT and a lookup once gone; store, load, 3 "
                  "fetch/EL0, touch, load after; per refusal: the call; per device: call + 4 AT + 3 lookups; 2 reads, "
                  "3 fetch/EL0");

  Storage* storage = new (reinterpret_cast<void*>(address_space_storage().base)) Storage;
  const size_t policy_needed = mm::PagePolicy::ranges_needed(registry());
  FW_CHECK(policy_needed <= kPolicyRanges);
  mm::AddressSpaceStorage s;
  s.shm_nodes = storage->shm_nodes;
  s.shm_node_count = sizeof(storage->shm_nodes) / sizeof(storage->shm_nodes[0]);
  s.io_nodes = storage->io_nodes;
  s.io_node_count = sizeof(storage->io_nodes) / sizeof(storage->io_nodes[0]);
  s.pa_nodes = storage->pa_nodes;
  s.pa_node_count = kPaNodes;
  s.pa_slots = storage->slots;
  s.pa_slot_count = kPageSlots;
  s.policy_ranges = storage->policy;
  s.policy_range_count = policy_needed;
  s.page_scratch = storage->scratch;
  s.page_scratch_count = kScratchPages;
  FW_CHECK(ns_scratch().contains(kAliasBase) && ns_scratch().contains(kAliasEnd - 1));

  CheckedTlb tlb(arm64::TlbRegime::kEl1);
  sys.el1_table->raw().set_tlb_maintenance(&tlb);
  const uint64_t pool_before = sys.pool->used();
  if (Status st = g_as.init(*sys.el1_table, *sys.map, registry(), s); !st) {
    mismatch(kPart, "AddressSpace::init refused: %s", error_name(st.error()));
    sys.el1_table->raw().set_tlb_maintenance(nullptr);
    return;
  }
  printf(
      "address-space: mm::AddressSpace on the secure EL1&0 table at EL%u (storage 0x%lx, %zu bytes), TLB "
      "maintenance %s\n",
      current_el(), address_space_storage().base, sizeof(Storage),
      CheckedTlb::skipped() ? "SKIPPED (TEEMM_FW_SKIP_TLBI)" : "AArch64TlbMaintenance(kEl1)");

  Checks c(seed);
  if (!g_as.audit()) mismatch(kPart, "audit() fails on the fresh address space");
  c.churn();
  c.refusals();
  c.io();
  c.teardown();
  c.final_state(pool_before);

  sys.el1_table->raw().set_tlb_maintenance(nullptr);
  printf("  address-space: %lu audits; TLB maintenance: %lu calls, %lu by-VA invalidations, %lu full\n", c.audits(),
         tlb.calls(), tlb.by_va(), tlb.full());
  printf("  address-space: done, %lu mismatches\n", mismatches(kPart));
}

}  // namespace teemm::fw::conf
