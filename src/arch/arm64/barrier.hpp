// arch/arm64/barrier: the ordering a table writer needs before hardware may walk what it wrote.
#pragma once

namespace teemm::arm64 {

// Makes table writes visible to the translation table walker before a later write publishes them
// (a new table before the descriptor pointing at it; new leaves before they are used).
inline void table_write_barrier() {
#if defined(__aarch64__)
  asm volatile("dsb ishst" ::: "memory");
#else
  asm volatile("" ::: "memory");
#endif
}

// Publishes new valid entries to this CPU's own later instructions: DSB so the writes reach the
// walker, then ISB so that no instruction after it was fetched, or had its address translated,
// before the writes completed (Arm ARM D8.2, "Ordering of translation table updates"; Linux does
// the same after installing a kernel mapping). Without the ISB a load to the new range issued
// early could still take a translation fault on a mapping that already exists.
inline void table_publish_barrier() {
#if defined(__aarch64__)
  asm volatile("dsb ishst\n\tisb" ::: "memory");
#else
  asm volatile("" ::: "memory");
#endif
}

}  // namespace teemm::arm64
