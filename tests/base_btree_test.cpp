// Tests for base/btree that its owners' tests do not reach: where its blocks come from.
#include "base/btree.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <set>
#include <vector>

#include "base/block_pool.hpp"

namespace teemm {
namespace {

struct CountAggregate {
  uint64_t count = 0;
  bool operator==(const CountAggregate&) const = default;
};

struct PlainTraits {
  using Key = uint64_t;
  using Value = uint64_t;
  using Agg = CountAggregate;
  static constexpr uint32_t kLeafCapacity = 15;
  static constexpr uint32_t kInnerCapacity = 15;
  static constexpr Key kMaxKey = ~uint64_t{0};
  static bool less(Key a, Key b) { return a < b; }
  static Agg entry_agg(Key, const Value&) { return Agg{1}; }
  static Agg combine(const Agg& a, const Agg& b) { return Agg{a.count + b.count}; }
};
using Tree = BTree<PlainTraits>;

// Every block the tree holds, split into leaves and inner nodes, by walking every path.
void collect_blocks(const Tree& tree, std::set<uintptr_t>* leaves, std::set<uintptr_t>* inners) {
  Tree::Cursor at;
  for (bool more = tree.first(&at); more; more = tree.next(&at)) {
    for (uint32_t level = 1; level < tree.height(); ++level)
      inners->insert(reinterpret_cast<uintptr_t>(at.nodes[level]));
    if (tree.height() > 0) leaves->insert(reinterpret_cast<uintptr_t>(at.nodes[tree.height()]));
  }
}

// Inner nodes come from the pool's high end and leaves from its low end, through growth, random
// churn and shrinking, so the hot upper levels stay packed together (see base/block_pool).
TEST(BTree, InnerNodesLiveAboveEveryLeaf) {
  constexpr size_t kBlocks = 4096;
  std::vector<unsigned char> storage(kBlocks * Tree::kBlockSize + 64);
  BlockPool pool;
  pool.init(storage.data(), storage.size(), Tree::kBlockSize);
  Tree tree;
  tree.reset(&pool);
  std::mt19937_64 rng(11);
  std::set<uint64_t> keys;
  auto check = [&] {
    std::set<uintptr_t> leaves;
    std::set<uintptr_t> inners;
    collect_blocks(tree, &leaves, &inners);
    ASSERT_EQ(leaves.size() + inners.size(), tree.blocks());
    if (!inners.empty()) {
      ASSERT_LT(*leaves.rbegin(), *inners.begin());
    }
    ASSERT_TRUE(tree.audit());
  };
  for (int i = 0; i < 20000; ++i) {
    const uint64_t key = rng() >> 1;
    if (keys.insert(key).second) {
      ASSERT_TRUE(tree.insert(key, key));
    }
  }
  ASSERT_GE(tree.height(), 3u);
  check();
  for (int round = 0; round < 40000; ++round) {  // churn: erase one, insert one
    Tree::Cursor at;
    const uint64_t probe = rng() >> 1;
    if (tree.find_le(probe, &at) || tree.first(&at)) {
      keys.erase(tree.key(at));
      tree.erase(at);
    }
    const uint64_t key = rng() >> 1;
    if (keys.insert(key).second) {
      ASSERT_TRUE(tree.insert(key, key));
    }
    if (round % 5000 == 0) {
      check();
    }
  }
  while (keys.size() > 100) {  // shrink: the blocks go back, to their own ends
    Tree::Cursor at;
    ASSERT_TRUE(tree.find_le(*keys.begin(), &at));
    tree.erase(at);
    keys.erase(keys.begin());
  }
  check();
  EXPECT_EQ(tree.size(), keys.size());
  EXPECT_EQ(pool.in_use(), tree.blocks());
  EXPECT_TRUE(pool.audit());
}

}  // namespace
}  // namespace teemm
