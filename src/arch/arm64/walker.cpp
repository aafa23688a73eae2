// The software table walk (see walker.hpp). Written from the Arm ARM's description of the walk,
// not from the builder, so that the two can disagree.
#include "arch/arm64/walker.hpp"

namespace teemm::arm64 {
namespace {

constexpr uint64_t bit(unsigned n) { return uint64_t{1} << n; }
constexpr uint64_t field(uint64_t value, unsigned low, unsigned width) {
  return (value >> low) & ((uint64_t{1} << width) - 1);
}

MemoryKind memory_from_mair_index(uint64_t index) {
  // Decodes the attribute byte teemm's MAIR holds at that index, as the hardware would.
  const uint64_t attr = (kMairValue >> (8 * index)) & 0xFF;
  if ((attr & 0xF0) == 0) return attr == 0 ? MemoryKind::kDeviceStronglyOrdered : MemoryKind::kDevice;
  return attr == 0x44 ? MemoryKind::kNormalNonCacheable : MemoryKind::kNormalWriteBack;
}

MemoryKind memory_from_stage2(uint64_t memattr) {
  if ((memattr & 0b1100) == 0) return (memattr & 0b11) == 0 ? MemoryKind::kDeviceStronglyOrdered : MemoryKind::kDevice;
  return memattr == 0b0101 ? MemoryKind::kNormalNonCacheable : MemoryKind::kNormalWriteBack;
}

DecodedAttributes decode_stage1(uint64_t d) {
  DecodedAttributes a;
  a.memory = memory_from_mair_index(field(d, 2, 3));
  a.non_secure = (d & bit(5)) != 0;
  const bool el0_access = (d & bit(6)) != 0;
  const bool read_only = (d & bit(7)) != 0;
  a.shareability = field(d, 8, 2);
  a.access_flag = (d & bit(10)) != 0;
  a.global = (d & bit(11)) == 0;
  const bool pxn = (d & bit(53)) != 0;
  const bool uxn = (d & bit(54)) != 0;
  // EL1&0 regime: an EL0-writable page is never privileged-executable, whatever PXN says.
  a.privileged = {true, !read_only, !pxn && !(el0_access && !read_only)};
  // EL0 execute depends on UXN alone: AP[2:1] = 00 with UXN = 0 is execute-only at EL0.
  a.unprivileged = {el0_access, el0_access && !read_only, !uxn};
  a.single_privilege_execute = !uxn;  // at EL2/EL3 bit 54 is XN and PXN is RES0
  return a;
}

DecodedAttributes decode_stage2(uint64_t d) {
  DecodedAttributes a;
  a.memory = memory_from_stage2(field(d, 2, 4));
  const bool read = (d & bit(6)) != 0;
  const bool write = (d & bit(7)) != 0;
  const bool execute = (d & bit(54)) == 0;
  a.privileged = {read, write, execute};
  a.shareability = field(d, 8, 2);
  a.access_flag = (d & bit(10)) != 0;
  a.single_privilege_execute = execute;
  return a;
}

WalkResult fault_at(FaultKind kind, unsigned level, uint64_t descriptor) {
  WalkResult r;
  r.fault = kind;
  r.level = level;
  r.descriptor = descriptor;
  return r;
}

}  // namespace

DecodedAttributes decode_attributes(Stage stage, uint64_t descriptor) {
  return stage == Stage::kStage1 ? decode_stage1(descriptor) : decode_stage2(descriptor);
}

WalkResult walk(const TableMemory& memory, PhysAddr root, Stage stage, unsigned input_bits, uint64_t input,
                unsigned output_bits) {
  unsigned level = input_bits > 39 ? 0 : input_bits > 30 ? 1 : 2;
  // An input address outside the regime's range is a translation fault at level 0, whatever level
  // the walk would start at (Arm ARM, AArch64.VAIsOutOfRange / IPAIsOutOfRange).
  if (input_bits < 64 && (input >> input_bits) != 0) return fault_at(FaultKind::kTranslation, 0, 0);
  // Address bits [47:output_bits] of a base register or descriptor must be zero (Arm ARM,
  // AArch64.S1Walk / S2Walk: "AddressSize" fault). Above 48 bits the descriptor format has no room.
  const uint64_t above_output = output_bits >= 48 ? 0 : (0x0000FFFFFFFFFFFFULL & ~((uint64_t{1} << output_bits) - 1));
  // A base address above the output size is reported at level 0, whatever the start level.
  if ((root.value & above_output) != 0) return fault_at(FaultKind::kAddressSize, 0, 0);
  uint64_t table_address = root.value;
  for (;; ++level) {
    const uint64_t* table = memory.table(PhysAddr(table_address));
    if (table == nullptr) return fault_at(FaultKind::kExternalAbort, level, 0);
    const unsigned shift = 12 + 9 * (3 - level);
    const uint64_t d = table[(input >> shift) & 0x1FF];
    const uint64_t type = d & 0b11;
    if ((d & 1) == 0) return fault_at(FaultKind::kTranslation, level, d);
    const uint64_t address = d & 0x0000FFFFFFFFF000ULL;
    if (level < 3 && type == 0b11) {  // table descriptor
      if ((address & above_output) != 0) return fault_at(FaultKind::kAddressSize, level, d);
      table_address = address;
      continue;
    }
    // Leaf: a page at level 3, a block at levels 1-2; level 0 blocks and level 3 "blocks" are reserved.
    if ((level == 3 && type != 0b11) || level == 0) return fault_at(FaultKind::kTranslation, level, d);
    if ((address & above_output) != 0) return fault_at(FaultKind::kAddressSize, level, d);
    const uint64_t leaf_size = uint64_t{1} << shift;
    WalkResult r;
    r.level = level;
    r.descriptor = d;
    r.leaf_size = leaf_size;
    r.attributes = decode_attributes(stage, d);
    if (!r.attributes.access_flag) {
      r.fault = FaultKind::kAccessFlag;
      return r;
    }
    r.output = (address & ~(leaf_size - 1)) | (input & (leaf_size - 1));
    return r;
  }
}

}  // namespace teemm::arm64
