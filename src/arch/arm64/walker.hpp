// arch/arm64/walker: an independent software walk of VMSAv8-64 tables (4 KiB granule).
//
// The oracle for every other test: it shares only the architectural constants with the builder,
// reads descriptors the way the Arm ARM's pseudocode does, and reports either the output address
// with the decoded attributes, or the fault (kind and level) the hardware would raise.
#pragma once

#include <cstdint>

#include "arch/arm64/descriptor.hpp"
#include "arch/arm64/table_pool.hpp"
#include "base/address.hpp"

namespace teemm::arm64 {

enum class FaultKind : unsigned char {
  kNone,
  kTranslation,    // an invalid descriptor (or a reserved encoding) on the walk
  kAccessFlag,     // a leaf with AF = 0
  kExternalAbort,  // a table address outside the memory the walker can read
  kAddressSize,    // a table or output address above the output size (TCR.{I}PS, VTCR.PS)
};

constexpr const char* fault_kind_name(FaultKind kind) {
  switch (kind) {
    case FaultKind::kNone: return "none";
    case FaultKind::kTranslation: return "translation";
    case FaultKind::kAccessFlag: return "access-flag";
    case FaultKind::kExternalAbort: return "external-abort";
    case FaultKind::kAddressSize: return "address-size";
  }
  return "unknown";
}

// What a leaf descriptor grants, decoded from its bits (not from the attributes it was built from).
struct DecodedAttributes {
  MemoryKind memory = MemoryKind::kNormalWriteBack;
  Access privileged;
  Access unprivileged;  // stage 1 only
  uint64_t shareability = 0;
  bool non_secure = false;  // stage 1 only
  bool global = true;       // stage 1 only
  bool access_flag = false;
  bool single_privilege_execute = false;  // executable in an EL2/EL3 regime (bit 54 clear)
  bool operator==(const DecodedAttributes&) const = default;
};

struct WalkResult {
  FaultKind fault = FaultKind::kNone;
  unsigned level = 0;       // level of the leaf, or of the descriptor that faulted
  uint64_t output = 0;      // output address of the input (valid when fault == kNone)
  uint64_t descriptor = 0;  // the leaf (or faulting) descriptor
  uint64_t leaf_size = 0;   // bytes covered by the leaf
  DecodedAttributes attributes;

  bool ok() const { return fault == FaultKind::kNone; }
};

// Reads the physical memory holding tables. The pool satisfies it on host and bare metal alike.
struct TableMemory {
  const TablePool* pool = nullptr;
  const uint64_t* table(PhysAddr address) const { return pool->entries(address); }
};

// One walk of `input`. `output_bits` is the output address size the regime is programmed with
// (TCR_ELx.{I}PS or VTCR_EL2.PS): a table or output address at or above 2^output_bits is an
// address-size fault at the level of the descriptor that holds it, as the CPU reports it.
WalkResult walk(const TableMemory& memory, PhysAddr root, Stage stage, unsigned input_bits, uint64_t input,
                unsigned output_bits = kMaxAddressBits);

// A valid leaf met by for_each_leaf: where it starts in the input space, its size, level and bits.
struct LeafVisit {
  uint64_t input = 0;
  uint64_t size = 0;
  unsigned level = 0;
  uint64_t descriptor = 0;
};

// Calls visit(const LeafVisit&) for every valid leaf (block or page) whose input range meets
// [start, end), in input order, following table descriptors the way walk() does; reserved
// encodings (level-0 blocks, level-3 "blocks") and unreadable tables are skipped, as a walk would
// fault there. For audits: the tables seen from the hardware's side, not the builder's.
template <typename Visitor>
void for_each_leaf(const TableMemory& memory, PhysAddr root, unsigned input_bits, uint64_t start, uint64_t end,
                   Visitor&& visit);

// Attribute decoding on its own, for callers that hold a descriptor (the CLI's dump, the firmware).
DecodedAttributes decode_attributes(Stage stage, uint64_t descriptor);

namespace detail {
template <typename Visitor>
void visit_leaves(const TableMemory& memory, uint64_t table_address, unsigned level, uint64_t table_base,
                  uint64_t start, uint64_t end, Visitor& visit) {
  const uint64_t* table = memory.table(PhysAddr(table_address));
  if (table == nullptr) return;
  const unsigned shift = 12 + 9 * (3 - level);
  const uint64_t entry_size = uint64_t{1} << shift;
  const uint64_t first = start > table_base ? (start - table_base) >> shift : 0;
  for (uint64_t i = first; i < 512; ++i) {
    const uint64_t base = table_base + (i << shift);
    if (base >= end) return;
    const uint64_t d = table[i];
    if ((d & 1) == 0) continue;
    if (level < 3 && (d & 0b11) == 0b11) {
      visit_leaves(memory, d & 0x0000FFFFFFFFF000ULL, level + 1, base, start, end, visit);
    } else if (level != 0 && !(level == 3 && (d & 0b11) != 0b11)) {
      visit(LeafVisit{base, entry_size, level, d});
    }
  }
}
}  // namespace detail

template <typename Visitor>
void for_each_leaf(const TableMemory& memory, PhysAddr root, unsigned input_bits, uint64_t start, uint64_t end,
                   Visitor&& visit) {
  const unsigned level = input_bits > 39 ? 0 : input_bits > 30 ? 1 : 2;
  const uint64_t limit = input_bits < 64 ? uint64_t{1} << input_bits : ~uint64_t{0};
  if (end > limit) end = limit;
  if (start >= end) return;
  detail::visit_leaves(memory, root.value, level, 0, start, end, visit);
}

}  // namespace teemm::arm64
