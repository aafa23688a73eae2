// firmware/qemu-virt/dynamic_checks.cpp: see dynamic_checks.hpp.
#include "dynamic_checks.hpp"

#include "access_checks.hpp"
#include "console.hpp"
#include "exceptions.hpp"
#include "mm/va_allocator.hpp"
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

constexpr unsigned kRanges = 2500;    // ranges created (and destroyed) in the run
constexpr unsigned kSmallSlots = 24;  // live small ranges at most
constexpr unsigned kBigSlots = 2;     // live block-sized ranges at most
constexpr uint64_t kSmallMaxPages = 24;
constexpr uint64_t kBigMaxPages = 512 + 96;  // one 2 MiB block plus some pages
constexpr unsigned kBigPercent = 3;
constexpr unsigned g_partialPercent = 30;  // unmaps done in two pieces
constexpr uint64_t kCheckedPages = 24;     // pages verified per step (all of a small range)
constexpr unsigned kWindowSamples = 4;     // random window addresses checked per step

// Where the pages come from: the static NS shared-memory carve-out (its identity alias lets us
// check the PA with a real load) and non-secure DDR no other part uses. Most pages come from a
// small hot window: the first touch of a guest page costs QEMU a host page fault (tens of µs in
// some sandboxes), so thousands of pages spread over 1 GiB would dominate the run time. A few
// "far" pages, spread over the whole pool, keep the high PA bits covered.
constexpr uint64_t kDdrPoolBase = 0x48000000;
constexpr uint64_t kDdrPoolEnd = qv::kDramBase + qv::kDramSize;
constexpr uint64_t kHotPagesEnd = kDdrPoolBase + 0x400000;    // 4 MiB of pages for most ranges
constexpr uint64_t kHotBlocksEnd = kDdrPoolBase + 0x1000000;  // 2 MiB runs for the block ranges
constexpr unsigned kFarPercent = 5;
constexpr uint64_t kFarPages = 64;
constexpr uint64_t kFarStride = ((kDdrPoolEnd - kHotBlocksEnd) / kFarPages) & ~kPageMask;

struct Range {
  bool live = false;
  bool big = false;
  uint64_t va = 0;
  uint64_t pages = 0;
  uint64_t first_mapped = 0;  // pages [first_mapped, end_mapped) are still mapped
  uint64_t end_mapped = 0;
  PhysAddr* pa = nullptr;  // the page list (slot storage)
};

PhysAddr g_small_pages[kSmallSlots][kSmallMaxPages];
PhysAddr g_big_pages[kBigSlots][kBigMaxPages];
Range g_ranges[kSmallSlots + kBigSlots];
mm::VaAllocatorStorage<mm::VaAllocator::nodes_needed(kSmallSlots + kBigSlots)> g_nodes;
mm::VaAllocator g_va;
// Which run is in progress: the EL3 one or the secure-EL1 one (they run one after the other).
Part g_part = Part::kDynamic;
Regime g_regime = Regime::kEl3;
arm64::Stage1Table* g_table = nullptr;

const arm64::MappingAttributes kShmAttributes = mm::mapping_attributes(mm::MemoryType::kNsecShm);

struct Stats {
  uint64_t created = 0;
  uint64_t partial = 0;
  uint64_t blocks = 0;
  uint64_t pages_mapped = 0;
};

class Dynamic {
 public:
  explicit Dynamic(uint64_t seed) : rng_(seed) {}

  void run() {
    for (unsigned created = 0; created < kRanges;) {
      Range* free_slot = pick_free_slot();
      const bool create = free_slot != nullptr && (live_count() == 0 || rng_.chance(55));
      if (create) {
        ++created;
        if (!create_range(*free_slot)) free_slot->live = false;
      } else {
        destroy_range(*pick_live());
      }
      check_window_samples();
    }
    for (Range& r : g_ranges)
      if (r.live) destroy_range(r);
  }

  const Stats& stats() const { return stats_; }

 private:
  unsigned live_count() const {
    unsigned n = 0;
    for (const Range& r : g_ranges) n += r.live ? 1 : 0;
    return n;
  }

  Range* pick_free_slot() {
    const bool big = rng_.chance(kBigPercent);
    const unsigned first = big ? kSmallSlots : 0;
    const unsigned end = big ? kSmallSlots + kBigSlots : kSmallSlots;
    for (unsigned i = first; i < end; ++i) {
      if (!g_ranges[i].live) {
        g_ranges[i].big = big;
        g_ranges[i].pa = big ? g_big_pages[i - kSmallSlots] : g_small_pages[i];
        return &g_ranges[i];
      }
    }
    return nullptr;
  }

  Range* pick_live() {
    for (;;) {
      Range& r = g_ranges[rng_.below(kSmallSlots + kBigSlots)];
      if (r.live) return &r;
    }
  }

  uint64_t random_page() {
    if (rng_.chance(25)) return qv::kNsecShmBase + rng_.below(qv::kNsecShmSize / kPageSize) * kPageSize;
    if (rng_.chance(kFarPercent)) return kHotBlocksEnd + rng_.below(kFarPages) * kFarStride + rng_.below(4) * kPageSize;
    return kDdrPoolBase + rng_.below((kHotPagesEnd - kDdrPoolBase) / kPageSize) * kPageSize;
  }

  // A big range starts with 512 contiguous, 2 MiB-aligned pages at a 2 MiB-aligned VA: a block.
  void fill_pages(Range& r) {
    uint64_t i = 0;
    if (r.big) {
      const uint64_t run = kDdrPoolBase + rng_.below((kHotBlocksEnd - kDdrPoolBase) >> 21) * (uint64_t{1} << 21);
      for (; i < 512; ++i) r.pa[i] = PhysAddr(run + i * kPageSize);
    }
    for (; i < r.pages; ++i) r.pa[i] = PhysAddr(random_page());
  }

  bool create_range(Range& r) {
    r.pages = r.big ? rng_.between(512, kBigMaxPages)
                    : (rng_.chance(70) ? rng_.between(1, 6) : rng_.between(1, kSmallMaxPages));
    mm::AllocationRequest request;
    request.alignment = r.big ? uint64_t{1} << 21 : (rng_.chance(20) ? 0x10000 : kPageSize);
    request.guard_page = rng_.chance(50);
    Result<VirtAddr> va = g_va.allocate(PageCount(r.pages).size(), request);
    if (!va) {
      mismatch(g_part, "VaAllocator refused %lu pages: %s", r.pages, error_name(va.error()));
      return false;
    }
    r.va = va.value().value;
    fill_pages(r);
    if (Status s = g_table->map_pages(VirtAddr(r.va), r.pa, PageCount(r.pages), kShmAttributes); !s) {
      mismatch(g_part, "map_pages(VA 0x%lx, %lu pages) refused: %s", r.va, r.pages, error_name(s.error()));
      (void)g_va.free(VirtAddr(r.va));
      return false;
    }
    r.live = true;
    r.first_mapped = 0;
    r.end_mapped = r.pages;
    ++stats_.created;
    stats_.pages_mapped += r.pages;
    if (r.big) ++stats_.blocks;
    verify_mapped(r, true);
    fetch_checks(r);
    if (request.guard_page) check_va(r.va + r.pages * kPageSize);
    return true;
  }

  // Execute permission, which AT cannot show: a fetch of a `ret` (at EL0 an `svc`) planted in one
  // page of the new range must fault, shared memory being never executable; at secure EL1 also
  // from EL0, and an EL0 load, since EL0 may not touch it at all.
  void fetch_checks(const Range& r) {
    const uint64_t page = r.first_mapped + rng_.below(r.end_mapped - r.first_mapped);
    const uint64_t va = r.va + page * kPageSize + rng_.below(kPageSize / 4) * 4;
    const Expectation e = expect(va);
    const arm64::WalkResult w = walk_regime(g_regime, va);
    judge_access(g_part, g_regime, AccessOp::kFetch, va, e, w, try_access(g_regime, AccessOp::kFetch, va, 0, true));
    if (g_regime != Regime::kSecureEl1) return;
    judge_access(g_part, Regime::kSecureEl0, AccessOp::kFetch, va, e, w,
                 try_access(Regime::kSecureEl0, AccessOp::kFetch, va, 0, true));
    const uint64_t load = va & ~uint64_t{7};
    judge_access(g_part, Regime::kSecureEl0, AccessOp::kRead, load, e, w,
                 try_access(Regime::kSecureEl0, AccessOp::kRead, load));
  }

  // Page indices worth checking in [first, end): all of them when few, else a sample with both ends.
  template <typename Visit>
  void for_checked_pages(uint64_t first, uint64_t end, Visit&& visit) {
    const uint64_t n = end - first;
    if (n <= kCheckedPages) {
      for (uint64_t i = first; i < end; ++i) visit(i);
      return;
    }
    visit(first);
    visit(end - 1);
    for (uint64_t k = 2; k < kCheckedPages; ++k) visit(first + rng_.below(n));
  }

  // Three-way check of pages [first_mapped, end_mapped), then a store and loads through them.
  void verify_mapped(const Range& r, bool write_tags) {
    for_checked_pages(r.first_mapped, r.end_mapped, [&](uint64_t i) {
      const uint64_t va = r.va + i * kPageSize + rng_.below(kPageSize / 8) * 8;
      check_va(va);
      if (write_tags) store_and_load(va, r.pa[i].value + (va & kPageMask));
    });
  }

  void store_and_load(uint64_t va, uint64_t pa) {
    const uint64_t tag = rng_.next();
    uint64_t back = 0;
    count_accesses(g_part, 2);
    if (probe_write(va, tag) || probe_read(va, &back) || back != tag) {
      mismatch(g_part, "store/load through new mapping VA 0x%lx failed (read 0x%lx, wrote 0x%lx)", va, back, tag);
      return;
    }
    // A page of the static nsec-shm region is also mapped identity: the tag must be at that PA.
    if (pa >= qv::kNsecShmBase && pa < qv::kNsecShmBase + qv::kNsecShmSize) {
      count_accesses(g_part);
      if (probe_read(pa, &back) || back != tag)
        mismatch(g_part, "VA 0x%lx does not reach PA 0x%lx: the static alias reads 0x%lx, not 0x%lx", va, pa, back,
                 tag);
    }
  }

  // The model's answer for any VA of the window: a page of a live range, or unmapped.
  Expectation expect(uint64_t va) const {
    for (const Range& r : g_ranges) {
      if (!r.live || va < r.va + r.first_mapped * kPageSize || va >= r.va + r.end_mapped * kPageSize) continue;
      const uint64_t i = (va - r.va) / kPageSize;
      return expect_for_type(mm::MemoryType::kNsecShm, r.pa[i].value + (va & kPageMask), "dynamic-shm");
    }
    Expectation none;
    none.name = "shm-vaspace (free)";
    return none;
  }

  // Three-way at the regime's level; on the EL1&0 table also for EL0 (AT S1E0R/W), which may touch
  // no shared memory at all.
  void check_va(uint64_t va) {
    const System& sys = system();
    const Expectation e = expect(va);
    const arm64::WalkResult w = walk_stage1(*sys.pool, g_table->raw().root(), va);
    check_translation(g_part, g_regime, va, e, w, translate_with_cpu(g_regime, va));
    if (g_regime == Regime::kSecureEl1)
      check_translation(g_part, Regime::kSecureEl0, va, e, w, translate_with_cpu(Regime::kSecureEl0, va));
  }

  void check_window_samples() {
    const mm::MapEntry& w = shm_reservation();
    for (unsigned i = 0; i < kWindowSamples; ++i) check_va(w.va.value + rng_.below(w.size.bytes / 8) * 8);
  }

  // Loads the sampled pages so that the TLB holds them (all must succeed: they are mapped).
  void touch(const Range& r, uint64_t first, uint64_t end, uint64_t* touched, uint64_t& count) {
    for_checked_pages(first, end, [&](uint64_t i) {
      const uint64_t va = r.va + i * kPageSize;
      uint64_t v = 0;
      count_accesses(g_part);
      if (probe_read(va, &v))
        mismatch(g_part, "load from mapped VA 0x%lx faulted (ESR 0x%lx)", va, last_probe_fault().esr);
      touched[count++] = va;
    });
  }

  // After an unmap: AT (three-way) and a real load must both see the pages gone.
  void verify_unmapped(const uint64_t* touched, uint64_t count) {
    const System& sys = system();
    for (uint64_t k = 0; k < count; ++k) {
      const uint64_t va = touched[k];
      check_va(va);
      const arm64::WalkResult w = walk_stage1(*sys.pool, g_table->raw().root(), va);
      uint64_t v = 0;
      uint64_t esr = 0;
      uint64_t far = 0;
      count_accesses(g_part);
      if (!probe_read(va, &v, &esr, &far)) {
        mismatch(g_part, "stale TLB entry: load from VA 0x%lx completed after unmap (walker: %s L%u)", va,
                 arm64::fault_kind_name(w.fault), w.level);
      } else if (esr_ec(esr) != kEcDataAbortSame || esr_fsc(esr) != fault_status_of(w) || far != va) {
        mismatch(g_part, "load from unmapped VA 0x%lx: ESR 0x%lx FAR 0x%lx, walker %s L%u", va, esr, far,
                 arm64::fault_kind_name(w.fault), w.level);
      }
    }
  }

  // Unmaps pages [first, end) of r after touching them, then checks they are gone.
  void unmap_piece(Range& r, uint64_t first, uint64_t end) {
    uint64_t touched[kCheckedPages];
    uint64_t count = 0;
    touch(r, first, end, touched, count);
    if (Status s = g_table->unmap(VirtAddr(r.va + first * kPageSize), PageCount(end - first).size()); !s) {
      mismatch(g_part, "unmap(VA 0x%lx, %lu pages) refused: %s", r.va + first * kPageSize, end - first,
               error_name(s.error()));
      return;
    }
    if (first == r.first_mapped)
      r.first_mapped = end;
    else
      r.end_mapped = first;
    verify_unmapped(touched, count);
  }

  void destroy_range(Range& r) {
    const uint64_t n = r.end_mapped - r.first_mapped;
    if (n >= 2 && rng_.chance(g_partialPercent)) {
      // Two pieces: a prefix or a suffix first (inside a block, the library must split it), then
      // the rest; the part still mapped in between must be intact.
      ++stats_.partial;
      const uint64_t cut = r.first_mapped + rng_.between(1, n - 1);
      if (rng_.chance(50))
        unmap_piece(r, r.first_mapped, cut);
      else
        unmap_piece(r, cut, r.end_mapped);
      verify_mapped(r, false);
    }
    if (r.end_mapped > r.first_mapped) unmap_piece(r, r.first_mapped, r.end_mapped);
    if (Status s = g_va.free(VirtAddr(r.va)); !s)
      mismatch(g_part, "VaAllocator free(0x%lx): %s", r.va, error_name(s.error()));
    r.live = false;
  }

  Rng rng_;
  Stats stats_;
};

}  // namespace

void run_dynamic_checks(Regime regime, Part part, uint64_t seed) {
  const System& sys = system();
  g_regime = regime;
  g_part = part;
  g_table = regime == Regime::kEl3 ? sys.table : sys.el1_table;
  const char* name = part_name(part);
  const mm::MapEntry& window = shm_reservation();
  if (Status s = g_va.init(window.va, window.size, g_nodes.nodes, g_nodes.kCount); !s)
    panic("VaAllocator::init: %s", error_name(s.error()));
  CheckedTlb tlb(regime == Regime::kEl3 ? arm64::TlbRegime::kEl3 : arm64::TlbRegime::kEl1);
  g_table->raw().set_tlb_maintenance(&tlb);
  // Minimum: per range at least one page three-way checked (2 AT) after the map and one after the
  // unmap, plus 4 window samples (8 AT) per step (a step creates or destroys a range; there are at
  // least kRanges steps), all twice on the EL1&0 table (EL1 and EL0); a store and a load through
  // every new range, a fetch in it (at secure EL1 also an EL0 fetch and an EL0 load), a load before
  // its unmap (the touch) and one after it (the stale-TLB probe).
  const bool el1 = regime == Regime::kSecureEl1;
  require_minimum(part, (el1 ? 2 : 1) * (2 + 2 + 2 * kWindowSamples) * uint64_t{kRanges},
                  (el1 ? 7 : 5) * uint64_t{kRanges},
                  el1 ? "per range, EL1 and EL0: 2 AT after map + 2 AT after unmap + 8 AT of window samples; store + "
                        "load + fetch + EL0 fetch + EL0 load + touch + load after unmap"
                      : "per range: 2 AT after map + 2 AT after unmap + 8 AT of window samples; store + load + fetch + "
                        "touch + load after unmap");
  const uint64_t pool_before = sys.pool->used();
  printf("%s: %u shared-memory ranges in %s 0x%lx..0x%lx, TLB maintenance %s\n", name, kRanges, window.name,
         window.va.value, entry_end(window), CheckedTlb::skipped() ? "SKIPPED (TEEMM_FW_SKIP_TLBI)" : "on");

  Dynamic dynamic(seed);
  dynamic.run();

  g_table->raw().set_tlb_maintenance(nullptr);
  const Stats& st = dynamic.stats();
  printf("  %s: %lu ranges (%lu with a 2 MiB block, %lu unmapped in two pieces), %lu pages mapped\n", name, st.created,
         st.blocks, st.partial, st.pages_mapped);
  printf("  %s: TLB maintenance: %lu calls, %lu by-VA invalidations, %lu full\n", name, tlb.calls(), tlb.by_va(),
         tlb.full());
  if (sys.pool->used() != pool_before)
    mismatch(part, "table pages leaked: pool holds %zu pages, %zu before the dynamic part", sys.pool->used(),
             pool_before);
  if (!g_va.audit()) mismatch(part, "VaAllocator audit failed after the run");
  if (g_va.stats().used_ranges != 0) mismatch(part, "VaAllocator still holds %zu ranges", g_va.stats().used_ranges);
  printf("  %s: done, %lu mismatches\n", name, mismatches(part));
}

}  // namespace teemm::fw::conf
