// Property tests of the static map: registry → layout → tables, read back by the walker.
//   * every page of every region of qemu-virt translates to its PA with its type's attributes;
//   * for thousands of random maps, the walker and the map agree at every page boundary of every
//     region and just outside it, and blocks are used wherever PA, VA and size allow.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "arch/arm64/walker.hpp"
#include "mm/memory_map.hpp"
#include "platform/builtin/qemu_virt.hpp"
#include "session.hpp"
#include "support/random_map.hpp"

namespace teemm {
namespace {

using arm64::WalkResult;

// The attributes the walker decodes must be those of the region's type.
void expect_type_attributes(const WalkResult& r, mm::MemoryType type) {
  const mm::TypeAttributes& t = mm::type_attributes(type);
  EXPECT_EQ(r.attributes.non_secure, !t.secure);
  EXPECT_EQ(r.attributes.privileged, t.privileged);
  EXPECT_EQ(r.attributes.unprivileged, (arm64::Access{}));
  EXPECT_EQ(r.attributes.memory, t.memory);
  EXPECT_TRUE(r.attributes.global);
}

// The largest leaf the builder may use for the page at `offset` into `e`: the largest block size
// whose aligned block around that VA lies wholly in the entry with matching PA alignment.
uint64_t largest_allowed_leaf(const mm::MapEntry& e, uint64_t offset) {
  for (unsigned level = 1; level <= 2; ++level) {
    const uint64_t block = arm64::level_block_size(level);
    const uint64_t va = e.va.value + offset;
    const uint64_t block_start = va & ~(block - 1);
    if (((e.va.value ^ e.pa.value) & (block - 1)) == 0 && block_start >= e.va.value &&
        block_start + block <= e.end_va().value)
      return block;
  }
  return kPageSize;
}

void check_entry(const tool::Session& session, const mm::MapEntry& e, uint64_t step) {
  for (uint64_t offset = 0; offset < e.size.bytes; offset += step) {
    const WalkResult r = session.translate(e.va.value + offset);
    ASSERT_TRUE(r.ok()) << e.name << " offset " << offset;
    ASSERT_EQ(r.output, e.pa.value + offset) << e.name;
    ASSERT_EQ(r.leaf_size, largest_allowed_leaf(e, offset)) << e.name << " offset " << offset;
    expect_type_attributes(r, e.type);
  }
}

TEST(StaticMapProperty, QemuVirtEveryPageOfEveryRegion) {
  namespace q = platform::qemu_virt;
  const tool::Session session("qemu-virt", {std::begin(q::kRegions), std::end(q::kRegions)}, {});
  ASSERT_TRUE(session.ok()) << session.error();
  uint64_t pages = 0;
  for (const mm::MapEntry& e : session.map()) {
    if (e.is_va_reservation()) {
      // Reservations start unbacked: nothing translates.
      EXPECT_FALSE(session.translate(e.va.value).ok());
      EXPECT_FALSE(session.translate(e.end_va().value - 1).ok());
      continue;
    }
    check_entry(session, e, kPageSize);
    pages += e.size.bytes / kPageSize;
  }
  EXPECT_GT(pages, 1000u);
  // Whatever is not in the map faults: scan the low 4 GiB at 64 KiB steps.
  for (uint64_t va = 0; va < (4ull << 30); va += 0x10000) {
    const bool mapped =
        session.map().find(VirtAddr(va)) != nullptr && !session.map().find(VirtAddr(va))->is_va_reservation();
    ASSERT_EQ(session.translate(va).ok(), mapped) << std::hex << va;
  }
}

TEST(StaticMapProperty, RandomMapsAgreeWithWalkerAndUseBlocksWhereverAllowed) {
  constexpr int kSeeds = 2000;
  for (int seed = 1; seed <= kSeeds; ++seed) {
    std::mt19937 random(seed);
    const size_t count = 1 + random() % 24;
    testing::RandomMap input = testing::make_random_map(seed, count, (random() % 2) ? (8u << 20) : (64u << 20));
    tool::SessionOptions options;
    options.layout.va_bits = (random() % 2) ? 39 : 48;
    options.layout.va_offset = (random() % 3 == 0) ? (uint64_t{random() % 64} << 21) : 0;  // keeps 2 MiB congruence
    if (random() % 4 == 0) options.layout.va_offset += 0x1000;                             // and sometimes breaks it
    const tool::Session session("random", input.regions, options);
    ASSERT_TRUE(session.ok()) << "seed " << seed << ": " << session.error();
    for (const mm::MapEntry& e : session.map()) {
      // Every page boundary where the leaf kind may change, plus a sample of pages inside.
      check_entry(session, e, e.size.bytes > (4u << 20) ? (64 * kPageSize) : kPageSize);
      const WalkResult last = session.translate(e.end_va().value - 1);
      ASSERT_TRUE(last.ok());
      ASSERT_EQ(last.output, e.pa.value + e.size.bytes - 1);
      // Just outside: unmapped unless another entry starts there.
      if (session.map().find(e.end_va()) == nullptr) {
        ASSERT_FALSE(session.translate(e.end_va().value).ok());
      }
      if (e.va.value >= kPageSize && session.map().find(e.va - Size(kPageSize)) == nullptr) {
        ASSERT_FALSE(session.translate(e.va.value - kPageSize).ok());
      }
    }
    ASSERT_FALSE(::testing::Test::HasFailure()) << "seed " << seed;
  }
}

TEST(StaticMapProperty, MapsOfAThousandRegionsBuild) {
  const testing::RandomMap input = testing::make_random_map(7, 1000);
  const tool::Session session("random", input.regions, {});
  ASSERT_TRUE(session.ok()) << session.error();
  for (const mm::MapEntry& e : session.map()) check_entry(session, e, 16 * kPageSize);
}

}  // namespace
}  // namespace teemm
