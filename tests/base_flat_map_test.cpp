// base/flat_map against std::map: the same answers as BTree gives for the calls its users make.
#include "base/flat_map.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <iterator>
#include <map>
#include <random>
#include <utility>
#include <vector>

namespace teemm {
namespace {

struct SumAggregate {
  uint64_t sum = 0;
  bool operator==(const SumAggregate&) const = default;
};

struct Traits {
  using Key = uint64_t;
  using Value = uint64_t;
  using Agg = SumAggregate;
  static bool less(Key a, Key b) { return a < b; }
  static Agg entry_agg(Key, const Value& value) { return Agg{value}; }
  static Agg combine(const Agg& a, const Agg& b) { return Agg{a.sum + b.sum}; }
};
using Map = FlatMap<Traits, 48>;

// The map passes its audit and holds exactly the model's (key, value) pairs, in order.
template <typename Model>
::testing::AssertionResult holds_exactly(const Map& map, const Model& model) {
  if (!map.audit()) return ::testing::AssertionFailure() << "audit fails";
  if (map.size() != model.size())
    return ::testing::AssertionFailure() << map.size() << " entries against " << model.size();
  auto it = model.begin();
  bool same = true;
  map.for_each([&](uint64_t k, uint64_t v) {
    same = same && k == it->first && v == it->second;
    ++it;
  });
  if (!same) return ::testing::AssertionFailure() << "the entries differ";
  return ::testing::AssertionSuccess();
}

TEST(FlatMap, RefusesAnInsertWhenFullAndChangesNothing) {
  Map map;
  for (uint64_t k = 0; k < Map::kCapacity; ++k) ASSERT_TRUE(map.insert(k * 2, k));
  EXPECT_FALSE(map.insert(7, 7));
  Map::Cursor at;
  ASSERT_TRUE(map.first(&at));
  EXPECT_FALSE(map.insert_after(at, 1, 1));
  EXPECT_EQ(map.size(), Map::kCapacity);
  EXPECT_TRUE(map.audit());
  ASSERT_TRUE(map.find_le(7, &at));
  EXPECT_EQ(map.key(at), 6u);
}

// Random inserts (some through insert_after), erases and searches against a std::map.
TEST(FlatMap, AgreesWithAStdMap) {
  std::mt19937_64 rng(3);
  Map map;
  std::map<uint64_t, uint64_t> model;
  auto below = [&](uint64_t bound) { return rng() % bound; };
  for (int step = 0; step < 100000; ++step) {
    const uint64_t op = below(10);
    const uint64_t key = below(200);
    Map::Cursor at;
    if (op < 4) {
      const bool room = model.size() < Map::kCapacity;
      if (model.count(key)) continue;
      // Through insert_after when the key's predecessor is known and the next key is above it.
      const bool hinted = map.find_le(key, &at) && below(2) == 0;
      ASSERT_EQ(hinted ? map.insert_after(at, key, key * 3) : map.insert(key, key * 3), room);
      if (room) model[key] = key * 3;
    } else if (op < 7) {
      if (map.find_le(key, &at)) {
        model.erase(map.key(at));
        EXPECT_FALSE(map.erase(at));  // never "rebalanced": cursors before it stay valid
      }
    } else if (op < 9) {
      const auto it = model.upper_bound(key);
      const bool found = map.find_le(key, &at);
      ASSERT_EQ(found, it != model.begin());
      if (found) {
        ASSERT_EQ(map.key(at), std::prev(it)->first);
        ASSERT_EQ(map.value(at), std::prev(it)->second);
        Map::Cursor next = at;
        const bool has_next = map.next(&next);
        ASSERT_EQ(has_next, it != model.end());
        if (has_next) {
          ASSERT_EQ(map.key(next), it->first);
        }
        Map::Cursor prev = at;
        const bool has_prev = map.prev(&prev);
        ASSERT_EQ(has_prev, std::prev(it) != model.begin());
        if (has_prev) {
          ASSERT_EQ(map.key(prev), std::prev(std::prev(it))->first);
        }
      }
    } else {
      // The first key divisible by `d` and below `limit`: find_first_in with a range.
      const uint64_t d = 2 + below(9);
      const uint64_t limit = below(220);
      uint64_t expected = ~uint64_t{0};
      for (const auto& [k, v] : model) {
        if (k >= limit) break;
        if (k % d == 0) {
          expected = k;
          break;
        }
      }
      const bool found =
          map.find_first_in([](const SumAggregate&) { return true; }, [d](uint64_t k, uint64_t) { return k % d == 0; },
                            [limit](uint64_t k) { return k < limit; }, &at);
      ASSERT_EQ(found, expected != ~uint64_t{0}) << "step " << step;
      if (found) {
        ASSERT_EQ(map.key(at), expected);
      }
    }
    ASSERT_TRUE(map.audit());
    ASSERT_EQ(map.size(), model.size());
  }
  uint64_t sum = 0;
  for (const auto& [k, v] : model) sum += v;
  EXPECT_EQ(map.total().sum, sum);
  auto it = model.begin();
  map.for_each([&](uint64_t k, uint64_t v) {
    ASSERT_NE(it, model.end());
    EXPECT_EQ(k, it->first);
    EXPECT_EQ(v, it->second);
    ++it;
  });
  EXPECT_EQ(it, model.end());
}

// replace() against the same edit on a std::map: a run of 1-3 entries becomes 1-3 entries with
// keys between the run's neighbours, the entries after it moving either way; refused, changing
// nothing, when the result would not fit.
TEST(FlatMap, ReplaceAgreesWithAStdMap) {
  std::mt19937_64 rng(5);
  Map map;
  std::map<uint64_t, uint64_t> model;
  auto below = [&](uint64_t bound) { return rng() % bound; };
  for (int step = 0; step < 100000; ++step) {
    if (model.size() < 3 || (below(3) == 0 && model.size() < Map::kCapacity)) {
      const uint64_t key = below(1000) * 8;  // room between keys for replacements
      if (model.count(key)) continue;
      ASSERT_TRUE(map.insert(key, key));
      model[key] = key;
      continue;
    }
    // The run: `removed` entries from a random position.
    const uint32_t removed = 1 + static_cast<uint32_t>(below(3));
    const size_t first = below(model.size() - removed + 1);
    auto run = std::next(model.begin(), static_cast<std::ptrdiff_t>(first));
    const uint64_t low = run == model.begin() ? 0 : std::prev(run)->first + 1;
    auto after = std::next(run, removed);
    const uint64_t high = after == model.end() ? 9000 : after->first;  // keys in [low, high)
    const uint32_t added = 1 + static_cast<uint32_t>(below(3));
    if (high - low < added) continue;
    uint64_t keys[3];
    uint64_t values[3];
    for (uint32_t i = 0; i < added; ++i) {
      keys[i] = low + i * ((high - low) / added);
      values[i] = step + i;
    }
    const bool fits = model.size() - removed + added <= Map::kCapacity;
    ASSERT_EQ(map.replace(Map::Cursor{static_cast<uint32_t>(first)}, removed, keys, values, added), fits)
        << "step " << step;
    if (fits) {
      model.erase(run, after);
      for (uint32_t i = 0; i < added; ++i) model[keys[i]] = values[i];
    }
    ASSERT_TRUE(holds_exactly(map, model)) << "step " << step;
  }
}

// keep_if against the same choices applied to a copy: it sees every entry once, in order, and
// keeps exactly those it said yes to.
TEST(FlatMap, KeepIfAgreesWithAModel) {
  std::mt19937_64 rng(11);
  auto below = [&](uint64_t bound) { return rng() % bound; };
  for (int round = 0; round < 2000; ++round) {
    Map map;
    std::vector<std::pair<uint64_t, uint64_t>> before;
    const uint64_t entries = below(Map::kCapacity + 1);
    for (uint64_t k = 0; k < entries; ++k) {
      ASSERT_TRUE(map.insert(k * 8 + 8, k));
      before.emplace_back(k * 8 + 8, k);
    }
    std::vector<std::pair<uint64_t, uint64_t>> model;
    size_t read = 0;
    const uint64_t keep_share = below(5);  // from keeping none to keeping most
    map.keep_if([&](uint64_t key, uint64_t value) {
      EXPECT_EQ(key, before[read].first);
      EXPECT_EQ(value, before[read].second);
      ++read;
      const bool keep = below(4) < keep_share;
      if (keep) model.emplace_back(key, value);
      return keep;
    });
    ASSERT_EQ(read, before.size());
    ASSERT_TRUE(holds_exactly(map, model)) << "round " << round;
  }
}

}  // namespace
}  // namespace teemm
