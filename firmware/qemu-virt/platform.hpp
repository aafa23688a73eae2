// firmware/qemu-virt/platform: the system under test, built with the library exactly as a TEE core
// would build it: the built-in qemu-virt regions (plus one firmware-only window, see platform.cpp)
// registered, laid out into a MemoryMap, and mapped into a Stage1Table whose pages come from the
// free part of TEE_RAM_RW. Also the "expectation" side of the three-way check: what a VA should
// translate to according to the map and the memory type of its region, knowing nothing of bits.
#pragma once

#include <cstdint>

#include "arch/arm64/descriptor.hpp"
#include "arch/arm64/table_pool.hpp"
#include "arch/arm64/translation_table.hpp"
#include "layout.hpp"
#include "mm/memory_map.hpp"
#include "mm/memory_type.hpp"
#include "mm/phys_mem_registry.hpp"

namespace teemm::fw::conf {

inline constexpr unsigned kVaBits = 39;  // qemu_virt::kVaBits
inline constexpr unsigned kPaBits = 40;

// The same map, built twice: EL3 and S-EL1 are different translation regimes (AP[1], PXN and bit 54
// mean different things), so each gets a table encoded for it.
struct System {
  mm::MemoryMap* map = nullptr;
  arm64::TablePool* pool = nullptr;
  arm64::Stage1Table* table = nullptr;      // EL3 regime; the one the dynamic checks edit
  arm64::Stage1Table* el1_table = nullptr;  // secure EL1&0 regime
};

// The end of rw_free() is not given to the table pool: the address-space part builds its
// mm::AddressSpace storage there (secure memory, as the page scratch must be).
inline constexpr uint64_t kAddressSpaceStoragePages = 48;
Span address_space_storage();

// Registers the regions, builds the map and the tables (MMU off), and maps the EL0 window (el0.hpp)
// in the EL1&0 table; panics when the library refuses.
const System& build_system();
const System& system();
// The registry the system was built from (the platform's regions plus fw-ns-window).
const mm::PhysMemRegistry& registry();

// Programs MAIR/TCR/TTBR0 of EL3 for the system's table and turns the MMU on.
void enable_el3_mmu();
// The same for the secure EL1&0 regime (from EL3; SCTLR_EL1.M on), and back off.
void enable_secure_el1_mmu();
void disable_secure_el1_mmu();

// What the map and the memory types say about one address.
struct Expectation {
  bool mapped = false;
  uint64_t pa = 0;
  bool non_secure = false;
  arm64::MemoryKind memory = arm64::MemoryKind::kNormalWriteBack;
  arm64::Access access;  // privileged access the type grants
  // What EL0 may do: nothing for every mapping of the core (its static map and its dynamic
  // ranges); only the firmware's own EL0 probe page (el0.hpp) grants EL0 anything.
  arm64::Access el0;
  const char* name = "unmapped";
};

// The core's static map (the EL3 table and the EL1&0 table hold the same).
Expectation expect_static(uint64_t va);
// The firmware's EL0 window (el0.hpp), mapped by build_system in the EL1&0 table only: true, with
// *e filled in, when va lies in it.
bool el0_window_expectation(uint64_t va, Expectation* e);
Expectation expect_for_type(mm::MemoryType type, uint64_t pa, const char* name);

// End of an entry's VA range. (MapEntry::end_va() is unusable here: <cstdarg>, which the console
// needs, defines va_end as a macro.)
inline uint64_t entry_end(const mm::MapEntry& e) { return e.va.value + e.size.bytes; }

// The map entry of the dynamic shared-memory reservation.
const mm::MapEntry& shm_reservation();

// MAIR attribute byte and PAR_EL1.SH the architecture reports for a memory kind (Device and
// Normal non-cacheable memory are always reported Outer Shareable).
unsigned mair_byte(arm64::MemoryKind kind);
unsigned reported_shareability(arm64::MemoryKind kind, uint64_t descriptor_shareability);
const char* memory_kind_name(arm64::MemoryKind kind);

}  // namespace teemm::fw::conf
