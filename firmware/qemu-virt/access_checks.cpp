// firmware/qemu-virt/access_checks.cpp: see access_checks.hpp.
#include "access_checks.hpp"

#include "console.hpp"
#include "el0.hpp"
#include "exceptions.hpp"
#include "layout.hpp"
#include "platform.hpp"
#include "platform/builtin/qemu_virt.hpp"
#include "rng.hpp"
#include "sysreg.hpp"

namespace teemm::fw::conf {
namespace {

namespace qv = platform::qemu_virt;

using Op = AccessOp;
using Outcome = AccessOutcome;

constexpr const char* op_name(Op op) { return op == Op::kRead ? "load" : op == Op::kWrite ? "store" : "fetch"; }

// Device registers that are safe to read (no side effects): PL011 FR (+ILPR), GICD CTLR/TYPER,
// GICD IIDR, GICC CTLR/PMR, GICC APR/IIDR.
constexpr uint64_t kSafeDeviceReads[] = {
    qv::kUart0Base + 0x18, qv::kSecureUartBase + 0x18, qv::kGicBase + 0x0,
    qv::kGicBase + 0x8,    qv::kGicBase + 0x10000,     qv::kGicBase + 0x100f8,
};
constexpr unsigned kPagesPerRegion = 12;  // sampled pages per region (first, last, random)
constexpr unsigned kFetchPages = 4;       // of which this many also get a fetch
constexpr unsigned kOutsideSamples = 48;  // unmapped addresses outside every region

alignas(4096) uint64_t g_scratch[512];  // in .bss (tee-data): free to write and to plant code in

const char* walk_name(const arm64::WalkResult& w) { return w.ok() ? "translates" : arm64::fault_kind_name(w.fault); }

Outcome from_el0(const El0Result& r) { return {r.faulted, r.esr, r.far, true, r.elr, r.value}; }

bool allows(const arm64::Access& a, Op op) { return op == Op::kRead ? a.read : op == Op::kWrite ? a.write : a.execute; }

struct Coverage {
  unsigned loads = 0;
  unsigned stores = 0;
  unsigned fetches = 0;
};

struct Tester {
  Regime regime;
  Part part;
  Rng rng;
  Coverage cover;

  bool at_el0() const { return regime == Regime::kSecureEl0; }

  void judge(Op op, uint64_t va, const Outcome& got) {
    (op == Op::kRead ? cover.loads : op == Op::kWrite ? cover.stores : cover.fetches) += 1;
    judge_access(part, regime, op, va, expect_in(regime, va), walk_regime(regime, va), got);
  }

  Outcome do_read(uint64_t va) { return try_access(regime, Op::kRead, va); }
  Outcome do_write(uint64_t va, uint64_t value) { return try_access(regime, Op::kWrite, va, value); }
  Outcome do_fetch(uint64_t va, bool plant) { return try_access(regime, Op::kFetch, va, 0, plant); }

  void read(uint64_t va) { judge(Op::kRead, va, do_read(va)); }

  // A store of the value already there: harmless wherever it lands, yet a permission check.
  void write_same(uint64_t va) {
    uint64_t value = 0;
    if (probe_read(va, &value)) value = 0;  // unreadable (privileged): the store must fault as well
    judge(Op::kWrite, va, do_write(va, value));
  }

  // A store of a fresh value, read back (memory that is ours to scribble on).
  void write_fresh(uint64_t va) {
    const uint64_t value = rng.next();
    const Outcome o = do_write(va, value);
    judge(Op::kWrite, va, o);
    uint64_t back = 0;
    if (!o.faulted && (probe_read(va, &back) || back != value))
      mismatch(part, "store at VA 0x%010lx completed but reads back 0x%lx, not 0x%lx", va, back, value);
  }

  void fetch(uint64_t va, bool plant) { judge(Op::kFetch, va, do_fetch(va, plant)); }

  // A fetch target in read-only memory that is harmless if it were executed: a zero word (UDF).
  void fetch_zero_word(uint64_t page) {
    for (uint64_t va = page; va < page + kPageSize; va += 8) {
      uint64_t v = 1;
      if (!probe_read(va, &v) && v == 0) return fetch(va, false);
    }
  }

  uint64_t sample_page(const mm::MapEntry& e, unsigned i) {
    const uint64_t pages = e.size.bytes / kPageSize;
    const uint64_t page = i == 0 ? 0 : i == 1 ? pages - 1 : rng.below(pages);
    return e.va.value + page * kPageSize;
  }
  uint64_t in_page(uint64_t page) { return page + rng.below(kPageSize / 8) * 8; }

  void physical_region(const mm::MapEntry& e) {
    const bool is_device = e.type == mm::MemoryType::kIoSec || e.type == mm::MemoryType::kIoNsec;
    if (is_device) return device_region(e);
    for (unsigned i = 0; i < kPagesPerRegion; ++i) {
      const uint64_t page = sample_page(e, i);
      read(in_page(page));
      store_and_fetch(e, page, i);
    }
  }

  void store_and_fetch(const mm::MapEntry& e, uint64_t page, unsigned i) {
    const bool fetch_here = i < kFetchPages;
    switch (e.type) {
      case mm::MemoryType::kTeeRamRx:
        write_same(in_page(page));
        // At EL0 every other fetch goes to the EL0 page itself at VA == PA: its `svc` fill runs if
        // EL0 may execute here (a `ret` of the ret page returns to the EL0 window, which ends it too).
        if (fetch_here && at_el0() && i % 2 == 0)
          fetch(el0_page() + FW_EL0_SVC_OFFSET + rng.below(64) * 4, false);
        else if (fetch_here)
          fetch(ret_page() + rng.below(kPageSize / 4) * 4, false);
        break;
      case mm::MemoryType::kTeeRamRo:
        write_same(in_page(page));
        if (fetch_here) fetch_zero_word(page);
        break;
      case mm::MemoryType::kTeeRamRw:
        // Not on the stacks: a value written back there may be stale by then.
        if (!el3_stack().contains(page) && !el1_stack().contains(page)) write_same(in_page(page));
        if (fetch_here) {
          write_fresh(reinterpret_cast<uint64_t>(&g_scratch[rng.below(512)]));
          fetch(reinterpret_cast<uint64_t>(&g_scratch[rng.below(512)]), true);
        }
        break;
      case mm::MemoryType::kRamNsec:
        // The firmware's NS window: the agent's code is left alone, its scratch part is free.
        if (ns_scratch().contains(page)) {
          write_fresh(in_page(page));
          if (fetch_here) fetch(in_page(page), true);
        } else {
          write_same(in_page(page));
        }
        break;
      default:  // TA RAM, NS shared memory: ours to scribble on
        write_fresh(in_page(page));
        if (fetch_here) fetch(in_page(page), true);
        break;
    }
  }

  void device_region(const mm::MapEntry& e) {
    for (uint64_t reg : kSafeDeviceReads) {
      if (reg < e.va.value || reg >= entry_end(e)) continue;
      read(reg);
      fetch(reg, false);  // XN: must fault before the device is touched
    }
  }

  void unmapped(uint64_t va) {
    read(va);
    write_same(va);
    fetch(va & ~uint64_t{3}, false);
  }

  void reservation(const mm::MapEntry& e) {
    for (unsigned i = 0; i < kPagesPerRegion; ++i) unmapped(in_page(sample_page(e, i)));
  }

  void outside() {
    for (unsigned n = 0; n < kOutsideSamples;) {
      const uint64_t va =
          rng.chance(70) ? rng.below((uint64_t{1} << 32) / 8) * 8 : rng.below((uint64_t{1} << kVaBits) / 8) * 8;
      Expectation window;
      if (system().map->find(VirtAddr(va)) != nullptr || el0_window_expectation(va, &window)) continue;
      unmapped(va);
      ++n;
    }
  }

  // EL0 only: the one page EL0 may use. A load completes (and reads the page), a store faults, a
  // fetch of its `svc` fill runs: the probes can say yes as well as no.
  void el0_window() {
    const uint64_t va = kEl0WindowVa + FW_EL0_SVC_OFFSET + rng.below(64) * 4;
    const El0Result load = el0_load(va & ~uint64_t{7});
    judge(Op::kRead, va & ~uint64_t{7}, from_el0(load));
    uint64_t expected = 0;
    if (!load.faulted &&
        (probe_read(el0_page() + ((va & ~uint64_t{7}) - kEl0WindowVa), &expected) || load.value != expected))
      mismatch(part, "EL0 load from the EL0 window VA 0x%lx read 0x%lx, the page holds 0x%lx", va, load.value,
               expected);
    write_same(va & ~uint64_t{7});
    fetch(va, false);
  }

  // Every region needs a load and a fetch, and all but the devices a store.
  void require_coverage(const char* name, bool device) {
    if (cover.loads == 0 || cover.fetches == 0 || (!device && cover.stores == 0))
      mismatch(part, "region %s: %u loads, %u stores, %u fetches judged; every region needs a load and a fetch%s", name,
               cover.loads, cover.stores, cover.fetches, device ? "" : " and a store");
    cover = Coverage{};
  }
};

}  // namespace

AccessOutcome try_access(Regime regime, AccessOp op, uint64_t va, uint64_t value, bool plant) {
  if (regime == Regime::kSecureEl0) {
    if (op == Op::kRead) return from_el0(el0_load(va));
    if (op == Op::kWrite) return from_el0(el0_store(va, value));
    Planted p;
    if (plant) p = plant_instruction(va, svc_instruction(FW_EL0_SVC_PLANTED));
    const Outcome o = from_el0(el0_fetch(va));
    unplant(p);
    return o;
  }
  Outcome o;
  switch (op) {
    case Op::kRead: o.faulted = probe_read(va, &o.value, &o.esr, &o.far); break;
    case Op::kWrite: o.faulted = probe_write(va, value, &o.esr, &o.far); break;
    case Op::kFetch:
      o.faulted = plant ? probe_execute_planted(va, &o.esr, &o.far) : probe_execute(va, &o.esr, &o.far);
      break;
  }
  return o;
}

bool judge_access(Part part, Regime regime, AccessOp op, uint64_t va, const Expectation& e, const arm64::WalkResult& w,
                  const AccessOutcome& got) {
  count_accesses(part);
  const bool at_el0 = regime == Regime::kSecureEl0;
  const bool walker_allows = w.ok() && allows(walker_access(regime, w), op);
  const bool type_allows = e.mapped && allows(expected_access(regime, e), op);
  const unsigned fsc = w.ok() ? fsc_permission(w.level) : fault_status_of(w);
  const unsigned ec = op == Op::kFetch ? (at_el0 ? kEcInstAbortLower : kEcInstAbortSame)
                                       : (at_el0 ? kEcDataAbortLower : kEcDataAbortSame);
  // The type (what the core meant) against the CPU first: that is the failure that matters; then
  // the walker against the type, then the details of the fault the walker predicts.
  const char* problem = nullptr;
  if (got.faulted == type_allows)
    problem = type_allows ? "faulted, expected to complete" : "completed, expected a fault";
  else if (walker_allows != type_allows)
    problem = "type and walker disagree";
  else if (got.faulted && (esr_ec(got.esr) != ec || esr_fsc(got.esr) != fsc))
    problem = "wrong exception class or fault status";
  else if (got.faulted && got.far != va)
    problem = "wrong FAR";
  else if (got.faulted && op != Op::kFetch && esr_wnr(got.esr) != (op == Op::kWrite))
    problem = "wrong WnR";
  if (problem == nullptr) return true;
  char cpu[96] = "completed";
  if (!got.faulted && got.el0)
    snprintf(cpu, sizeof(cpu), "completed (EL0 then raised EC 0x%02x, %s, at 0x%lx)", esr_ec(got.esr),
             esr_class_name(esr_ec(got.esr)), got.elr);
  else if (got.faulted)
    snprintf(cpu, sizeof(cpu), "faulted: ESR 0x%lx (EC 0x%02x, %s) FAR 0x%lx", got.esr, esr_ec(got.esr),
             fault_status_name(esr_fsc(got.esr)), got.far);
  mismatch(part, "%s%s at VA 0x%010lx (%s): %s; type %s, walker %s (%s L%u), CPU %s", at_el0 ? "EL0 " : "", op_name(op),
           va, e.name, problem, type_allows ? "allows" : "forbids", walker_allows ? "allows" : "forbids", walk_name(w),
           w.level, cpu);
  return false;
}

uint64_t run_access_checks(Regime regime, Part part, uint64_t seed) {
  Tester t{regime, part, Rng(seed), {}};
  uint64_t planned = 0;
  for (const mm::MapEntry& e : *system().map) {
    const bool device = e.type == mm::MemoryType::kIoSec || e.type == mm::MemoryType::kIoNsec;
    if (e.is_va_reservation()) {
      t.reservation(e);
      planned += 3 * kPagesPerRegion;
    } else {
      t.physical_region(e);
      planned += device ? 2 : kPagesPerRegion + 2;  // device: a load and a fetch; else 12 loads, a store, a fetch
    }
    t.require_coverage(e.name, device);
  }
  if (regime == Regime::kSecureEl0) {
    t.el0_window();
    t.require_coverage("fw-el0-window", false);
    planned += 3;
  }
  t.outside();
  planned += 3 * kOutsideSamples;
  printf("  %s: done at EL%u, %lu mismatches so far\n", part_name(part), current_el(), mismatches(part));
  return planned;
}

}  // namespace teemm::fw::conf
