// firmware/qemu-virt/runtime: start-up in C++ and the ways a run ends.
//
// boot.S calls fw_start() on the EL3 stack with .bss zeroed; fw_start runs .preinit_array and
// .init_array, calls `extern "C" int firmware_main()` and exits with its return value as QEMU's exit
// status (0 = pass).
#pragma once

#include <cstdint>

#include "fw_abi.h"

extern "C" int firmware_main();

namespace teemm::fw {

// Ends the run with `code` as QEMU's exit status (semihosting SYS_EXIT).
[[noreturn]] void exit(int code);

// A broken assumption of the firmware itself: prints the message and exits with FW_EXIT_PANIC.
[[noreturn, gnu::format(printf, 1, 2)]] void panic(const char* fmt, ...);

// The image's command line: the `arg=` parts of QEMU's -semihosting-config, separated by spaces
// (empty when there are none). has_arg("x") is true when one of the words equals "x".
const char* cmdline();
bool has_arg(const char* word);

}  // namespace teemm::fw

// FW_CHECK(cond): panics with file:line and the condition when cond is false.
#define FW_CHECK(cond)                                                                     \
  do {                                                                                     \
    if (!(cond)) ::teemm::fw::panic("%s:%d: check failed: %s", __FILE__, __LINE__, #cond); \
  } while (0)
