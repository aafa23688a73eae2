// firmware/qemu-virt/static_checks.cpp: see static_checks.hpp.
#include "static_checks.hpp"

#include "console.hpp"
#include "el0.hpp"
#include "platform.hpp"
#include "rng.hpp"
#include "sysreg.hpp"

namespace teemm::fw::conf {
namespace {

constexpr uint64_t kVaLimit = uint64_t{1} << kVaBits;
constexpr unsigned kRandomAnywhere = 2500;  // uniform over the whole 39-bit VA space
constexpr unsigned kRandomLow = 1500;       // uniform below 4 GiB, where all regions are
constexpr unsigned kRandomNearEdges = 40;   // per map entry, within 64 KiB of either edge
constexpr unsigned kRandomPerReservation = 256;
constexpr unsigned kRandomBeyondVa = 100;  // above the 39-bit VA space

struct Checker {
  Regime regime;
  Part part;
  Rng rng;

  // An 8-byte aligned address in the page of `va`: the page offset must not change the answer.
  uint64_t jitter(uint64_t page) { return page + (rng.below(kPageSize / 8) * 8); }

  void check(uint64_t va) {
    check_translation(part, regime, va, expect_in(regime, va), walk_regime(regime, va), translate_with_cpu(regime, va));
  }

  void every_page(const mm::MapEntry& e) {
    for (uint64_t off = 0; off < e.size.bytes; off += kPageSize) check(jitter(e.va.value + off));
  }

  void reservation_samples(const mm::MapEntry& e) {
    check(e.va.value);
    check(entry_end(e) - 8);
    for (unsigned i = 0; i < kRandomPerReservation; ++i) check(e.va.value + rng.below(e.size.bytes / 8) * 8);
  }

  void edges(const mm::MapEntry& e) {
    check(e.va.value - 8);  // the neighbour below (a gap or another region)
    check(entry_end(e));
    for (unsigned i = 0; i < kRandomNearEdges; ++i) {
      const uint64_t delta = rng.below(0x10000 / 8) * 8;
      check(rng.chance(50) ? e.va.value - 8 - delta : entry_end(e) + delta);
    }
  }

  void random_addresses() {
    for (unsigned i = 0; i < kRandomAnywhere; ++i) check(rng.below(kVaLimit / 8) * 8);
    for (unsigned i = 0; i < kRandomLow; ++i) check(rng.below((uint64_t{1} << 32) / 8) * 8);
    for (unsigned i = 0; i < kRandomBeyondVa; ++i) {
      // Some just above the VA size, some with the top bits set (the TTBR1 half at EL1).
      const uint64_t high = rng.chance(50) ? kVaLimit + rng.below(kVaLimit) : ~uint64_t{0} - rng.below(kVaLimit);
      check(high & ~uint64_t{7});
    }
  }
};

}  // namespace

uint64_t run_static_checks(Regime regime, Part part, uint64_t seed) {
  Checker c{regime, part, Rng(seed)};
  const System& sys = system();
  uint64_t planned = 0;  // VAs checked, two translations each
  for (const mm::MapEntry& e : *sys.map) {
    if (e.is_va_reservation()) {
      c.reservation_samples(e);
      planned += 2 + kRandomPerReservation;
    } else {
      c.every_page(e);
      planned += e.size.bytes / kPageSize;
    }
    c.edges(e);
    planned += 2 + kRandomNearEdges;
  }
  if (regime != Regime::kEl3) {
    c.check(c.jitter(kEl0WindowVa));  // the firmware's EL0 window (el0.hpp), in the EL1&0 table only
    planned += 1;
  }
  c.random_addresses();
  planned += kRandomAnywhere + kRandomLow + kRandomBeyondVa;
  printf("  %s: done at EL%u, %lu mismatches so far\n", part_name(part), current_el(), mismatches(part));
  return 2 * planned;
}

}  // namespace teemm::fw::conf
