// base/address: typed physical, intermediate-physical and virtual addresses, sizes and page counts.
//
// Each address space is its own type so that handing an IPA to code that wants a PA is a compile
// error, not a security bug. Arithmetic is limited to what makes sense: address + size, address -
// address (a size), alignment queries. The raw value is reachable through `.value` for bit work.
#pragma once

#include <compare>
#include <cstdint>

namespace teemm {

inline constexpr uint64_t kPageShift = 12;
inline constexpr uint64_t kPageSize = uint64_t{1} << kPageShift;
inline constexpr uint64_t kPageMask = kPageSize - 1;

// Architectural ceiling for output and input addresses with a 4 KiB granule (no LPA/LVA).
inline constexpr unsigned kMaxAddressBits = 48;
inline constexpr uint64_t kAddressLimit = uint64_t{1} << kMaxAddressBits;

struct Size {
  uint64_t bytes = 0;

  constexpr Size() = default;
  constexpr explicit Size(uint64_t b) : bytes(b) {}
  constexpr bool is_zero() const { return bytes == 0; }
  constexpr bool is_page_aligned() const { return (bytes & kPageMask) == 0; }
  constexpr auto operator<=>(const Size&) const = default;
  constexpr Size operator+(Size other) const { return Size(bytes + other.bytes); }
  constexpr Size operator-(Size other) const { return Size(bytes - other.bytes); }
};

struct PageCount {
  uint64_t pages = 0;

  constexpr PageCount() = default;
  constexpr explicit PageCount(uint64_t p) : pages(p) {}
  constexpr Size size() const { return Size(pages << kPageShift); }
  constexpr auto operator<=>(const PageCount&) const = default;
};

// Pages needed to cover `size` (rounded up).
constexpr PageCount pages_covering(Size size) { return PageCount((size.bytes + kPageMask) >> kPageShift); }

template <typename Tag>
struct Address {
  uint64_t value = 0;

  constexpr Address() = default;
  constexpr explicit Address(uint64_t v) : value(v) {}

  constexpr auto operator<=>(const Address&) const = default;
  constexpr Address operator+(Size s) const { return Address(value + s.bytes); }
  constexpr Address operator-(Size s) const { return Address(value - s.bytes); }
  constexpr Size operator-(Address other) const { return Size(value - other.value); }
  constexpr bool is_aligned(uint64_t alignment) const { return (value & (alignment - 1)) == 0; }
  constexpr bool is_page_aligned() const { return is_aligned(kPageSize); }
  constexpr Address align_down(uint64_t alignment) const { return Address(value & ~(alignment - 1)); }
  constexpr uint64_t page_offset() const { return value & kPageMask; }
};

struct PhysicalTag {};
struct IntermediatePhysicalTag {};
struct VirtualTag {};

using PhysAddr = Address<PhysicalTag>;
using IntermediatePhysAddr = Address<IntermediatePhysicalTag>;
using VirtAddr = Address<VirtualTag>;

// True when [base, base + size) does not wrap and stays below `limit` (exclusive end ≤ limit).
constexpr bool range_fits(uint64_t base, uint64_t size, uint64_t limit) {
  return base <= limit && size <= limit - base;
}

// True when [a, a + a_size) and [b, b + b_size) share at least one byte. Sizes must be non-zero
// and both ranges must not wrap.
constexpr bool ranges_overlap(uint64_t a, uint64_t a_size, uint64_t b, uint64_t b_size) {
  return a < b + b_size && b < a + a_size;
}

}  // namespace teemm
