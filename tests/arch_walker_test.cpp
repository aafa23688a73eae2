// The software walker on hand-written tables: every fault kind, reserved encodings, attribute
// decoding, output addresses of blocks and pages. The tables here are written bit by bit, not
// with the builder, so the walker is checked on its own.
#include <gtest/gtest.h>

#include "arch/arm64/walker.hpp"
#include "support/host_pool.hpp"

namespace teemm::arm64 {
namespace {

struct HandTables : ::testing::Test {
  testing::HostPool host{8, 0x1000'0000};
  PhysAddr root = host.pool.allocate().value();
  PhysAddr l2 = host.pool.allocate().value();
  PhysAddr l3 = host.pool.allocate().value();
  uint64_t* e1 = host.pool.entries(root);
  uint64_t* e2 = host.pool.entries(l2);
  uint64_t* e3 = host.pool.entries(l3);

  WalkResult at(uint64_t va, unsigned bits = 39) const { return walk(host.memory(), root, Stage::kStage1, bits, va); }
};

TEST_F(HandTables, PageBlockAndFaults) {
  e1[0] = l2.value | 0b11;                           // L1[0] -> table
  e2[1] = l3.value | 0b11;                           // L2[1] -> table (VA 2 MiB..4 MiB)
  e2[2] = 0x4000'0000 | 0x400 | 0x4 | 0b01;          // L2[2]: 2 MiB block, AF, AttrIndx 1
  e3[5] = 0xABCD'E000 | 0x400 | 0x80 | 0x20 | 0b11;  // L3[5]: page, AF, read-only, NS
  e1[1] = 0x8000'0000 | 0x400 | 0b01;                // L1[1]: 1 GiB block at VA 1 GiB
  e3[6] = 0xABCD'F000 | 0b11;                        // AF = 0
  e3[7] = 0xABCE'0000 | 0x400 | 0b01;                // level-3 "block": reserved
  e1[3] = 0x7000'0000 | 0b11;                        // table at a PA the pool does not hold

  WalkResult r = at(0x0020'5123);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.level, 3u);
  EXPECT_EQ(r.output, 0xABCD'E123u);
  EXPECT_TRUE(r.attributes.non_secure);
  EXPECT_FALSE(r.attributes.privileged.write);
  EXPECT_EQ(r.attributes.memory, MemoryKind::kDevice);  // AttrIndx 0

  r = at(0x0045'6789);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.level, 2u);
  EXPECT_EQ(r.output, 0x4005'6789u);
  EXPECT_EQ(r.leaf_size, 2u << 20);
  EXPECT_EQ(r.attributes.memory, MemoryKind::kNormalWriteBack);

  r = at(0x4123'4567);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.level, 1u);
  EXPECT_EQ(r.output, 0x8123'4567u);

  EXPECT_EQ(at(0x0020'6000).fault, FaultKind::kAccessFlag);
  EXPECT_EQ(at(0x0020'7000).fault, FaultKind::kTranslation);
  EXPECT_EQ(at(0x0020'7000).level, 3u);
  EXPECT_EQ(at(0x0020'8000).fault, FaultKind::kTranslation);
  EXPECT_EQ(at(0x0060'0000).level, 2u);
  EXPECT_EQ(at(0xC000'0000).fault, FaultKind::kExternalAbort);
  EXPECT_EQ(at(0x1'0000'0000).fault, FaultKind::kTranslation);
  EXPECT_EQ(at(0x1'0000'0000).level, 1u);
  EXPECT_EQ(at(1ull << 39).fault, FaultKind::kTranslation);  // outside the VA range: level 0
  EXPECT_EQ(at(1ull << 39).level, 0u);
}

TEST_F(HandTables, Level0BlocksAreReserved) {
  e1[0] = 0x4000'0000 | 0x400 | 0b01;  // with 48-bit VA the root is level 0: blocks are not allowed
  EXPECT_EQ(at(0x1000, 48).fault, FaultKind::kTranslation);
  EXPECT_EQ(at(0x1000, 48).level, 0u);
}

TEST(WalkerDecode, PermissionsFromApAndExecuteNever) {
  // AP[2:1] = 00: EL1 RW, EL0 no data access; XN bits clear: EL1 executes, and so does EL0 (an
  // EL0 fetch needs only UXN = 0: this is the execute-only encoding).
  DecodedAttributes a = decode_attributes(Stage::kStage1, 0x400 | 0b11);
  EXPECT_EQ(a.privileged, (Access{true, true, true}));
  EXPECT_EQ(a.unprivileged, (Access{false, false, true}));
  EXPECT_TRUE(a.single_privilege_execute);
  // The same with UXN: EL0 has nothing.
  a = decode_attributes(Stage::kStage1, 0x400 | kUXN | 0b11);
  EXPECT_EQ(a.unprivileged, (Access{false, false, false}));
  // AP[2:1] = 10 (EL1 read-only, EL0 none), UXN clear: EL0 execute-only.
  a = decode_attributes(Stage::kStage1, 0x400 | 0x80 | 0b11);
  EXPECT_EQ(a.unprivileged, (Access{false, false, true}));
  // AP = 01: both RW; writable at EL0 means never privileged-executable.
  a = decode_attributes(Stage::kStage1, 0x400 | 0x40 | 0b11);
  EXPECT_EQ(a.privileged, (Access{true, true, false}));
  EXPECT_EQ(a.unprivileged, (Access{true, true, true}));
  // AP = 11 with PXN|UXN: read-only for both, no execution anywhere.
  a = decode_attributes(Stage::kStage1, 0x400 | 0xC0 | (3ull << 53) | 0b11);
  EXPECT_EQ(a.privileged, (Access{true, false, false}));
  EXPECT_EQ(a.unprivileged, (Access{true, false, false}));
  EXPECT_FALSE(a.single_privilege_execute);
  EXPECT_TRUE(a.global);  // nG (bit 11) clear
  a = decode_attributes(Stage::kStage1, 0x400 | 0x800 | 0b11);
  EXPECT_FALSE(a.global);
}

TEST(WalkerDecode, Stage2Fields) {
  // S2AP = 10 (write only), MemAttr 0101 (normal NC), XN.
  const DecodedAttributes a = decode_attributes(Stage::kStage2, 0x400 | 0x80 | (0b0101 << 2) | (1ull << 54) | 0b11);
  EXPECT_EQ(a.privileged, (Access{false, true, false}));
  EXPECT_EQ(a.memory, MemoryKind::kNormalNonCacheable);
  EXPECT_EQ(decode_attributes(Stage::kStage2, 0b0001 << 2).memory, MemoryKind::kDevice);
  EXPECT_EQ(decode_attributes(Stage::kStage2, 0b0000 << 2).memory, MemoryKind::kDeviceStronglyOrdered);
}

}  // namespace
}  // namespace teemm::arm64
