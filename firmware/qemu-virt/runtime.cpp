// firmware/qemu-virt/runtime.cpp: see runtime.hpp.
#include "runtime.hpp"

#include "console.hpp"
#include "semihosting.hpp"

extern "C" {
using InitFunction = void (*)();
extern InitFunction __preinit_array_start[], __preinit_array_end[];
extern InitFunction __init_array_start[], __init_array_end[];

[[noreturn]] void fw_start();
}

namespace teemm::fw {

namespace {
char g_cmdline[512];
bool g_cmdline_read = false;
}  // namespace

const char* cmdline() {
  if (!g_cmdline_read) {
    g_cmdline_read = true;
    if (!semihosting::get_cmdline(g_cmdline, sizeof(g_cmdline))) g_cmdline[0] = '\0';
  }
  return g_cmdline;
}

bool has_arg(const char* word) {
  const char* p = cmdline();
  while (*p != '\0') {
    while (*p == ' ') ++p;
    const char* w = word;
    while (*w != '\0' && *p == *w) {
      ++p;
      ++w;
    }
    if (*w == '\0' && (*p == ' ' || *p == '\0')) return true;
    while (*p != ' ' && *p != '\0') ++p;
  }
  return false;
}

void exit(int code) { semihosting::exit(code); }

void panic(const char* fmt, ...) {
  printf("\n*** teemm-fw: PANIC: ");
  va_list args;
  va_start(args, fmt);
  vprintf(fmt, args);
  va_end(args);
  printf("\n");
  exit(FW_EXIT_PANIC);
}

}  // namespace teemm::fw

extern "C" void fw_start() {
  for (InitFunction* f = __preinit_array_start; f != __preinit_array_end; ++f) (*f)();
  for (InitFunction* f = __init_array_start; f != __init_array_end; ++f) (*f)();
  const int status = firmware_main();
  teemm::fw::exit(status);
}
