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

}  // namespace teemm::arm64
