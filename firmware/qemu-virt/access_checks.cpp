// firmware/qemu-virt/access_checks.cpp: see access_checks.hpp.
#include "access_checks.hpp"

#include "console.hpp"
#include "exceptions.hpp"
#include "layout.hpp"
#include "platform.hpp"
#include "platform/builtin/qemu_virt.hpp"
#include "rng.hpp"
#include "sysreg.hpp"

namespace teemm::fw::conf {
namespace {

namespace qv = platform::qemu_virt;

enum class Op { kRead, kWrite, kFetch };

constexpr const char* op_name(Op op) { return op == Op::kRead ? "load" : op == Op::kWrite ? "store" : "fetch"; }

// Device registers that are safe to read (no side effects): PL011 FR (+ILPR), GICD CTLR/TYPER,
// GICD IIDR, GICC CTLR/PMR, GICC APR/IIDR.
constexpr uint64_t kSafeDeviceReads[] = {
    qv::kUart0Base + 0x18, qv::kSecureUartBase + 0x18, qv::kGicBase + 0x0,
    qv::kGicBase + 0x8,    qv::kGicBase + 0x10000,     qv::kGicBase + 0x100f8,
};
constexpr unsigned kPagesPerRegion = 12;  // sampled pages per region (first, last, random)
constexpr unsigned kOutsideSamples = 48;  // unmapped addresses outside every region

alignas(4096) uint64_t g_scratch[512];  // in .bss (tee-data): free to write and to plant code in

const char* walk_name(const arm64::WalkResult& w) { return w.ok() ? "translates" : arm64::fault_kind_name(w.fault); }

struct Outcome {
  bool faulted = false;
  uint64_t esr = 0;
  uint64_t far = 0;
};

struct Tester {
  Regime regime;
  Part part;
  Rng rng;

  // What must happen, from the walker and (separately) from the memory type; then what did.
  void judge(Op op, uint64_t va, const Outcome& got) {
    count_accesses(part);
    const System& sys = system();
    const arm64::Stage1Table& table = regime == Regime::kEl3 ? *sys.table : *sys.el1_table;
    const arm64::WalkResult w = walk_stage1(*sys.pool, table.raw().root(), va);
    const Expectation e = expect_static(va);
    const bool walker_allows = w.ok() && (op == Op::kRead    ? w.attributes.privileged.read
                                          : op == Op::kWrite ? w.attributes.privileged.write
                                                             : walker_executable(regime, w));
    const bool type_allows = e.mapped && (op == Op::kRead    ? e.access.read
                                          : op == Op::kWrite ? e.access.write
                                                             : e.access.execute);
    const unsigned fsc = w.ok() ? fsc_permission(w.level) : fault_status_of(w);
    const unsigned ec = op == Op::kFetch ? kEcInstAbortSame : kEcDataAbortSame;
    const char* problem = nullptr;
    if (walker_allows != type_allows)
      problem = "type and walker disagree";
    else if (got.faulted == walker_allows)
      problem = walker_allows ? "faulted, expected to complete" : "completed, expected a fault";
    else if (got.faulted && (esr_ec(got.esr) != ec || esr_fsc(got.esr) != fsc))
      problem = "wrong exception class or fault status";
    else if (got.faulted && got.far != va)
      problem = "wrong FAR";
    else if (got.faulted && op != Op::kFetch && esr_wnr(got.esr) != (op == Op::kWrite))
      problem = "wrong WnR";
    if (problem == nullptr) return;
    char cpu[96] = "completed";
    if (got.faulted)
      snprintf(cpu, sizeof(cpu), "faulted: ESR 0x%lx (EC 0x%02x, %s) FAR 0x%lx", got.esr, esr_ec(got.esr),
               fault_status_name(esr_fsc(got.esr)), got.far);
    mismatch(part, "%s at VA 0x%010lx (%s): %s; type %s, walker %s (%s L%u), CPU %s", op_name(op), va, e.name, problem,
             type_allows ? "allows" : "forbids", walker_allows ? "allows" : "forbids", walk_name(w), w.level, cpu);
  }

  void read(uint64_t va) {
    Outcome o;
    uint64_t value = 0;
    o.faulted = probe_read(va, &value, &o.esr, &o.far);
    judge(Op::kRead, va, o);
  }

  // A store of the value already there: harmless wherever it lands, yet a permission check.
  void write_same(uint64_t va) {
    uint64_t value = 0;
    Outcome o;
    if (probe_read(va, &value)) value = 0;  // unreadable: the store must fault as well
    o.faulted = probe_write(va, value, &o.esr, &o.far);
    judge(Op::kWrite, va, o);
  }

  // A store of a fresh value, read back (memory that is ours to scribble on).
  void write_fresh(uint64_t va) {
    const uint64_t value = rng.next();
    Outcome o;
    o.faulted = probe_write(va, value, &o.esr, &o.far);
    judge(Op::kWrite, va, o);
    uint64_t back = 0;
    if (!o.faulted && (probe_read(va, &back) || back != value))
      mismatch(part, "store at VA 0x%010lx completed but reads back 0x%lx, not 0x%lx", va, back, value);
  }

  void fetch(uint64_t va, bool plant) {
    Outcome o;
    o.faulted = plant ? probe_execute_planted(va, &o.esr, &o.far) : probe_execute(va, &o.esr, &o.far);
    judge(Op::kFetch, va, o);
  }

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
    switch (e.type) {
      case mm::MemoryType::kTeeRamRx:
        write_same(in_page(page));
        if (i < 4) fetch(ret_page() + rng.below(kPageSize / 4) * 4, false);
        break;
      case mm::MemoryType::kTeeRamRo:
        write_same(in_page(page));
        if (i < 4) fetch_zero_word(page);
        break;
      case mm::MemoryType::kTeeRamRw:
        // Not on the stacks: a value written back there may be stale by then.
        if (!el3_stack().contains(page) && !el1_stack().contains(page)) write_same(in_page(page));
        if (i < 4) {
          write_fresh(reinterpret_cast<uint64_t>(&g_scratch[rng.below(512)]));
          fetch(reinterpret_cast<uint64_t>(&g_scratch[rng.below(512)]), true);
        }
        break;
      case mm::MemoryType::kRamNsec:
        // The firmware's NS window: the agent's code is left alone, its scratch part is free.
        if (ns_scratch().contains(page)) {
          write_fresh(in_page(page));
          if (i < 4) fetch(in_page(page), true);
        } else {
          write_same(in_page(page));
        }
        break;
      default:  // TA RAM, NS shared memory: ours to scribble on
        write_fresh(in_page(page));
        if (i < 4) fetch(in_page(page), true);
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
      if (system().map->find(VirtAddr(va)) != nullptr) continue;
      unmapped(va);
      ++n;
    }
  }
};

}  // namespace

void run_access_checks(Regime regime, Part part, uint64_t seed) {
  Tester t{regime, part, Rng(seed)};
  for (const mm::MapEntry& e : *system().map) {
    if (e.is_va_reservation()) {
      t.reservation(e);
    } else {
      t.physical_region(e);
    }
  }
  t.outside();
  printf("  %s: done at EL%u, %lu mismatches so far\n", part_name(part), current_el(), mismatches(part));
}

}  // namespace teemm::fw::conf
