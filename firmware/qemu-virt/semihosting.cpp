// firmware/qemu-virt/semihosting.cpp: see semihosting.hpp.
#include "semihosting.hpp"

namespace teemm::fw::semihosting {

uint64_t call(uint64_t operation, uint64_t argument) {
  register uint64_t x0 asm("x0") = operation;
  register uint64_t x1 asm("x1") = argument;
  asm volatile("hlt #0xf000" : "+r"(x0) : "r"(x1) : "memory");
  return x0;
}

void write0(const char* text) { call(kSysWrite0, reinterpret_cast<uint64_t>(text)); }

bool get_cmdline(char* buf, uint64_t size) {
  if (size == 0) return false;
  volatile uint64_t block[2] = {reinterpret_cast<uint64_t>(buf), size};
  const uint64_t rc = call(kSysGetCmdline, reinterpret_cast<uint64_t>(&block[0]));
  if (rc != 0) {
    buf[0] = '\0';
    return false;
  }
  return true;
}

void exit(int code) {
  volatile uint64_t block[2] = {kAdpStoppedApplicationExit, static_cast<uint64_t>(code)};
  call(kSysExit, reinterpret_cast<uint64_t>(&block[0]));
  for (;;) asm volatile("wfi");
}

}  // namespace teemm::fw::semihosting
