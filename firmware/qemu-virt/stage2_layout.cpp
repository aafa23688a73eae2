// firmware/qemu-virt/stage2_layout.cpp: see stage2_layout.hpp.
#include "stage2_layout.hpp"

#include <new>

#include "console.hpp"
#include "layout.hpp"
#include "platform.hpp"
#include "rng.hpp"
#include "runtime.hpp"

namespace teemm::fw::conf {
namespace {

using arm64::Access;
using arm64::MemoryKind;

constexpr Access kRw{true, true, false};
constexpr Access kRo{true, false, false};
constexpr Access kRx{true, false, true};
constexpr size_t kPoolPages = 4096;  // all of ns_scratch() (16 MiB)
constexpr unsigned kScatteredPages = 64;

uint64_t g_scattered[kScatteredPages];  // PAs behind the scattered IPA region (filled at run time)
uint16_t g_live_counts[kPoolPages];
alignas(arm64::TablePool) unsigned char g_pool_storage[sizeof(arm64::TablePool)];
GuestTables g_guest;

// Stage 2: IPA -> PA (non-secure). Holes everywhere else, e.g. 0x80905000..0x81000000 and the
// whole of 0x8160_0000..0x9000_0000 (stage-1 mappings below lead into some of them).
const LayoutRegion kStage2[] = {
    {"ram-blocks", 0x80000000, 0x44000000, 0x800000, MemoryKind::kNormalWriteBack, kRw},  // 2 MiB blocks
    {"ram-pages", 0x80800000, 0x44813000, 0x105000, MemoryKind::kNormalWriteBack, kRw},   // offset: pages only
    {"rom", 0x81000000, 0x45000000, 0x210000, MemoryKind::kNormalWriteBack, kRx},         // read-only
    {"ram-nc", 0x81400000, 0x45400000, 0x40000, MemoryKind::kNormalNonCacheable, kRw},
    {"uart", 0x09000000, 0x09000000, 0x1000, MemoryKind::kDevice, kRw},
    {"gic", 0x08000000, 0x08000000, 0x10000, MemoryKind::kDeviceStronglyOrdered, kRw},
    {"ram-high", 0xc000000000, 0x46000000, 0x400000, MemoryKind::kNormalWriteBack, kRw},  // level-0 entry 1
    {"scattered", 0x90000000, 0, kScatteredPages* kPageSize, MemoryKind::kNormalWriteBack, kRw, g_scattered},
    {"ns-tables", 0, 0, 0, MemoryKind::kNormalWriteBack, kRo},  // ns_scratch() identity (set at run time)
};
LayoutRegion g_stage2[sizeof(kStage2) / sizeof(kStage2[0])];

// Stage 1 (EL1&0 of the guest): VA -> IPA.
const LayoutRegion kStage1[] = {
    {"va-ram", 0x10000000, 0x80000000, 0x800000, MemoryKind::kNormalWriteBack, kRw},
    {"va-ram-pages+hole", 0x10800000, 0x80800000, 0x107000, MemoryKind::kNormalWriteBack,
     kRw},                                                                               // last 2 pages: S2 hole
    {"va-rom-rw", 0x11000000, 0x81000000, 0x210000, MemoryKind::kNormalWriteBack, kRw},  // S2 permission on write
    {"va-nc-as-device", 0x11400000, 0x81400000, 0x40000, MemoryKind::kDevice, kRw},
    {"va-uart", 0x12000000, 0x09000000, 0x1000, MemoryKind::kDevice, kRw},
    {"va-gic", 0x12100000, 0x08000000, 0x10000, MemoryKind::kDevice, kRw},
    {"va-high", 0x13000000, 0xc000000000, 0x400000, MemoryKind::kNormalWriteBack, kRw},
    {"va-scattered-ro", 0x14000000, 0x90000000, kScatteredPages* kPageSize, MemoryKind::kNormalWriteBack, kRo},
    {"va-tables-rw", 0x15000000, 0, 0x10000, MemoryKind::kNormalWriteBack, kRw},           // ns_scratch(): S2 is RO
    {"va-hole", 0x16000000, 0x83000000, 0x4000, MemoryKind::kNormalWriteBack, kRw},        // S2 translation fault
    {"va-far-hole", 0x17000000, 0xff00000000, 0x2000, MemoryKind::kNormalWriteBack, kRw},  // S2 fault at level 1
    {"va-ram-nc-alias", 0x18000000, 0x80000000, 0x10000, MemoryKind::kNormalNonCacheable, kRw},
};
LayoutRegion g_stage1[sizeof(kStage1) / sizeof(kStage1[0])];

arm64::MappingAttributes attributes_of(const LayoutRegion& r) {
  arm64::MappingAttributes a;
  a.memory = r.memory;
  a.privileged = r.access;
  a.non_secure = true;  // ignored by the non-secure regime and by stage 2
  return a;
}

void fill_runtime_parts(uint64_t seed) {
  Rng rng(seed);
  // Scattered pages: random non-secure pages in a 16 MiB window (only translated, never accessed).
  for (uint64_t& pa : g_scattered) pa = 0x4a000000 + rng.below(0x1000) * kPageSize;
  for (unsigned i = 0; i < sizeof(kStage2) / sizeof(kStage2[0]); ++i) g_stage2[i] = kStage2[i];
  for (unsigned i = 0; i < sizeof(kStage1) / sizeof(kStage1[0]); ++i) g_stage1[i] = kStage1[i];
  LayoutRegion& tables = g_stage2[sizeof(kStage2) / sizeof(kStage2[0]) - 1];
  tables.input = tables.output = ns_scratch().base;
  tables.size = ns_scratch().size;
  g_stage1[8].output = ns_scratch().base;
}

void map_all(const LayoutRegion* regions, unsigned count, bool stage2) {
  static PhysAddr pages[kScatteredPages];
  for (unsigned i = 0; i < count; ++i) {
    const LayoutRegion& r = regions[i];
    Status s;
    if (r.pages != nullptr) {
      for (uint64_t k = 0; k < r.size / kPageSize; ++k) pages[k] = PhysAddr(r.pages[k]);
      s = stage2 ? g_guest.stage2.map_pages(IntermediatePhysAddr(r.input), pages, PageCount(r.size / kPageSize),
                                            attributes_of(r))
                 : g_guest.stage1.map_pages(VirtAddr(r.input), pages, PageCount(r.size / kPageSize), attributes_of(r));
    } else if (stage2) {
      s = g_guest.stage2.map(IntermediatePhysAddr(r.input), PhysAddr(r.output), Size(r.size), attributes_of(r));
    } else {
      s = g_guest.stage1.map(VirtAddr(r.input), PhysAddr(r.output), Size(r.size), attributes_of(r));
    }
    if (!s) panic("stage %u map of %s refused: %s", stage2 ? 2 : 1, r.name, error_name(s.error()));
  }
}

}  // namespace

GuestTables& build_guest_tables(uint64_t seed) {
  fill_runtime_parts(seed);
  const Span scratch = ns_scratch();
  FW_CHECK(scratch.size / kPageSize == kPoolPages);
  g_guest.pool = new (g_pool_storage) arm64::TablePool(reinterpret_cast<arm64::TablePage*>(scratch.base), g_live_counts,
                                                       kPoolPages, PhysAddr(scratch.base));
  // Each table with the output size its regime is programmed with: VTCR_EL2.PS for stage 2, and
  // TCR_EL1.IPS = the IPA size for the guest's stage 1 (stage2_checks.cpp).
  Result<arm64::Stage2Table> s2 = arm64::Stage2Table::create(*g_guest.pool, kIpaBits, kVtcrPaBits);
  Result<arm64::Stage1Table> s1 =
      arm64::Stage1Table::create(*g_guest.pool, kVaBits, arm64::TranslationRegime::kEl1And0, kIpaBits);
  if (!s2 || !s1) panic("guest table create refused");
  g_guest.stage2 = s2.value();
  g_guest.stage1 = s1.value();
  g_guest.s2_regions = g_stage2;
  g_guest.s2_count = sizeof(g_stage2) / sizeof(g_stage2[0]);
  g_guest.s1_regions = g_stage1;
  g_guest.s1_count = sizeof(g_stage1) / sizeof(g_stage1[0]);
  map_all(g_guest.s2_regions, g_guest.s2_count, true);
  map_all(g_guest.s1_regions, g_guest.s1_count, false);
  const arm64::TableStatistics& a = g_guest.stage2.raw().statistics();
  const arm64::TableStatistics& b = g_guest.stage1.raw().statistics();
  printf(
      "stage2: guest tables in NS scratch: stage 2 (%u-bit IPA) %lu pages, %lu blocks, %lu pages mapped; "
      "stage 1 %lu pages\n",
      kIpaBits, a.table_pages, a.leaves[1] + a.leaves[2], a.leaves[3], b.table_pages);
  return g_guest;
}

LayoutAnswer lookup(const LayoutRegion* regions, unsigned count, uint64_t input) {
  for (unsigned i = 0; i < count; ++i) {
    const LayoutRegion& r = regions[i];
    if (input < r.input || input - r.input >= r.size) continue;
    const uint64_t offset = input - r.input;
    LayoutAnswer a;
    a.mapped = true;
    a.output = r.pages != nullptr ? r.pages[offset / kPageSize] + (offset & kPageMask) : r.output + offset;
    a.memory = r.memory;
    a.access = r.access;
    a.name = r.name;
    return a;
  }
  return LayoutAnswer{};
}

}  // namespace teemm::fw::conf
