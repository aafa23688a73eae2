// Tests for base/btree that its owners' tests do not reach: where its blocks come from.
#include "base/btree.hpp"

#include <gtest/gtest.h>

#include <algorithm>
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

// Its aggregate also reads the values, so that a value changed behind the tree's back shows.
struct CountAndMaxAggregate {
  uint64_t count = 0;
  uint64_t max_value = 0;
  bool operator==(const CountAndMaxAggregate&) const = default;
};
struct DenseTraits : PlainTraits {
  using Agg = CountAndMaxAggregate;
  static constexpr bool kDenseFill = true;
  static Agg entry_agg(Key, const Value& v) { return Agg{1, v}; }
  static Agg combine(const Agg& a, const Agg& b) {
    return Agg{a.count + b.count, a.max_value > b.max_value ? a.max_value : b.max_value};
  }
};
using DenseTree = BTree<DenseTraits>;

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

struct DenseFixture {
  static constexpr size_t kBlocks = 8192;
  std::vector<unsigned char> storage = std::vector<unsigned char>(kBlocks * DenseTree::kBlockSize + 64);
  BlockPool pool;
  DenseTree tree;
  DenseFixture() {
    pool.init(storage.data(), storage.size(), DenseTree::kBlockSize);
    tree.reset(&pool);
  }
};

// Keys inserted in order fill their leaves: 20,000 entries take the fewest leaves there can be
// (plus one for the partial last), not the twice as many an even split leaves behind.
TEST(BTreeDenseAppends, InOrderInsertsFillTheLeaves) {
  DenseFixture f;
  constexpr size_t kEntries = 20000;
  for (uint64_t key = 0; key < kEntries; ++key) ASSERT_TRUE(f.tree.insert(key * 8, key));
  ASSERT_TRUE(f.tree.audit());
  std::set<uintptr_t> leaves;
  DenseTree::Cursor at;
  for (bool more = f.tree.first(&at); more; more = f.tree.next(&at)) {
    leaves.insert(reinterpret_cast<uintptr_t>(at.nodes[f.tree.height()]));
  }
  EXPECT_EQ(leaves.size(), (kEntries + DenseTree::kLeafCap - 1) / DenseTree::kLeafCap);
  EXPECT_LE(f.tree.blocks(), DenseTree::max_blocks(kEntries));

  // The same keys through an even-splitting tree need far more leaves: the property is real.
  std::vector<unsigned char> storage(8192 * Tree::kBlockSize + 64);
  BlockPool pool;
  pool.init(storage.data(), storage.size(), Tree::kBlockSize);
  Tree even;
  even.reset(&pool);
  for (uint64_t key = 0; key < kEntries; ++key) ASSERT_TRUE(even.insert(key * 8, key));
  EXPECT_GT(even.blocks(), f.tree.blocks() * 3 / 2);
}

// Random inserts, appends and erases against a model: the tree stays ordered and balanced, every
// node off the right edge stays at least half full (audit), and the blocks never exceed
// max_blocks, which the pools that hold such trees are sized by.
TEST(BTreeDenseAppends, ChurnKeepsTheInvariantsAndTheBlockBound) {
  DenseFixture f;
  std::mt19937_64 rng(29);
  std::set<uint64_t> model;
  uint64_t next_append = uint64_t{1} << 40;
  for (int step = 0; step < 200000; ++step) {
    const uint64_t dice = rng() % 10;
    if (dice < 4 || model.size() < 50) {  // append above every key
      next_append += 1 + rng() % 4;
      ASSERT_TRUE(f.tree.insert(next_append, next_append));
      model.insert(next_append);
    } else if (dice < 6) {  // insert anywhere below
      const uint64_t key = rng() % (uint64_t{1} << 40);
      if (model.insert(key).second) {
        ASSERT_TRUE(f.tree.insert(key, key));
      }
    } else {  // erase: the last entry (the right edge's) half the time, else a random one
      DenseTree::Cursor at;
      const bool found = dice < 8 ? f.tree.find_le(~uint64_t{0} - 1, &at) : f.tree.find_le(rng() % next_append, &at);
      if (found) {
        model.erase(f.tree.key(at));
        f.tree.erase(at);
      }
    }
    ASSERT_LE(f.tree.blocks(), DenseTree::max_blocks(f.tree.size())) << "step " << step;
    if (step % 997 == 0) {
      ASSERT_TRUE(f.tree.audit()) << "step " << step;
      ASSERT_EQ(f.tree.size(), model.size());
    }
  }
  ASSERT_TRUE(f.tree.audit());
  std::vector<uint64_t> keys;
  f.tree.for_each([&](uint64_t key, uint64_t) { keys.push_back(key); });
  EXPECT_EQ(keys, std::vector<uint64_t>(model.begin(), model.end()));
  while (!model.empty()) {  // down to an empty root: the blocks all go back
    DenseTree::Cursor at;
    ASSERT_TRUE(f.tree.find_le(*model.rbegin(), &at));
    f.tree.erase(at);
    model.erase(std::prev(model.end()));
  }
  EXPECT_TRUE(f.tree.audit());
  EXPECT_EQ(f.tree.blocks(), 0u);
  EXPECT_EQ(f.pool.in_use(), 0u);
}

// edit_leaves against a model: filters of every density, values changed in place, merges of
// neighbours (within a leaf, across leaves, in long runs), and whole leaves kept, on trees of every
// height from the inline root up; the result is a valid tree holding exactly what was output,
// within max_blocks, with every block it dropped back in the pool.
TEST(BTreeDenseAppends, EditLeavesEditsEveryLeafInOnePass) {
  enum Action { kDrop, kKeep, kPut, kBump, kMerge };
  // What each variant does with the i-th of a leaf's `count` entries, key k, the seen-th entry of
  // the pass (variants 8 and 9 keep whole runs at once).
  auto action_of = [](int variant, uint64_t k, size_t seen, uint32_t i, uint32_t count) {
    switch (variant) {
      case 0: return kDrop;
      case 1: return k % 10 == 0 ? kKeep : kDrop;
      case 2: return k % 2 == 0 ? kPut : kDrop;
      case 4: return seen % 4 == 0 ? kPut : kMerge;
      case 5: return k % 7 == 0 ? kMerge : kKeep;
      case 6: return k % 3 == 0 ? kBump : kKeep;
      case 7: return k % 5 < 3 ? kMerge : kKeep;
      case 8: return i < count / 2 ? kKeep : kDrop;  // the first half stays in place
      default: return i == 0 ? kDrop : kKeep;        // every leaf's entries move down one
    }
  };
  std::mt19937_64 rng(41);
  for (size_t size : {0, 1, 14, 15, 16, 40, 232, 300, 301, 5000, 40000}) {
    for (int variant = 0; variant < 10; ++variant) {
      DenseFixture f;
      std::vector<uint64_t> keys;
      for (size_t i = 0; i < size; ++i) keys.push_back(rng() >> 2);
      std::sort(keys.begin(), keys.end());
      keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
      std::shuffle(keys.begin(), keys.end(), rng);  // random inserts: a tree of mixed fill
      for (uint64_t k : keys) ASSERT_TRUE(f.tree.insert(k, k));
      // The model: what the visitor output, recorded as it goes.
      std::vector<std::pair<uint64_t, uint64_t>> expected;
      size_t seen = 0;
      f.tree.edit_leaves([&](const uint64_t* ks, const uint64_t* vs, uint32_t count, auto& out) {
        if (variant == 3 || variant == 8 || variant == 9) {  // runs at once
          const uint32_t first = variant == 9 && count > 0 ? 1 : 0;
          const uint32_t n = variant == 8 ? count / 2 : count - first;
          CountAndMaxAggregate agg;
          for (uint32_t i = first; i < first + n; ++i) {
            expected.push_back({ks[i], vs[i]});
            agg = DenseTraits::combine(agg, DenseTraits::entry_agg(ks[i], vs[i]));
          }
          if (variant == 3) {
            out.keep(first, n);
          } else {  // with the run's aggregate at hand
            out.keep(first, n, agg);
          }
          return;
        }
        for (uint32_t i = 0; i < count; ++i) {
          const uint64_t k = ks[i];
          const uint64_t v = vs[i];
          Action action = action_of(variant, k, seen++, i, count);
          if (action == kMerge && expected.empty()) action = kKeep;
          if (action == kKeep) {
            expected.push_back({k, v});
            out.keep(i, 1);
          } else if (action == kPut || action == kBump) {
            expected.push_back({k, action == kPut ? v : v + 1});
            out.put(k, expected.back().second);
          } else if (action == kMerge) {
            expected.back().second += v;
            out.amend_last(expected.back().second);
          }
        }
      });
      if (variant == 6) {
        for (auto& [k, v] : expected) EXPECT_EQ(v, k % 3 == 0 ? k + 1 : k);
      }
      ASSERT_TRUE(f.tree.audit()) << size << " variant " << variant;
      std::vector<std::pair<uint64_t, uint64_t>> got;
      f.tree.for_each([&](uint64_t k, uint64_t v) { got.push_back({k, v}); });
      ASSERT_EQ(got, expected) << size << " variant " << variant;
      EXPECT_EQ(f.tree.size(), expected.size());
      // A leaf's worth or less may stay in two leaves, as max_blocks allows for trees that shrank.
      const size_t bound = expected.empty() ? 0 : std::max<size_t>(DenseTree::max_blocks(expected.size()), 2);
      EXPECT_LE(f.tree.blocks(), bound);
      EXPECT_EQ(f.pool.in_use(), f.tree.blocks());
      // The tree goes on working: inserts and erases after the pass keep it valid.
      for (int i = 0; i < 200; ++i) {
        const uint64_t k = rng() >> 2;
        DenseTree::Cursor at;
        if (i % 2 == 0 || !f.tree.find_le(k, &at)) {
          ASSERT_TRUE(f.tree.insert(k | 1, k));
        } else {
          f.tree.erase(at);
        }
      }
      ASSERT_TRUE(f.tree.audit()) << size << " variant " << variant;
    }
  }
}

// erase_range against a model, on even-splitting and dense trees of mixed fill: ranges of every
// width (none, inside one leaf, across many, everything) leave a valid tree with exactly the keys
// outside the range, and the blocks freed go back to the pool.
template <typename Tree>
void check_erase_range(uint64_t seed) {
  std::mt19937_64 rng(seed);
  for (size_t size : {0, 1, 15, 16, 100, 2000, 20000}) {
    for (int round = 0; round < 6; ++round) {
      std::vector<unsigned char> storage(8192 * Tree::kBlockSize + 64);
      BlockPool pool;
      pool.init(storage.data(), storage.size(), Tree::kBlockSize);
      Tree tree;
      tree.reset(&pool);
      std::set<uint64_t> model;
      while (model.size() < size) {
        const uint64_t k = rng() % (size * 16 + 1);
        if (model.insert(k).second) {
          ASSERT_TRUE(tree.insert(k, k));
        }
      }
      const uint64_t span = size * 16 + 1;
      const uint64_t widths[] = {0, 3, 40, span / 10, span / 2, span};
      const uint64_t low = rng() % span;
      const uint64_t high = round == 5 ? ~uint64_t{0} - 1 : low + widths[round];
      const uint64_t from = round == 5 ? 0 : low;
      size_t expected = 0;
      for (auto it = model.lower_bound(from); it != model.end() && *it <= high;) {
        it = model.erase(it);
        ++expected;
      }
      ASSERT_EQ(tree.erase_range(from, high), expected) << size << " round " << round;
      ASSERT_TRUE(tree.audit()) << size << " round " << round;
      std::vector<uint64_t> keys;
      tree.for_each([&](uint64_t k, uint64_t) { keys.push_back(k); });
      ASSERT_EQ(keys, std::vector<uint64_t>(model.begin(), model.end())) << size << " round " << round;
      // A tree that shrank to one leaf's worth may keep two leaves (see max_blocks).
      EXPECT_LE(tree.blocks(), tree.size() > Tree::kLeafCap ? Tree::max_blocks(tree.size()) : 2u);
      EXPECT_EQ(pool.in_use(), tree.blocks());
    }
  }
}
TEST(BTree, EraseRangeRemovesExactlyTheKeysInside) { check_erase_range<Tree>(51); }
TEST(BTreeDenseAppends, EraseRangeRemovesExactlyTheKeysInside) { check_erase_range<DenseTree>(53); }

// count_leaves_where counts leaves by their aggregate and stops at its limit: with one leaf in
// every k holding a marked entry, it finds that many, or the limit.
struct MarkAggregate {
  bool marked = false;
  bool operator==(const MarkAggregate&) const = default;
};
struct MarkTraits : PlainTraits {
  using Agg = MarkAggregate;
  static Agg entry_agg(Key, const Value& v) { return Agg{v == 1}; }
  static Agg combine(const Agg& a, const Agg& b) { return Agg{a.marked || b.marked}; }
  static constexpr bool kDenseFill = true;
};
TEST(BTree, CountLeavesWhereCountsUpToItsLimit) {
  using MarkTree = BTree<MarkTraits>;
  std::vector<unsigned char> storage(4096 * MarkTree::kBlockSize + 64);
  BlockPool pool;
  pool.init(storage.data(), storage.size(), MarkTree::kBlockSize);
  MarkTree tree;
  tree.reset(&pool);
  auto marked = [](const MarkAggregate& a) { return a.marked; };
  EXPECT_EQ(tree.count_leaves_where(marked, 10), 0u);
  ASSERT_TRUE(tree.insert(0, 1));
  EXPECT_EQ(tree.count_leaves_where(marked, 10), 1u);  // the inline root
  EXPECT_EQ(tree.count_leaves_where(marked, 0), 0u);
  // In-order inserts fill leaves of 15: entry i is marked when i is a multiple of 45, so every
  // third leaf holds one.
  for (uint64_t i = 1; i < 15 * 300; ++i) ASSERT_TRUE(tree.insert(i, i % 45 == 0 ? 1 : 0));
  ASSERT_GE(tree.height(), 2u);
  EXPECT_EQ(tree.count_leaves_where(marked, 1000), 100u);
  EXPECT_EQ(tree.count_leaves_where(marked, 37), 37u);
  EXPECT_EQ(tree.count_leaves_where([](const MarkAggregate&) { return true; }, 1000), 300u);
}

}  // namespace
}  // namespace teemm
