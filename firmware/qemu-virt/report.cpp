// firmware/qemu-virt/report.cpp: see report.hpp.
#include "report.hpp"

#include <cstdarg>

#include "console.hpp"
#include "sysreg.hpp"

namespace teemm::fw::conf {
namespace {

struct Counters {
  uint64_t translations = 0;
  uint64_t accesses = 0;
  uint64_t mismatches = 0;
  bool has_minimum = false;
  uint64_t min_translations = 0;
  uint64_t min_accesses = 0;
  const char* why = "";
};

constexpr unsigned kParts = static_cast<unsigned>(Part::kCount);
// Printed in full: this many per part, and this many overall (the rest are only counted).
constexpr uint64_t kPrintPerPart = 6;
constexpr uint64_t kPrintTotal = 24;

// The first mismatch of each kind (its format string) in a part is printed past both budgets, so
// that a flood of one symptom cannot hide another; this many kinds are remembered.
constexpr unsigned kKindsShown = 32;
struct Kind {
  Part part;
  const char* format;
};

Counters g_counters[kParts];
uint64_t g_printed = 0;
bool g_counting = true;
Kind g_kinds[kKindsShown];
unsigned g_kind_count = 0;

Counters& of(Part part) { return g_counters[static_cast<unsigned>(part)]; }

// Whether this is the part's first mismatch of this kind (remembering it, while there is room).
bool first_of_kind(Part part, const char* format) {
  for (unsigned i = 0; i < g_kind_count; ++i) {
    if (g_kinds[i].part == part && g_kinds[i].format == format) return false;
  }
  if (g_kind_count == kKindsShown) return false;
  g_kinds[g_kind_count++] = Kind{part, format};
  return true;
}

}  // namespace

const char* part_name(Part part) {
  switch (part) {
    case Part::kStaticEl3: return "static-el3";
    case Part::kStaticEl1: return "static-sel1";
    case Part::kAccessEl3: return "access-el3";
    case Part::kAccessEl1: return "access-sel1";
    case Part::kEl0: return "el0";
    case Part::kDynamic: return "dynamic";
    case Part::kDynamicEl1: return "dynamic-sel1";
    case Part::kAddressSpace: return "address-space";
    case Part::kStage2: return "stage2";
    case Part::kCount: break;
  }
  return "?";
}

uint64_t now_us() { return read_cntpct_el0() * 1000000 / read_cntfrq_el0(); }

void count_translations(Part part, uint64_t n) {
  if (g_counting) of(part).translations += n;
}
void count_accesses(Part part, uint64_t n) {
  if (g_counting) of(part).accesses += n;
}
void stop_counting() { g_counting = false; }

void require_minimum(Part part, uint64_t translations, uint64_t accesses, const char* why) {
  Counters& c = of(part);
  c.has_minimum = true;
  c.min_translations = translations;
  c.min_accesses = accesses;
  c.why = why;
}

void mismatch(Part part, const char* fmt, ...) {
  Counters& c = of(part);
  ++c.mismatches;
  const bool new_kind = first_of_kind(part, fmt);
  if (!new_kind && (c.mismatches > kPrintPerPart || g_printed >= kPrintTotal)) return;
  ++g_printed;
  printf("  MISMATCH [%s] ", part_name(part));
  va_list args;
  va_start(args, fmt);
  vprintf(fmt, args);
  va_end(args);
  printf("\n");
}

uint64_t mismatches(Part part) { return of(part).mismatches; }

uint64_t total_mismatches() {
  uint64_t n = 0;
  for (const Counters& c : g_counters) n += c.mismatches;
  return n;
}

void print_summary() {
  // A shortfall is a failure of the part: printed whatever the mismatch print budget says.
  for (unsigned i = 0; i < kParts; ++i) {
    Counters& c = g_counters[i];
    const char* name = part_name(static_cast<Part>(i));
    if (!c.has_minimum) {
      ++c.mismatches;
      printf("conformance part %s FAILED: it declared no minimum (did it run?)\n", name);
      continue;
    }
    if (c.translations < c.min_translations || c.accesses < c.min_accesses) {
      ++c.mismatches;
      printf(
          "conformance part %s FAILED: below its minimum: %lu translations compared (minimum %lu), %lu accesses "
          "tried (minimum %lu); minimum from: %s\n",
          name, c.translations, c.min_translations, c.accesses, c.min_accesses, c.why);
    }
  }
  Counters total;
  for (unsigned i = 0; i < kParts; ++i) {
    const Counters& c = g_counters[i];
    printf(
        "conformance part %-13s %8lu translations compared (min %lu), %6lu accesses tried (min %lu), %lu mismatches\n",
        part_name(static_cast<Part>(i)), c.translations, c.min_translations, c.accesses, c.min_accesses, c.mismatches);
    total.translations += c.translations;
    total.accesses += c.accesses;
    total.mismatches += c.mismatches;
  }
  printf("conformance: %lu translations compared, %lu accesses tried, %lu mismatches\n", total.translations,
         total.accesses, total.mismatches);
}

}  // namespace teemm::fw::conf
