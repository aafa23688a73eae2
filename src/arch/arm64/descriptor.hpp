// arch/arm64/descriptor: VMSAv8-64 translation descriptors for the 4 KiB granule, stage 1 and 2.
//
// Owns every architectural bit the rest of teemm writes into a table, named as the Arm ARM names
// it (DDI 0487, D8.3 "Translation table descriptor formats"), the MAIR layout teemm programs, and
// the encoding of architecture-level mapping attributes into a descriptor's attribute bits. Knows
// nothing of OP-TEE memory types or guests.
#pragma once

#include <cstdint>

#include "base/address.hpp"

namespace teemm::arm64 {

// ---- Descriptor type field, bits[1:0] ----------------------------------------------------------
inline constexpr uint64_t kDescriptorValid = uint64_t{1} << 0;
inline constexpr uint64_t kDescriptorTypeBit = uint64_t{1} << 1;  // 1: table (L0-2) or page (L3)
inline constexpr uint64_t kDescriptorTypeMask = 0b11;
inline constexpr uint64_t kDescriptorBlock = 0b01;  // levels 1 and 2
inline constexpr uint64_t kDescriptorTable = 0b11;  // levels 0 to 2
inline constexpr uint64_t kDescriptorPage = 0b11;   // level 3

// ---- Stage 1 lower attributes -------------------------------------------------------------------
inline constexpr unsigned kAttrIndxShift = 2;  // AttrIndx[2:0], bits[4:2]
inline constexpr uint64_t kAttrIndxMask = uint64_t{0b111} << kAttrIndxShift;
inline constexpr uint64_t kNS = uint64_t{1} << 5;   // output address is in the non-secure PA space
inline constexpr uint64_t kAP1 = uint64_t{1} << 6;  // AP[1]: EL0 access
inline constexpr uint64_t kAP2 = uint64_t{1} << 7;  // AP[2]: read-only
inline constexpr unsigned kSHShift = 8;             // SH[1:0], bits[9:8]
inline constexpr uint64_t kSHMask = uint64_t{0b11} << kSHShift;
inline constexpr uint64_t kAF = uint64_t{1} << 10;  // access flag
inline constexpr uint64_t kNG = uint64_t{1} << 11;  // not global

// ---- Stage 1 upper attributes -------------------------------------------------------------------
inline constexpr uint64_t kPXN = uint64_t{1} << 53;  // privileged execute-never
inline constexpr uint64_t kUXN = uint64_t{1} << 54;  // unprivileged execute-never (XN at EL2/EL3)

// ---- Stage 2 attributes -------------------------------------------------------------------------
inline constexpr unsigned kMemAttrShift = 2;  // MemAttr[3:0], bits[5:2]
inline constexpr uint64_t kMemAttrMask = uint64_t{0b1111} << kMemAttrShift;
inline constexpr unsigned kS2APShift = 6;  // S2AP[1:0], bits[7:6]: bit 6 read, bit 7 write
inline constexpr uint64_t kS2APRead = uint64_t{1} << 6;
inline constexpr uint64_t kS2APWrite = uint64_t{1} << 7;
inline constexpr uint64_t kS2XN = uint64_t{1} << 54;  // XN[1] (XN[0], bit 53, needs FEAT_XNX)

// ---- Shareability (SH[1:0]) ---------------------------------------------------------------------
inline constexpr uint64_t kShareNon = 0b00;
inline constexpr uint64_t kShareOuter = 0b10;
inline constexpr uint64_t kShareInner = 0b11;

// ---- Table descriptor attributes (hierarchical controls; teemm leaves them zero) ----------------
inline constexpr uint64_t kNSTable = uint64_t{1} << 63;

// Output address fields: bits[47:12] of a page or table descriptor; blocks use fewer low bits.
inline constexpr uint64_t kOutputAddressMask = (kAddressLimit - 1) & ~kPageMask;

// ---- MAIR layout teemm programs -----------------------------------------------------------------
// One choice among many, fixed here so encoder, walker and firmware agree:
//   index 0  Device-nGnRE                         0x04  (device registers)
//   index 1  Normal, inner/outer write-back RW-allocate, non-transient  0xFF  (all cached memory)
//   index 2  Normal, inner/outer non-cacheable    0x44  (coherent buffers)
//   index 3  Device-nGnRnE                        0x00  (strongly ordered, unused by the core map)
inline constexpr unsigned kMairIndexDevice = 0;
inline constexpr unsigned kMairIndexNormalWriteBack = 1;
inline constexpr unsigned kMairIndexNormalNonCacheable = 2;
inline constexpr unsigned kMairIndexDeviceStronglyOrdered = 3;
inline constexpr uint64_t kMairAttrDevice_nGnRE = 0x04;
inline constexpr uint64_t kMairAttrNormalWriteBack = 0xFF;
inline constexpr uint64_t kMairAttrNormalNonCacheable = 0x44;
inline constexpr uint64_t kMairAttrDevice_nGnRnE = 0x00;
inline constexpr uint64_t kMairValue = (kMairAttrDevice_nGnRE << (8 * kMairIndexDevice)) |
                                       (kMairAttrNormalWriteBack << (8 * kMairIndexNormalWriteBack)) |
                                       (kMairAttrNormalNonCacheable << (8 * kMairIndexNormalNonCacheable)) |
                                       (kMairAttrDevice_nGnRnE << (8 * kMairIndexDeviceStronglyOrdered));

// Stage-2 MemAttr[3:0] values (without FEAT_S2FWB): [3:2] outer, [1:0] inner, or 00 + device type.
inline constexpr uint64_t kS2MemAttrDevice_nGnRnE = 0b0000;
inline constexpr uint64_t kS2MemAttrDevice_nGnRE = 0b0001;
inline constexpr uint64_t kS2MemAttrNormalNonCacheable = 0b0101;
inline constexpr uint64_t kS2MemAttrNormalWriteBack = 0b1111;

// ---- Geometry of the 4 KiB granule ----------------------------------------------------------------
inline constexpr unsigned kEntriesPerTable = 512;
inline constexpr unsigned kBitsPerLevel = 9;
inline constexpr unsigned kLastLevel = 3;

// Bits of input address resolved below `level`: 39, 30, 21, 12 for levels 0..3.
constexpr unsigned level_shift(unsigned level) { return kPageShift + kBitsPerLevel * (kLastLevel - level); }
constexpr uint64_t level_block_size(unsigned level) { return uint64_t{1} << level_shift(level); }
constexpr unsigned level_index(uint64_t input, unsigned level) {
  return static_cast<unsigned>((input >> level_shift(level)) & (kEntriesPerTable - 1));
}
// Blocks exist at levels 1 (1 GiB) and 2 (2 MiB) with a 4 KiB granule (level 0 needs FEAT_LPA2).
constexpr bool level_allows_block(unsigned level) { return level == 1 || level == 2; }

// The level a walk starts at for an input address space of `input_bits` bits, and how many
// entries its root table uses.
constexpr unsigned start_level_for(unsigned input_bits) { return input_bits > 39 ? 0 : input_bits > 30 ? 1 : 2; }
constexpr unsigned root_entries_for(unsigned input_bits) {
  return 1u << (input_bits - level_shift(start_level_for(input_bits)));
}

// ---- Mapping attributes: what a mapping means, before it is bits -----------------------------------
enum class Stage : unsigned char { kStage1, kStage2 };

// The stage-1 translation regime a table is for. The EL1&0 regime has two privilege levels (AP[1],
// PXN and UXN mean what their names say); the EL2 (without VHE) and EL3 regimes have one: there AP[1]
// is RES1, PXN is RES0 and bit 54 is XN. One table can serve only one of the two correctly.
enum class TranslationRegime : unsigned char { kEl1And0, kEl2OrEl3 };

enum class MemoryKind : unsigned char {
  kDevice,                 // Device-nGnRE
  kNormalWriteBack,        // cached normal memory
  kNormalNonCacheable,     // coherent normal memory
  kDeviceStronglyOrdered,  // Device-nGnRnE
};

struct Access {
  bool read = false;
  bool write = false;
  bool execute = false;
  constexpr bool operator==(const Access&) const = default;
  constexpr bool any() const { return read || write || execute; }
};

struct MappingAttributes {
  MemoryKind memory = MemoryKind::kNormalWriteBack;
  Access privileged;    // EL1 (or the single privilege of EL2/EL3 regimes)
  Access unprivileged;  // EL0; ignored at stage 2
  bool non_secure = false;
  bool global = true;
  constexpr bool operator==(const MappingAttributes&) const = default;
};

// The implications an OP-TEE-style core applies before encoding: write or execute needs read,
// unprivileged access needs the same privileged access (AP cannot express otherwise).
constexpr MappingAttributes normalize(MappingAttributes a) {
  if (a.privileged.write || a.privileged.execute) a.privileged.read = true;
  if (a.unprivileged.write || a.unprivileged.execute) a.unprivileged.read = true;
  if (a.unprivileged.read) a.privileged.read = true;
  if (a.unprivileged.write) a.privileged.write = true;
  return a;
}

// Attribute bits (everything but the output address and the type field) of a leaf descriptor.
// A mapping with no read access at all is "not valid" and encodes as 0; callers treat that as a
// request to leave the range unmapped. `regime` matters at stage 1 only; in the single-privilege
// regime the unprivileged access and `global` are ignored (there is no EL0 and no ASID).
uint64_t encode_leaf_attributes(Stage stage, MappingAttributes attributes,
                                TranslationRegime regime = TranslationRegime::kEl1And0);

// A full leaf descriptor at `level`: block at levels 1-2, page at level 3.
constexpr uint64_t make_leaf(uint64_t attribute_bits, uint64_t output_address, unsigned level) {
  return attribute_bits | (output_address & kOutputAddressMask) |
         (level == kLastLevel ? kDescriptorPage : kDescriptorBlock);
}
constexpr uint64_t make_table_descriptor(PhysAddr next_table) {
  return (next_table.value & kOutputAddressMask) | kDescriptorTable;
}

constexpr bool descriptor_is_valid(uint64_t d) { return (d & kDescriptorValid) != 0; }
constexpr bool descriptor_is_table(uint64_t d, unsigned level) {
  return level < kLastLevel && (d & kDescriptorTypeMask) == kDescriptorTable;
}
// Output address of a leaf at `level` (low bits below the block size are ignored by hardware).
constexpr uint64_t descriptor_output(uint64_t d, unsigned level) {
  return d & kOutputAddressMask & ~(level_block_size(level) - 1);
}
constexpr PhysAddr descriptor_next_table(uint64_t d) { return PhysAddr(d & kOutputAddressMask); }
constexpr uint64_t descriptor_attribute_bits(uint64_t d) { return d & ~(kOutputAddressMask | kDescriptorTypeMask); }

}  // namespace teemm::arm64
