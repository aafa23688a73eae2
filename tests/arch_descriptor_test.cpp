// Descriptor encoding: every bit checked against values worked out by hand from the Arm ARM
// (DDI 0487, D8.3), not from the encoder.
#include <gtest/gtest.h>

#include "arch/arm64/descriptor.hpp"
#include "arch/arm64/registers.hpp"
#include "arch/arm64/translation_table.hpp"
#include "arch/arm64/walker.hpp"

#include <type_traits>

namespace teemm::arm64 {
namespace {

MappingAttributes privileged(Access access, MemoryKind memory = MemoryKind::kNormalWriteBack, bool non_secure = false) {
  MappingAttributes a;
  a.memory = memory;
  a.privileged = access;
  a.non_secure = non_secure;
  return a;
}

TEST(Descriptor, ArchitecturalBitPositions) {
  EXPECT_EQ(kNS, 0x20u);
  EXPECT_EQ(kAP1, 0x40u);
  EXPECT_EQ(kAP2, 0x80u);
  EXPECT_EQ(kAF, 0x400u);
  EXPECT_EQ(kNG, 0x800u);
  EXPECT_EQ(kPXN, 0x0020000000000000u);
  EXPECT_EQ(kUXN, 0x0040000000000000u);
  EXPECT_EQ(kOutputAddressMask, 0x0000FFFFFFFFF000u);
  EXPECT_EQ(kMairValue, 0x0044FF04u);
}

TEST(Descriptor, LevelGeometry) {
  EXPECT_EQ(level_block_size(1), 1ull << 30);
  EXPECT_EQ(level_block_size(2), 2ull << 20);
  EXPECT_EQ(level_block_size(3), 4096u);
  EXPECT_EQ(level_index(0x0e12'3000, 3), 0x123u);
  EXPECT_EQ(level_index(0x0e12'3000, 2), 0x70u);
  EXPECT_EQ(start_level_for(48), 0u);
  EXPECT_EQ(start_level_for(39), 1u);
  EXPECT_EQ(start_level_for(32), 1u);
  EXPECT_EQ(start_level_for(30), 2u);
  EXPECT_EQ(root_entries_for(32), 4u);
  EXPECT_EQ(root_entries_for(39), 512u);
  EXPECT_FALSE(level_allows_block(0));
  EXPECT_FALSE(level_allows_block(3));
}

// Secure, privileged read-execute, cached (TEE code): AF | SH=inner | AttrIndx=1; AP[2] (read-only);
// no PXN; UXN, because EL0 may fetch from any page with UXN clear (AP[1] notwithstanding).
// 0x400 | 0x300 | 0x4 | 0x80 | UXN = 0x0040000000000784.
TEST(Descriptor, Stage1TeeCode) {
  EXPECT_EQ(encode_leaf_attributes(Stage::kStage1, privileged({true, false, true})), 0x0040000000000784u);
}

// Issue 8, defect 1: whatever the privileged rights, a mapping EL0 may not execute has UXN set.
TEST(Descriptor, Stage1UxnWheneverEl0MayNotExecute) {
  for (int bits = 0; bits < 8; ++bits) {
    const Access el1{true, (bits & 1) != 0, (bits & 2) != 0};
    for (MemoryKind kind : {MemoryKind::kNormalWriteBack, MemoryKind::kNormalNonCacheable, MemoryKind::kDevice}) {
      MappingAttributes a = privileged(el1, kind, (bits & 4) != 0);
      EXPECT_NE(encode_leaf_attributes(Stage::kStage1, a) & kUXN, 0u) << bits;
      EXPECT_FALSE(decode_attributes(Stage::kStage1, encode_leaf_attributes(Stage::kStage1, a)).unprivileged.execute);
    }
  }
}

// Secure RW data: AF | SH inner | AttrIndx 1 | PXN | UXN.
TEST(Descriptor, Stage1TeeData) {
  EXPECT_EQ(encode_leaf_attributes(Stage::kStage1, privileged({true, true, false})), 0x0060000000000704u);
}

// Secure RO: adds AP[2].
TEST(Descriptor, Stage1ReadOnly) {
  EXPECT_EQ(encode_leaf_attributes(Stage::kStage1, privileged({true, false, false})), 0x0060000000000784u);
}

// Non-secure device RW (IO_NSEC): AF | SH outer (0x200) | AttrIndx 0 | NS | PXN | UXN.
TEST(Descriptor, Stage1NonSecureDevice) {
  EXPECT_EQ(encode_leaf_attributes(Stage::kStage1, privileged({true, true, false}, MemoryKind::kDevice, true)),
            0x0060000000000620u);
}

// Coherent RWX: AttrIndx 2 (0x8), SH outer, AF; no PXN, UXN (EL0 has no rights).
TEST(Descriptor, Stage1Coherent) {
  EXPECT_EQ(encode_leaf_attributes(Stage::kStage1, privileged({true, true, true}, MemoryKind::kNormalNonCacheable)),
            0x0040000000000608u);
}

TEST(Descriptor, Stage1UserAndNotGlobal) {
  MappingAttributes a = privileged({true, true, false});
  a.unprivileged = {true, true, false};
  a.global = false;
  // AF | nG | SH inner | AP[1] | AttrIndx 1 | PXN | UXN
  EXPECT_EQ(encode_leaf_attributes(Stage::kStage1, a), 0x0060000000000F44u);
  // EL0 executable, EL1 not: UXN clear, PXN set, AP[2] read-only for both.
  MappingAttributes code = privileged({true, false, false});
  code.unprivileged = {true, false, true};
  EXPECT_EQ(encode_leaf_attributes(Stage::kStage1, code), 0x00200000000007C4u);
}

TEST(Descriptor, ImplicationsAndNoAccess) {
  // Write alone implies read; the result equals explicit RW.
  EXPECT_EQ(encode_leaf_attributes(Stage::kStage1, privileged({false, true, false})),
            encode_leaf_attributes(Stage::kStage1, privileged({true, true, false})));
  // Unprivileged write implies privileged write and read.
  MappingAttributes a;
  a.unprivileged = {false, true, false};
  const uint64_t bits = encode_leaf_attributes(Stage::kStage1, a);
  EXPECT_EQ(bits & kAP2, 0u);
  EXPECT_NE(bits & kAP1, 0u);
  EXPECT_NE(bits & kPXN, 0u);
  // Nothing at all: not a mapping.
  EXPECT_EQ(encode_leaf_attributes(Stage::kStage1, privileged({false, false, false})), 0u);
}

// Stage 2: MemAttr in [5:2], S2AP [7:6], XN bit 54.
TEST(Descriptor, Stage2Encodings) {
  // Normal WB RW, no exec: AF | SH inner | S2AP=11 | MemAttr=1111 | XN
  EXPECT_EQ(encode_leaf_attributes(Stage::kStage2, privileged({true, true, false})), 0x00400000000007FCu);
  // Read-only executable: S2AP=01, XN clear.
  EXPECT_EQ(encode_leaf_attributes(Stage::kStage2, privileged({true, false, true})), 0x77Cu);
  // Device RW: MemAttr 0001, SH outer.
  EXPECT_EQ(encode_leaf_attributes(Stage::kStage2, privileged({true, true, false}, MemoryKind::kDevice)),
            0x00400000000006C4u);
  // The security state is not a stage-2 attribute (bit 5 is MemAttr[3] there): it changes nothing.
  EXPECT_EQ(encode_leaf_attributes(Stage::kStage2, privileged({true, true, false}, MemoryKind::kDevice, true)),
            encode_leaf_attributes(Stage::kStage2, privileged({true, true, false}, MemoryKind::kDevice, false)));
}

TEST(Descriptor, LeafAndTableDescriptors) {
  EXPECT_EQ(make_leaf(0x784, 0x0e10'0000, 3), 0x0e10'0787u);
  EXPECT_EQ(make_leaf(0x784, 0x0e00'0000, 2), 0x0e00'0785u);
  EXPECT_EQ(make_table_descriptor(PhysAddr(0x0e28'1000)), 0x0e28'1003u);
  EXPECT_TRUE(descriptor_is_table(0x0e28'1003u, 2));
  EXPECT_FALSE(descriptor_is_table(0x0e28'1003u, 3));  // at level 3 that is a page
  EXPECT_EQ(descriptor_output(0x0e00'0785u, 2), 0x0e00'0000u);
}

// TCR/VTCR values worked out by hand.
TEST(Registers, TranslationControl) {
  // 32-bit VA, 40-bit PA at EL3: T0SZ=32, IRGN0=ORGN0=1, SH0=3, TG0=0, PS=2, RES1 23|31.
  EXPECT_EQ(tcr_el3_value(32, 40), 0x80823520u);
  // 39-bit VA at EL1, 48-bit PA: T0SZ=25, EPD1, TG1=0b10 (4 KiB; 0b00 is reserved), IPS=5.
  EXPECT_EQ(tcr_el1_value(39, 48), 0x0000000580803519u);
  // 48-bit VA at EL1, 40-bit PA: T0SZ=16.
  EXPECT_EQ(tcr_el1_value(48, 40), 0x0000000280803510u);
  // VTCR: 32-bit IPA, SL0=1 (level 1), PS=2, RES1 bit 31.
  EXPECT_EQ(vtcr_el2_value(32, 40), 0x80023560u);
  // 48-bit IPA: T0SZ=16, SL0=2 (level 0), PS=5.
  EXPECT_EQ(vtcr_el2_value(48, 48), 0x80053590u);
  // Level-0 starts need more than 42 bits of PS.
  EXPECT_TRUE(vtcr_start_level_valid(39, 40));
  EXPECT_FALSE(vtcr_start_level_valid(40, 40));
  EXPECT_TRUE(vtcr_start_level_valid(40, 44));
}

}  // namespace
}  // namespace teemm::arm64

namespace teemm::arm64 {
namespace {

// EL2/EL3 have one privilege level: AP[1] is RES1, PXN RES0, bit 54 is XN, nG unused.
TEST(Descriptor, SinglePrivilegeRegime) {
  MappingAttributes code;
  code.privileged = {true, false, true};
  // AF | SH inner | AttrIndx 1 | AP[1] (RES1) | AP[2] read-only; executable: no XN.
  EXPECT_EQ(encode_leaf_attributes(Stage::kStage1, code, TranslationRegime::kEl2OrEl3), 0x7C4u);
  MappingAttributes data;
  data.privileged = {true, true, false};
  data.non_secure = true;
  data.global = false;                     // ignored: no ASIDs
  data.unprivileged = {true, true, true};  // ignored: no EL0
  // AF | SH inner | AP[1] | NS | AttrIndx 1 | XN; never PXN.
  EXPECT_EQ(encode_leaf_attributes(Stage::kStage1, data, TranslationRegime::kEl2OrEl3), 0x0040000000000764u);
}

template <typename Table, typename In, typename Out>
concept MapsWith = requires(Table t, In in, Out out) {
  t.map(in, out, Size(kPageSize), MappingAttributes{});
};

TEST(Descriptor, AddressTypesDoNotMix) {
  static_assert(!std::is_convertible_v<IntermediatePhysAddr, PhysAddr>);
  static_assert(!std::is_convertible_v<PhysAddr, VirtAddr>);
  static_assert(!std::is_convertible_v<uint64_t, PhysAddr>);
  static_assert(!std::is_convertible_v<Size, PageCount>);
  static_assert(!std::is_constructible_v<PhysAddr, IntermediatePhysAddr>);
  // A stage-1 table takes a VA and a PA; an IPA in either place does not compile.
  static_assert(MapsWith<Stage1Table, VirtAddr, PhysAddr>);
  static_assert(!MapsWith<Stage1Table, IntermediatePhysAddr, PhysAddr>);
  static_assert(!MapsWith<Stage1Table, VirtAddr, IntermediatePhysAddr>);
  static_assert(MapsWith<Stage2Table, IntermediatePhysAddr, PhysAddr>);
  static_assert(!MapsWith<Stage2Table, VirtAddr, PhysAddr>);
  SUCCEED();
}

}  // namespace
}  // namespace teemm::arm64
