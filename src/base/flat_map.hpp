// base/flat_map: a small sorted map in one fixed inline array, with BTree's interface.
//
// Why: a structure that holds tens of entries is dominated by constant costs, not by log n. A
// B+tree's descent, its node upkeep and the aggregates it refreshes on every change cost more
// than scanning and shifting one contiguous array of that size, which the cache and the
// prefetcher serve well. A FlatMap therefore holds a user's entries while they are few (see
// mm/va_allocator, which keeps only its used ranges here and its free ranges in the gaps), with
// BTree's vocabulary, so that code moving between the two reads alike: the same Traits, cursors,
// searches (a find_first scans entries in key order and has no aggregates to prune by), insert and
// erase. Every call is O(kCapacity) at worst, and kCapacity is a compile-time constant.
//
// A key and its value are kept side by side, so that an edit moves the entries after it with one
// memmove (with keys apart, a search would touch fewer bytes, but every edit would take two). Not
// thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace teemm {

template <typename Traits, uint32_t Capacity>
class FlatMap {
 public:
  using Key = typename Traits::Key;
  using Value = typename Traits::Value;
  using Agg = typename Traits::Agg;
  static constexpr uint32_t kCapacity = Capacity;

  // An entry's position; insert and erase invalidate cursors after the position they touch.
  struct Cursor {
    uint32_t index = 0;
  };

  FlatMap() = default;
  FlatMap(const FlatMap&) = delete;
  FlatMap& operator=(const FlatMap&) = delete;

  void clear() { count_ = 0; }
  size_t size() const { return count_; }
  bool empty() const { return count_ == 0; }

  const Key& key(const Cursor& at) const { return slots_[at.index].key; }
  Value& value(const Cursor& at) { return slots_[at.index].value; }
  const Value& value(const Cursor& at) const { return slots_[at.index].value; }

  Agg total() const {
    Agg agg{};
    for (uint32_t i = 0; i < count_; ++i) agg = Traits::combine(agg, Traits::entry_agg(slots_[i].key, slots_[i].value));
    return agg;
  }

  // The last entry whose key is <= `query`; false when there is none.
  bool find_le(const Key& query, Cursor* at) const {
    const uint32_t above = upper_bound(query);
    if (above == 0) return false;
    at->index = above - 1;
    return true;
  }

  // As BTree's: the first entry in key order passing entry_ok (and in_range). agg_ok is accepted
  // for the same call shape; with no subtrees there is nothing for it to prune.
  template <typename AggOk, typename EntryOk>
  bool find_first(AggOk agg_ok, EntryOk entry_ok, Cursor* at) const {
    return find_first_in(
        agg_ok, entry_ok, [](const Key&) { return true; }, at);
  }
  // Entry by entry, stopping at the first match: measured against testing eight entries at a time
  // into a bit mask (one branch per eight), this was as fast or faster, its only hard-to-predict
  // branch being the one that stops it.
  template <typename AggOk, typename EntryOk, typename InRange>
  bool find_first_in(AggOk, EntryOk entry_ok, InRange in_range, Cursor* at) const {
    for (uint32_t i = 0; i < count_; ++i) {
      if (!in_range(slots_[i].key)) return false;
      if (entry_ok(slots_[i].key, slots_[i].value)) {
        at->index = i;
        return true;
      }
    }
    return false;
  }

  bool first(Cursor* at) const {
    at->index = 0;
    return count_ != 0;
  }
  bool next(Cursor* at) const {
    if (at->index + 1 >= count_) return false;
    ++at->index;
    return true;
  }
  bool prev(Cursor* at) const {
    if (at->index == 0) return false;
    --at->index;
    return true;
  }

  template <typename Visitor>
  void for_each(Visitor&& visit) const {
    for (uint32_t i = 0; i < count_; ++i) visit(slots_[i].key, slots_[i].value);
  }

  // Adds an entry after any equal keys; false when the map is full.
  bool insert(const Key& new_key, const Value& new_value) {
    return insert_at(upper_bound(new_key), new_key, new_value);
  }

  // The same when the caller knows the place: right after the entry at `at`, whose key must be
  // below new_key and whose successor's above it (unchecked; audit sees a misplaced key).
  bool insert_after(const Cursor& at, const Key& new_key, const Value& new_value) {
    return insert_at(at.index + 1, new_key, new_value);
  }

  // Removes the entry at `at`. Entries before it stay where they are, so, in BTree's terms,
  // nothing is ever rebalanced: the answer is always false.
  bool erase(const Cursor& at) {
    (void)replace(at, 1, nullptr, nullptr, 0);
    return false;
  }

  // Replaces the `removed` entries from `at` on with the `added` ones given, moving the entries
  // after them once (one memmove), where an erase and inserts would move them once per call. The
  // new keys must keep the order (unchecked; audit sees a misplaced key). False, changing nothing,
  // when the result would not fit.
  bool replace(const Cursor& at, uint32_t removed, const Key* new_keys, const Value* new_values, uint32_t added) {
    if (count_ - removed + added > kCapacity) return false;
    const uint32_t tail_from = at.index + removed;
    const uint32_t tail = count_ - tail_from;
    const uint32_t tail_to = at.index + added;
    if (tail_to != tail_from) {
      __builtin_memmove(&slots_[tail_to], &slots_[tail_from], tail * sizeof(Slot));
    }
    for (uint32_t i = 0; i < added; ++i) {
      slots_[at.index + i].key = new_keys[i];
      slots_[at.index + i].value = new_values[i];
    }
    count_ = count_ - removed + added;
    return true;
  }

  // Keeps the entries keep(key, value) says true for, in order, and closes up over the others, in
  // one pass: O(n), each kept entry moved at most once, and none before the first that goes.
  template <typename Keep>
  void keep_if(Keep keep) {
    uint32_t filled = 0;
    for (uint32_t read = 0; read < count_; ++read) {
      if (!keep(static_cast<const Key&>(slots_[read].key), static_cast<const Value&>(slots_[read].value))) continue;
      if (filled != read) slots_[filled] = slots_[read];
      ++filled;
    }
    count_ = filled;
  }

  // Keys strictly increasing, count within capacity.
  bool audit() const {
    if (count_ > kCapacity) return false;
    for (uint32_t i = 1; i < count_; ++i) {
      if (!Traits::less(slots_[i - 1].key, slots_[i].key)) return false;
    }
    return true;
  }

 private:
  bool insert_at(uint32_t position, const Key& new_key, const Value& new_value) {
    return replace(Cursor{position}, 0, &new_key, &new_value, 1);
  }

  // How many keys are <= query (the insert position after equal keys). Branch-free halving (the
  // select becomes a conditional move, so a random query costs no mispredicted branch per step)
  // down to a few keys, which are then counted: the counts are independent of each other, where
  // each halving step waits for the load the previous one chose.
  uint32_t upper_bound(const Key& query) const {
    uint32_t base = 0;
    uint32_t length = count_;
    for (; length > kCounted; length -= length / 2) {
      base = Traits::less(query, slots_[base + length / 2].key) ? base : base + length / 2;
    }
    // Keys before base are <= query, keys from base + length on are above it.
    uint32_t at_or_below = 0;
    for (uint32_t i = 0; i < length; ++i)
      at_or_below += static_cast<uint32_t>(!Traits::less(query, slots_[base + i].key));
    return base + at_or_below;
  }

  static constexpr uint32_t kCounted = 16;
  static_assert(std::is_trivially_copyable_v<Key> && std::is_trivially_copyable_v<Value>, "moved by memmove");

  uint32_t count_ = 0;
  struct Slot {
    Key key;
    Value value;
  };
  Slot slots_[kCapacity]{};
};

}  // namespace teemm
