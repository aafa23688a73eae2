// firmware/qemu-virt/libc.cpp: the few C library and C++ ABI functions a freestanding build still
// needs. The compiler emits calls to memcpy/memset/memmove/memcmp on its own, so this file is built
// with -fno-builtin -fno-tree-loop-distribute-patterns (a copy loop must not become a memcpy call).
// All accesses are naturally aligned (-mstrict-align: with the MMU off all memory is Device).
#include <cstddef>
#include <cstdint>

#include "runtime.hpp"

namespace {

constexpr bool aligned8(const void* a, const void* b) {
  return ((reinterpret_cast<uintptr_t>(a) | reinterpret_cast<uintptr_t>(b)) & 7) == 0;
}

}  // namespace

extern "C" {

void* memcpy(void* __restrict dst, const void* __restrict src, size_t n) {
  auto* d = static_cast<unsigned char*>(dst);
  auto* s = static_cast<const unsigned char*>(src);
  if (aligned8(d, s)) {
    for (; n >= 8; n -= 8, d += 8, s += 8) *reinterpret_cast<uint64_t*>(d) = *reinterpret_cast<const uint64_t*>(s);
  }
  for (; n > 0; --n) *d++ = *s++;
  return dst;
}

void* memmove(void* dst, const void* src, size_t n) {
  auto* d = static_cast<unsigned char*>(dst);
  auto* s = static_cast<const unsigned char*>(src);
  if (d == s || n == 0) return dst;
  if (d < s || d >= s + n) return memcpy(dst, src, n);
  // Overlapping with dst above src: copy backwards.
  d += n;
  s += n;
  if (aligned8(d, s)) {
    for (; n >= 8; n -= 8) {
      d -= 8;
      s -= 8;
      *reinterpret_cast<uint64_t*>(d) = *reinterpret_cast<const uint64_t*>(s);
    }
  }
  for (; n > 0; --n) *--d = *--s;
  return dst;
}

void* memset(void* dst, int c, size_t n) {
  auto* d = static_cast<unsigned char*>(dst);
  const auto byte = static_cast<unsigned char>(c);
  for (; n > 0 && (reinterpret_cast<uintptr_t>(d) & 7) != 0; --n) *d++ = byte;
  const uint64_t word = byte * 0x0101010101010101ull;
  for (; n >= 8; n -= 8, d += 8) *reinterpret_cast<uint64_t*>(d) = word;
  for (; n > 0; --n) *d++ = byte;
  return dst;
}

int memcmp(const void* a, const void* b, size_t n) {
  auto* x = static_cast<const unsigned char*>(a);
  auto* y = static_cast<const unsigned char*>(b);
  for (; n > 0; --n, ++x, ++y) {
    if (*x != *y) return *x < *y ? -1 : 1;
  }
  return 0;
}

size_t strlen(const char* s) {
  size_t n = 0;
  while (s[n] != '\0') ++n;
  return n;
}

int strcmp(const char* a, const char* b) {
  for (; *a != '\0' && *a == *b; ++a, ++b) {
  }
  return static_cast<unsigned char>(*a) - static_cast<unsigned char>(*b);
}

[[noreturn]] void abort() { teemm::fw::panic("abort() called"); }

// C++ ABI: a pure virtual call, destructor registration of static objects (never run: the image
// only exits), the DSO handle those registrations name.
[[noreturn]] void __cxa_pure_virtual() { teemm::fw::panic("pure virtual function called"); }
[[noreturn]] void __cxa_deleted_virtual() { teemm::fw::panic("deleted virtual function called"); }
int __cxa_atexit(void (*)(void*), void*, void*) { return 0; }
int atexit(void (*)()) { return 0; }
void* __dso_handle = nullptr;

}  // extern "C"

// Deleting destructors of classes with virtual destructors reference these; there is no heap, so a
// call is a bug.
void operator delete(void*) noexcept { teemm::fw::panic("operator delete called (no heap)"); }
void operator delete(void*, size_t) noexcept { teemm::fw::panic("operator delete called (no heap)"); }

// What libstdc++ headers call instead of throwing when built with -fno-exceptions (the library
// proper is not linked).
namespace std {
[[noreturn]] void __throw_bad_alloc() { teemm::fw::panic("std::bad_alloc"); }
[[noreturn]] void __throw_bad_array_new_length() { teemm::fw::panic("std::bad_array_new_length"); }
[[noreturn]] void __throw_length_error(const char* what) { teemm::fw::panic("std::length_error: %s", what); }
[[noreturn]] void __throw_out_of_range(const char* what) { teemm::fw::panic("std::out_of_range: %s", what); }
[[noreturn]] void __throw_out_of_range_fmt(const char* fmt, ...) { teemm::fw::panic("std::out_of_range: %s", fmt); }
[[noreturn]] void __throw_logic_error(const char* what) { teemm::fw::panic("std::logic_error: %s", what); }
[[noreturn]] void __throw_invalid_argument(const char* what) { teemm::fw::panic("std::invalid_argument: %s", what); }
[[noreturn]] void __throw_bad_function_call() { teemm::fw::panic("std::bad_function_call"); }
}  // namespace std
