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
};

constexpr const char* fault_kind_name(FaultKind kind) {
  switch (kind) {
    case FaultKind::kNone: return "none";
    case FaultKind::kTranslation: return "translation";
    case FaultKind::kAccessFlag: return "access-flag";
    case FaultKind::kExternalAbort: return "external-abort";
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

WalkResult walk(const TableMemory& memory, PhysAddr root, Stage stage, unsigned input_bits, uint64_t input);

// Attribute decoding on its own, for callers that hold a descriptor (the CLI's dump, the firmware).
DecodedAttributes decode_attributes(Stage stage, uint64_t descriptor);

}  // namespace teemm::arm64
