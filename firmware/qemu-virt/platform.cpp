// firmware/qemu-virt/platform.cpp: see platform.hpp.
#include "platform.hpp"

#include <new>

#include "arch/arm64/registers.hpp"
#include "console.hpp"
#include "el0.hpp"
#include "layout.hpp"
#include "mm/phys_mem_registry.hpp"
#include "platform/builtin/qemu_virt.hpp"
#include "runtime.hpp"
#include "sysreg.hpp"

namespace teemm::fw::conf {
namespace {

using arm64::MemoryKind;

constexpr size_t kRegionCapacity = 32;
constexpr size_t kMaxPoolPages = 384;  // TEE_RAM_RW is 1.5 MiB

// The non-secure EL2 agent and its scratch memory (stage-2 and NS stage-1 tables) must be reachable
// from EL3 with the MMU on: EL3 fills in the agent's job and the library writes those tables. The
// platform table does not know about them, so the firmware registers them as one more region of a
// real memory type; from then on they are checked like any other region.
constexpr uint64_t kNsWindowBase = 0x40800000;
constexpr uint64_t kNsWindowSize = 0x1100000;  // 1 MiB agent + 16 MiB scratch (layout.hpp)

mm::Region g_region_storage[kRegionCapacity];
mm::MapEntry g_entry_storage[kRegionCapacity];
uint16_t g_live_counts[kMaxPoolPages];

mm::PhysMemRegistry g_registry(g_region_storage, kRegionCapacity);
mm::MemoryMap g_map(g_entry_storage, kRegionCapacity);
alignas(arm64::TablePool) unsigned char g_pool_storage[sizeof(arm64::TablePool)];
arm64::Stage1Table g_table;
arm64::Stage1Table g_el1_table;
System g_system;

void register_regions() {
  const mm::Refusal platform = g_registry.add_all(platform::qemu_virt::kRegions, platform::qemu_virt::kRegionCount);
  if (!platform.ok()) panic("registry refused %s: %s", platform.region, error_name(platform.error));
  FW_CHECK(ns_agent().base == kNsWindowBase && ns_scratch().end() == kNsWindowBase + kNsWindowSize);
  const mm::Refusal ns =
      g_registry.add(mm::mapped_region("fw-ns-window", mm::MemoryType::kRamNsec, kNsWindowBase, kNsWindowSize));
  if (!ns.ok()) panic("registry refused fw-ns-window: %s", error_name(ns.error));
}

arm64::TablePool* make_pool() {
  const Span free = rw_free();
  FW_CHECK(free.size / kPageSize > kAddressSpaceStoragePages);
  size_t pages = free.size / kPageSize - kAddressSpaceStoragePages;
  if (pages > kMaxPoolPages) pages = kMaxPoolPages;
  // Placement-construct: TablePool is neither copyable nor assignable, and its storage is only known
  // at run time (linker symbols).
  auto* pool = new (g_pool_storage)
      arm64::TablePool(reinterpret_cast<arm64::TablePage*>(free.base), g_live_counts, pages, PhysAddr(free.base));
  return pool;
}

void print_map() {
  printf("static map (%zu entries, %u-bit VA):\n", g_map.count(), kVaBits);
  for (const mm::MapEntry& e : g_map) {
    if (e.is_va_reservation()) {
      printf("  %-14s %-12s VA 0x%010lx..0x%010lx (reservation, unbacked)\n", e.name, mm::memory_type_name(e.type),
             e.va.value, entry_end(e));
    } else {
      printf("  %-14s %-12s VA 0x%010lx..0x%010lx -> PA 0x%010lx\n", e.name, mm::memory_type_name(e.type), e.va.value,
             entry_end(e), e.pa.value);
    }
  }
  printf("  %-14s %-12s VA 0x%010lx..0x%010lx -> PA 0x%010lx (firmware: EL0 R-X, EL1&0 table only)\n", "fw-el0-window",
         "-", kEl0WindowVa, kEl0WindowVa + kPageSize, el0_page());
  const arm64::TableStatistics& s = g_table.raw().statistics();
  printf("  tables: %lu pages (L1 %lu, L2 %lu, L3 %lu); leaves L1 %lu, L2 %lu, L3 %lu; pool %zu/%zu pages\n",
         s.table_pages, s.tables[1], s.tables[2], s.tables[3], s.leaves[1], s.leaves[2], s.leaves[3],
         g_system.pool->used(), g_system.pool->capacity());
}

// The EL0 window: the EL0 page again, for EL0 (R-X), privileged read-only, secure, cached.
arm64::MappingAttributes el0_window_attributes() {
  arm64::MappingAttributes a;
  a.memory = MemoryKind::kNormalWriteBack;
  a.privileged = {true, false, false};
  a.unprivileged = {true, false, true};
  a.non_secure = false;
  return a;
}

void map_el0_window() {
  FW_CHECK(g_map.find(VirtAddr(kEl0WindowVa)) == nullptr &&
           g_map.find(VirtAddr(kEl0WindowVa + kPageSize - 1)) == nullptr);
  FW_CHECK(text().contains(el0_page()) && (el0_page() & kPageMask) == 0);
  if (Status s =
          g_el1_table.map(VirtAddr(kEl0WindowVa), PhysAddr(el0_page()), Size(kPageSize), el0_window_attributes());
      !s)
    panic("mapping the EL0 window: %s", error_name(s.error()));
}

}  // namespace

arm64::Stage1Table build_table(arm64::TranslationRegime regime) {
  // The output size the tables are used with: TCR_ELx.PS = 40 bits (enable_*_mmu).
  Result<arm64::Stage1Table> table = arm64::Stage1Table::create(*g_system.pool, kVaBits, regime, kPaBits);
  if (!table) panic("Stage1Table::create: %s", error_name(table.error()));
  if (Status s = mm::map_static_regions(g_map, table.value()); !s)
    panic("map_static_regions: %s", error_name(s.error()));
  return table.value();
}

const System& build_system() {
  register_regions();
  const mm::Refusal layout = g_map.build(g_registry, mm::LayoutOptions{kVaBits, 0});
  if (!layout.ok()) panic("layout refused %s: %s", layout.region, error_name(layout.error));
  g_system.map = &g_map;
  g_system.pool = make_pool();
  g_table = build_table(arm64::TranslationRegime::kEl2OrEl3);
  g_el1_table = build_table(arm64::TranslationRegime::kEl1And0);
  g_system.table = &g_table;
  g_system.el1_table = &g_el1_table;
  map_el0_window();
  print_map();
  return g_system;
}

const System& system() { return g_system; }

const mm::PhysMemRegistry& registry() { return g_registry; }

Span address_space_storage() {
  const Span free = rw_free();
  const uint64_t size = kAddressSpaceStoragePages * kPageSize;
  return {free.end() - size, size};
}

bool el0_window_expectation(uint64_t va, Expectation* e) {
  if (va < kEl0WindowVa || va - kEl0WindowVa >= kPageSize) return false;
  *e = Expectation{};
  e->mapped = true;
  e->pa = el0_page() + (va - kEl0WindowVa);
  e->non_secure = false;
  e->memory = MemoryKind::kNormalWriteBack;
  e->access = el0_window_attributes().privileged;
  e->el0 = el0_window_attributes().unprivileged;
  e->name = "fw-el0-window";
  return true;
}

void enable_el3_mmu() {
  // The tables were written with the MMU (and so the caches) off: make sure no stale line hides them.
  dcache_clean_invalidate_range(g_system.pool->base().value, g_system.pool->capacity() * kPageSize);
  enable_mmu_el3(arm64::kMairValue, arm64::tcr_el3_value(kVaBits, kPaBits), g_table.raw().root().value);
}

void enable_secure_el1_mmu() {
  // SCR_EL3.NS is 0 here, so the TLBI inside targets the secure EL1&0 regime.
  enable_mmu_el1(arm64::kMairValue, arm64::tcr_el1_value(kVaBits, kPaBits), g_el1_table.raw().root().value);
}

void disable_secure_el1_mmu() {
  disable_mmu_el1();
  write_tcr_el1(0);
  write_ttbr0_el1(0);
  isb();
}

Expectation expect_for_type(mm::MemoryType type, uint64_t pa, const char* name) {
  const mm::TypeAttributes& t = mm::type_attributes(type);
  Expectation e;
  e.mapped = t.placement == mm::Placement::kMappedAtBoot && t.privileged.read;
  e.pa = pa;
  e.non_secure = !t.secure;
  e.memory = t.memory;
  e.access = t.privileged;
  e.name = name;
  return e;
}

Expectation expect_static(uint64_t va) {
  Expectation none;
  if ((va >> kVaBits) != 0) return none;
  const mm::MapEntry* e = g_map.find(VirtAddr(va));
  if (e == nullptr) return none;
  if (e->is_va_reservation()) {
    none.name = e->name;
    return none;
  }
  return expect_for_type(e->type, e->pa.value + (va - e->va.value), e->name);
}

const mm::MapEntry& shm_reservation() {
  const mm::MapEntry* e = g_map.find_type(mm::MemoryType::kShmVaspace);
  FW_CHECK(e != nullptr);
  return *e;
}

unsigned mair_byte(MemoryKind kind) {
  unsigned index = arm64::kMairIndexNormalWriteBack;
  switch (kind) {
    case MemoryKind::kDevice: index = arm64::kMairIndexDevice; break;
    case MemoryKind::kNormalNonCacheable: index = arm64::kMairIndexNormalNonCacheable; break;
    case MemoryKind::kDeviceStronglyOrdered: index = arm64::kMairIndexDeviceStronglyOrdered; break;
    case MemoryKind::kNormalWriteBack: break;
  }
  return static_cast<unsigned>((arm64::kMairValue >> (8 * index)) & 0xff);
}

unsigned reported_shareability(MemoryKind kind, uint64_t descriptor_shareability) {
  return kind == MemoryKind::kNormalWriteBack ? static_cast<unsigned>(descriptor_shareability)
                                              : static_cast<unsigned>(arm64::kShareOuter);
}

const char* memory_kind_name(MemoryKind kind) {
  switch (kind) {
    case MemoryKind::kDevice: return "Device-nGnRE";
    case MemoryKind::kNormalWriteBack: return "Normal-WB";
    case MemoryKind::kNormalNonCacheable: return "Normal-NC";
    case MemoryKind::kDeviceStronglyOrdered: return "Device-nGnRnE";
  }
  return "?";
}

}  // namespace teemm::fw::conf
