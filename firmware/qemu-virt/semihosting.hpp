// firmware/qemu-virt/semihosting: the Arm semihosting calls the image uses (`hlt #0xf000`, operation in
// x0, argument in x1). QEMU must run with `-semihosting-config enable=on,target=native`; without it
// `hlt` is an undefined instruction (the exception handler then ends up waiting for the timeout).
#pragma once

#include <cstdint>

namespace teemm::fw::semihosting {

inline constexpr uint64_t kSysWrite0 = 0x04;
inline constexpr uint64_t kSysGetCmdline = 0x15;
inline constexpr uint64_t kSysExit = 0x18;
inline constexpr uint64_t kAdpStoppedApplicationExit = 0x20026;

// One semihosting call; returns x0.
uint64_t call(uint64_t operation, uint64_t argument);

// Writes a NUL-terminated string to the debug channel (QEMU's stderr).
void write0(const char* text);

// The command line given with `-semihosting-config ...,arg=...` into buf (NUL-terminated); false when
// there is none or it does not fit.
bool get_cmdline(char* buf, uint64_t size);

// Ends the run: `code` becomes QEMU's exit status (0..255).
[[noreturn]] void exit(int code);

}  // namespace teemm::fw::semihosting
