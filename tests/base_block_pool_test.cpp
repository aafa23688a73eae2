// Tests for base/block_pool: carving from both ends, per-end reuse, and that a take fails only
// when every block is in use.
#include "base/block_pool.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <set>
#include <vector>

namespace teemm {
namespace {

constexpr size_t kBlock = 128;

struct Storage {
  alignas(64) unsigned char bytes[kBlock * 8];
};

uintptr_t address(const void* block) { return reinterpret_cast<uintptr_t>(block); }

TEST(BlockPool, CarvesLeavesUpwardAndInnerNodesDownward) {
  Storage storage;
  BlockPool pool;
  pool.init(storage.bytes, sizeof(storage.bytes), kBlock);
  ASSERT_EQ(pool.capacity(), 8u);
  void* low0 = pool.take(PoolEnd::kLow);
  void* low1 = pool.take(PoolEnd::kLow);
  void* high0 = pool.take(PoolEnd::kHigh);
  void* high1 = pool.take(PoolEnd::kHigh);
  EXPECT_EQ(low0, storage.bytes);
  EXPECT_EQ(address(low1), address(storage.bytes) + kBlock);
  EXPECT_EQ(address(high0), address(storage.bytes) + 7 * kBlock);
  EXPECT_EQ(address(high1), address(storage.bytes) + 6 * kBlock);
  EXPECT_EQ(pool.in_use(), 4u);
  EXPECT_TRUE(pool.audit());
}

TEST(BlockPool, ReleasedBlocksReturnToTheirEndFirst) {
  Storage storage;
  BlockPool pool;
  pool.init(storage.bytes, sizeof(storage.bytes), kBlock);
  void* low = pool.take(PoolEnd::kLow);
  void* high = pool.take(PoolEnd::kHigh);
  pool.give(low, PoolEnd::kLow);
  pool.give(high, PoolEnd::kHigh);
  EXPECT_EQ(pool.take(PoolEnd::kHigh), high);
  EXPECT_EQ(pool.take(PoolEnd::kLow), low);
  EXPECT_TRUE(pool.audit());
}

TEST(BlockPool, WhenTheEndsMeetTheOtherEndsReleasedBlocksServe) {
  Storage storage;
  BlockPool pool;
  pool.init(storage.bytes, sizeof(storage.bytes), kBlock);
  std::vector<void*> high;
  for (int i = 0; i < 5; ++i) high.push_back(pool.take(PoolEnd::kHigh));
  for (int i = 0; i < 3; ++i) ASSERT_NE(pool.take(PoolEnd::kLow), nullptr);
  EXPECT_EQ(pool.take(PoolEnd::kLow), nullptr);
  EXPECT_EQ(pool.take(PoolEnd::kHigh), nullptr);
  EXPECT_EQ(pool.in_use(), 8u);
  pool.give(high[2], PoolEnd::kHigh);
  EXPECT_EQ(pool.take(PoolEnd::kLow), high[2]);  // a full pool still serves every released block
  EXPECT_EQ(pool.take(PoolEnd::kLow), nullptr);
  EXPECT_TRUE(pool.audit());
}

TEST(BlockPool, UnalignedStorageLosesAtMostTheSlack) {
  Storage storage;
  BlockPool pool;
  pool.init(storage.bytes + 1, sizeof(storage.bytes) - 1, kBlock);
  EXPECT_EQ(pool.capacity(), 7u);
  EXPECT_EQ(pool.capacity(), BlockPool::blocks_in(sizeof(storage.bytes) - 1, kBlock));
  void* high = pool.take(PoolEnd::kHigh);
  EXPECT_EQ(address(high) % BlockPool::kAlignment, 0u);
  EXPECT_LE(address(high) + kBlock, address(storage.bytes) + sizeof(storage.bytes));
  BlockPool empty;
  empty.init(nullptr, 0, kBlock);
  EXPECT_EQ(empty.take(PoolEnd::kLow), nullptr);
  EXPECT_EQ(empty.take(PoolEnd::kHigh), nullptr);
}

// Random takes and gives at both ends against a set of handed-out blocks: never a block twice,
// always inside the storage and aligned, and a take fails exactly when all blocks are in use.
TEST(BlockPool, RandomUseAgainstAModel) {
  constexpr size_t kBlocks = 64;
  std::vector<unsigned char> bytes(kBlocks * kBlock + 64);
  BlockPool pool;
  pool.init(bytes.data(), bytes.size(), kBlock);
  ASSERT_GE(pool.capacity(), kBlocks);
  std::mt19937_64 rng(7);
  std::vector<std::pair<void*, PoolEnd>> out;
  std::set<void*> live;
  for (int step = 0; step < 20000; ++step) {
    const PoolEnd end = (rng() & 1) ? PoolEnd::kLow : PoolEnd::kHigh;
    if (out.empty() || (rng() % 100) < 55) {
      void* block = pool.take(end);
      if (live.size() == pool.capacity()) {
        ASSERT_EQ(block, nullptr);
        continue;
      }
      ASSERT_NE(block, nullptr);
      ASSERT_TRUE(live.insert(block).second) << "handed out twice";
      ASSERT_EQ(address(block) % BlockPool::kAlignment, 0u);
      ASSERT_GE(address(block), address(bytes.data()));
      ASSERT_LE(address(block) + kBlock, address(bytes.data()) + bytes.size());
      out.emplace_back(block, end);
    } else {
      const size_t pick = rng() % out.size();
      std::swap(out[pick], out.back());
      pool.give(out.back().first, out.back().second);
      live.erase(out.back().first);
      out.pop_back();
    }
    ASSERT_EQ(pool.in_use(), live.size());
    if (step % 97 == 0) {
      ASSERT_TRUE(pool.audit());
    }
  }
  ASSERT_TRUE(pool.audit());
}

}  // namespace
}  // namespace teemm
