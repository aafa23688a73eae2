// firmware/qemu-virt/layout: where the linker script put things (all addresses are VA == PA).
//
//   TEE_RAM_RX 0x0e100000 1 MiB     text()      code, vectors, probe routines, ret_page()
//   TEE_RAM_RO 0x0e200000 512 KiB   rodata()    read-only data and .init_array
//   TEE_RAM_RW 0x0e280000 1.5 MiB   data(), bss(), el3_stack(), el1_stack(), then rw_free(): page
//                                   aligned, free for the translation-table pool (not zeroed)
//   NS DRAM    0x40800000 1 MiB     ns_agent(): the non-secure EL2 agent, its job and stack
//              0x40900000 16 MiB    ns_scratch(): free non-secure memory (stage-2 / NS tables)
//
// With the MMU on, whatever the running code touches must be mapped at VA == PA: text (RX), rodata
// (RO), data/bss/stacks (RW), the UART page (Device), and ns_agent() if the EL2 agent is used.
#pragma once

#include <cstdint>

namespace teemm::fw {

struct Span {
  uint64_t base = 0;
  uint64_t size = 0;
  constexpr uint64_t end() const { return base + size; }
  constexpr bool contains(uint64_t a) const { return a >= base && a - base < size; }
};

extern "C" {
extern char __text_start[], __text_end[];
extern char __ro_start[], __ro_end[];
extern char __data_start[], __data_end[];
extern char __bss_start[], __bss_end[];
extern char __stack_el3_bottom[], __stack_el3_top[];
extern char __stack_el1_bottom[], __stack_el1_top[];
extern char __rw_start[], __rw_end[];
extern char __rw_free_start[], __rw_free_end[];
extern char __ns_agent_start[], __ns_agent_end[];
extern char __ns_scratch_start[], __ns_scratch_end[];
}

inline uint64_t addr(const char* symbol) { return reinterpret_cast<uint64_t>(symbol); }
inline Span span(const char* begin, const char* end) { return {addr(begin), addr(end) - addr(begin)}; }

// The platform's TEE RAM regions the image is linked into (fixed by the linker script).
inline constexpr Span kTeeRamRx{0x0e100000, 0x100000};
inline constexpr Span kTeeRamRo{0x0e200000, 0x80000};
inline constexpr Span kTeeRamRw{0x0e280000, 0x180000};

inline Span text() { return span(__text_start, __text_end); }
inline Span rodata() { return span(__ro_start, __ro_end); }
inline Span data() { return span(__data_start, __data_end); }
inline Span bss() { return span(__bss_start, __bss_end); }
inline Span el3_stack() { return span(__stack_el3_bottom, __stack_el3_top); }
inline Span el1_stack() { return span(__stack_el1_bottom, __stack_el1_top); }
inline Span rw_used() { return span(__rw_start, __rw_free_start); }
inline Span rw_free() { return span(__rw_free_start, __rw_free_end); }
inline Span ns_agent() { return span(__ns_agent_start, __ns_agent_end); }
inline Span ns_scratch() { return span(__ns_scratch_start, __ns_scratch_end); }

}  // namespace teemm::fw
