// base/btree: one generic augmented B+tree over pool blocks, with its root held inline.
//
// Why a B+tree and not a binary tree: a lookup in a binary tree of a million entries chains some
// 25 dependent loads, most of them cache misses once the tree outgrows the cache, and a
// mispredicted branch at each. Here a node is one 512-byte block: keys packed in cache lines,
// searched by counting (no data-dependent branch), so a million entries sit 5-6 levels deep and
// only the bottom one or two levels miss the cache.
//
// Entries (key, value) live in the leaves; inner nodes hold, per child, its smallest key, its
// augmented aggregate and its address. Keeping the child's smallest key (not a separator) means a
// child never has to be searched to learn whether it can hold a key, and moving a child between
// siblings moves its key with it. Every node but the root holds at least half its capacity, which
// bounds the blocks a given number of entries needs (max_blocks). The root lives inside the tree
// object, so small trees need no block at all.
//
// Traits (all static):
//   Key, Value, Agg             trivially copyable; Agg{} is the identity and Agg has operator==
//                               (Value too, for edit_leaves)
//   kLeafCapacity, kInnerCapacity   entries / children per node, 4..31
//   kMaxKey                     pads unused key slots; no entry's key may equal it
//   bool less(const Key&, const Key&)
//   Agg entry_agg(const Key&, const Value&);  Agg combine(const Agg&, const Agg&)
//   kDenseFill (optional, default false)   see BTree::kDenseFill
//
// Cursors name an entry by the path to it; any insert or erase invalidates them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>

#include "base/block_pool.hpp"

namespace teemm {

template <typename Traits>
constexpr bool dense_fill_of() {
  if constexpr (requires { Traits::kDenseFill; }) {
    return Traits::kDenseFill;
  } else {
    return false;
  }
}

template <typename Traits>
class BTree {
 public:
  using Key = typename Traits::Key;
  using Value = typename Traits::Value;
  using Agg = typename Traits::Agg;
  static constexpr uint32_t kLeafCap = Traits::kLeafCapacity;
  static constexpr uint32_t kInnerCap = Traits::kInnerCapacity;
  static constexpr uint32_t kLeafMin = kLeafCap / 2;
  static constexpr uint32_t kInnerMin = kInnerCap / 2;
  // For trees whose bytes per entry matter more than a few moves on insert. Two rules:
  // - Appends (a key above every other: a first-fit allocator carving its tail, cookies handed out
  //   in order). An even split would leave every leaf behind half empty for good; instead a full
  //   node on the right edge splits off only the new entry (an inner node: its last child and the
  //   new one), so appended entries fill their leaves. The price: nodes on the right edge may hold
  //   less than the minimum (a leaf one entry, an inner node two children); every other node
  //   still holds at least half, and max_blocks counts the difference.
  // - Other inserts into a full leaf first spill into a neighbouring leaf with room (as a B*-tree
  //   does), and split only when both neighbours are full: random keys fill leaves to about 80%
  //   instead of about 70%.
  static constexpr bool kDenseFill = dense_fill_of<Traits>();
  static constexpr size_t kBlockSize = 512;
  // A tree of height h holds at least 2 * kInnerMin^(h-1) * kLeafMin entries: with kInnerMin and
  // kLeafMin >= 7, 12 levels need over 10^10 entries, more than any pool of Nodes addresses. Kept
  // small because cursors are copied on hot paths.
  static constexpr uint32_t kMaxDepth = 12;
  static_assert(kInnerCap / 2 >= 7 && kLeafCap / 2 >= 7, "kMaxDepth relies on these minimum fills");
  static_assert(kLeafCap >= 4 && kLeafCap <= 31 && kInnerCap >= 4 && kInnerCap <= 31, "masks are 32 bits");

  // `count` comes first so that it shares a cache line with the first keys: a search reads both,
  // and a node reached by a cache miss then costs one line fill fewer.
  struct Leaf {
    uint32_t count;
    Key keys[kLeafCap];
    Value values[kLeafCap];
  };
  struct Inner {
    uint32_t count;
    Key keys[kInnerCap];  // smallest key of each child
    Agg aggs[kInnerCap];  // aggregate of each child's subtree
    void* children[kInnerCap];
  };
  static_assert(sizeof(Leaf) <= kBlockSize && sizeof(Inner) <= kBlockSize, "a node must fit one block");

  struct Cursor {
    void* nodes[kMaxDepth + 1];     // nodes[0] is the root, nodes[height] the leaf
    uint32_t index[kMaxDepth + 1];  // child (or, in the leaf, entry) taken at each level
  };

  // The most blocks `entries` entries can ever occupy: every non-root leaf holds kLeafMin
  // entries or more, and every non-root inner node kInnerMin children or more. At kLeafCap
  // entries or fewer, a tree that was larger may still hold two leaves (the root does not shrink
  // back into a leaf until they merge); pools are sized for the most entries they will hold, so
  // those two blocks were counted when that size was.
  static constexpr size_t max_blocks(size_t entries) {
    if (entries <= kLeafCap) return 0;
    if constexpr (kDenseFill) return max_blocks_dense(entries);
    size_t level = entries / kLeafMin;
    size_t total = level;
    while (level > 0) {
      level /= kInnerMin;
      total += level;
    }
    return total;
  }

  BTree() { reset(nullptr); }
  BTree(const BTree&) = delete;
  BTree& operator=(const BTree&) = delete;

  // Forgets every entry; blocks come from `pool` from now on.
  void reset(BlockPool* pool) {
    pool_ = pool;
    height_ = 0;
    count_ = 0;
    blocks_ = 0;
    init_leaf(root_storage_);
  }

  size_t size() const { return count_; }
  bool empty() const { return count_ == 0; }
  size_t blocks() const { return blocks_; }
  uint32_t height() const { return height_; }  // levels of inner nodes above the leaves

  const Key& key(const Cursor& at) const { return leaf(at.nodes[height_])->keys[at.index[height_]]; }
  Value& value(const Cursor& at) { return leaf(at.nodes[height_])->values[at.index[height_]]; }
  const Value& value(const Cursor& at) const { return leaf(at.nodes[height_])->values[at.index[height_]]; }

  // The aggregate over all entries.
  Agg total() const { return height_ == 0 ? leaf_agg(leaf(root())) : inner_agg(inner(root())); }

  // The last entry whose key is <= `query`; false when there is none.
  bool find_le(const Key& query, Cursor* at) const {
    descend(query, at);
    uint32_t& position = at->index[height_];
    if (position == 0) return false;  // only on the leftmost path: every key is above `query`
    --position;
    return true;
  }

  // The first entry in key order for which entry_ok(key, value) holds, visiting only subtrees
  // whose aggregate passes agg_ok (which must hold wherever entry_ok can), and only entries whose
  // key passes in_range (true for a prefix of the key order; e.g. "key <= limit"). Branch-free
  // within a node: each node yields a bit mask of candidates and the lowest is taken; a failed
  // subtree is backtracked out of.
  template <typename AggOk, typename EntryOk>
  bool find_first(AggOk agg_ok, EntryOk entry_ok, Cursor* at) const {
    return find_first_in(
        agg_ok, entry_ok, [](const Key&) { return true; }, at);
  }
  template <typename AggOk, typename EntryOk, typename InRange>
  bool find_first_in(AggOk agg_ok, EntryOk entry_ok, InRange in_range, Cursor* at) const {
    uint32_t level = 0;
    at->nodes[0] = const_cast<unsigned char*>(root_storage_);
    at->index[0] = 0;
    for (;;) {
      uint32_t mask = 0;
      if (level == height_) {
        const Leaf* node = leaf(at->nodes[level]);
        for (uint32_t i = 0; i < kLeafCap; ++i) {
          mask |= static_cast<uint32_t>(entry_ok(node->keys[i], node->values[i])) << i;
        }
        const uint32_t allowed = count_where(node->keys, kLeafCap, node->count, in_range);
        mask &= low_bits(allowed) & ~low_bits(at->index[level]);
        if (mask) {
          at->index[level] = static_cast<uint32_t>(__builtin_ctz(mask));
          return true;
        }
      } else {
        const Inner* node = inner(at->nodes[level]);
        for (uint32_t i = 0; i < kInnerCap; ++i) mask |= static_cast<uint32_t>(agg_ok(node->aggs[i])) << i;
        const uint32_t allowed = count_where(node->keys, kInnerCap, node->count, in_range);
        mask &= low_bits(allowed) & ~low_bits(at->index[level]);
        if (mask) {
          const uint32_t child = static_cast<uint32_t>(__builtin_ctz(mask));
          at->index[level] = child;
          at->nodes[level + 1] = node->children[child];
          at->index[++level] = 0;
          continue;
        }
      }
      if (level == 0) return false;
      ++at->index[--level];
    }
  }

  bool first(Cursor* at) const {
    first_node(at, height_);
    at->index[height_] = 0;
    return count_ != 0;
  }

  bool next(Cursor* at) const {
    if (at->index[height_] + 1 < leaf(at->nodes[height_])->count) {
      ++at->index[height_];
      return true;
    }
    if (!next_node(at, height_)) return false;
    at->index[height_] = 0;
    return true;
  }

  bool prev(Cursor* at) const {
    if (at->index[height_] > 0) {
      --at->index[height_];
      return true;
    }
    uint32_t level = height_;
    do {
      if (level == 0) return false;
      --level;
    } while (at->index[level] == 0);
    --at->index[level];
    for (; level < height_; ++level) {
      at->nodes[level + 1] = inner(at->nodes[level])->children[at->index[level]];
      at->index[level + 1] = count_of(at->nodes[level + 1], level + 1) - 1;
    }
    return true;
  }

  // Visits every entry in key order; visit(const Key&, const Value&).
  template <typename Visitor>
  void for_each(Visitor&& visit) const {
    Cursor at;
    for (bool more = first(&at); more; more = next(&at)) {
      const Leaf* node = leaf(at.nodes[height_]);
      visit(node->keys[at.index[height_]], node->values[at.index[height_]]);
    }
  }

  // Adds an entry after any equal keys. The caller guarantees a block when one is needed
  // (blocks() + max_blocks growth is bounded by max_blocks(size() + 1)); false if none came.
  bool insert(const Key& new_key, const Value& new_value) {
    Cursor at;
    descend(new_key, &at);
    // A split may need a block at every level plus one for a new root.
    if (leaf(at.nodes[height_])->count == kLeafCap && !blocks_for_split(at)) return false;
    void* sibling = nullptr;
    Leaf* node = leaf(at.nodes[height_]);
    uint32_t position = at.index[height_];
    const bool append = kDenseFill && position == node->count && on_right_edge(at);
    if (kDenseFill && node->count == kLeafCap && !append && spill(at, new_key, new_value)) {
      ++count_;
      refresh_from(at, height_ - 1);
      return true;
    }
    if (node->count == kLeafCap) {
      Leaf* right = split_leaf(node, append ? kLeafCap : kLeafCap - kLeafCap / 2);
      sibling = right;
      if (position > node->count || append) {
        position -= node->count;
        node = right;
      }
    }
    leaf_put(node, position, new_key, new_value);
    ++count_;
    uint32_t structure_top = sibling ? height_ : height_ + 1;
    for (uint32_t level = height_; level-- > 0;) {
      Inner* parent = inner(at.nodes[level]);
      const uint32_t slot = at.index[level];
      const bool changed = set_slot(parent, slot, at.nodes[level + 1], level + 1);
      if (sibling) {
        void* upper = nullptr;
        uint32_t where = slot + 1;
        Inner* target = parent;
        if (parent->count == kInnerCap) {
          Inner* right = split_inner(parent, append ? kInnerCap - 1 : kInnerCap - kInnerCap / 2);
          upper = right;
          if (where > parent->count) {
            where -= parent->count;
            target = right;
          }
        }
        inner_put(target, where, sibling, level + 1);
        sibling = upper;
        structure_top = level;
        continue;
      }
      if (!changed && level < structure_top) return true;
    }
    if (sibling) grow_root(sibling);
    return true;
  }

  // Removes the entry at `at`. Returns whether nodes were merged, rebalanced or freed; when not,
  // cursors to entries before `at` stay valid (only later entries of its leaf shift).
  bool erase(Cursor& at) { return erase_run(at, 1); }

  // Removes the `n` entries of one leaf from `at` on (at.index + n <= the leaf's count) with one
  // shift and one rebalance: a run of a leaf costs what one erase does. Returns as erase does.
  bool erase_run(Cursor& at, uint32_t n) {
    Leaf* node = leaf(at.nodes[height_]);
    const uint32_t position = at.index[height_];
    for (uint32_t i = position; i + n < node->count; ++i) {
      node->keys[i] = node->keys[i + n];
      node->values[i] = node->values[i + n];
    }
    for (uint32_t i = node->count - n; i < node->count; ++i) node->keys[i] = Traits::kMaxKey;
    node->count -= n;
    count_ -= n;
    uint32_t structure_top = height_ + 1;
    for (uint32_t level = height_; level > 0; --level) {
      const uint32_t count = count_of(at.nodes[level], level);
      if (count >= (level == height_ ? kLeafMin : kInnerMin)) break;
      if (kDenseFill && on_right_edge(at, level)) {
        if (count >= (level == height_ ? 1u : 2u)) break;  // the right edge's relaxed minimum
        settle_right_edge(at, level);
      } else if (level == height_ && n > 1) {
        refill_leaf(at);
      } else {
        rebalance(at, level);
      }
      structure_top = level - 1;
    }
    refresh_from(at, structure_top);
    if (height_ > 0 && inner(root())->count == 1) shrink_root();
    return structure_top != height_ + 1;
  }

  // Removes every entry whose key lies in [low, high], one leaf's run at a time from the first
  // on: O((k / B + 1) log n) for k entries. Going up, a leaf left short refills from its left,
  // whose entries stay, and leaves wholly inside the range go without moving an entry.
  size_t erase_range(const Key& low, const Key& high) {
    size_t erased = 0;
    Cursor at;
    if (!find_ge(low, &at)) return 0;
    for (;;) {
      const Leaf* node = leaf(at.nodes[height_]);
      const uint32_t first = at.index[height_];
      if (first == node->count) {  // past its leaf's last entry: the next leaf's first
        if (!next_node(&at, height_)) break;
        at.index[height_] = 0;
        continue;
      }
      if (Traits::less(high, node->keys[first])) break;
      if (height_ > 0) prefetch_ahead(at, height_);
      uint32_t end = first + 1;
      while (end < node->count && !Traits::less(high, node->keys[end])) ++end;
      erased += end - first;
      const uint32_t height = height_;
      (void)erase_run(at, end - first);
      // The rebalance kept `at` on the entry after the run, unless the root shrank.
      if (height_ != height && !find_ge(low, &at)) break;
    }
    return erased;
  }

  // The first entry whose key is >= `query`; false when there is none.
  bool find_ge(const Key& query, Cursor* at) const {
    if (!find_le(query, at)) return first(at);  // every key is above `query`, or none exists
    if (Traits::less(key(*at), query)) return next(at);
    for (Cursor back = *at; prev(&back) && !Traits::less(key(back), query);) *at = back;  // equal keys
    return true;
  }

  // How many leaves have an aggregate that passes agg_ok, counted up to `limit`: inner nodes are
  // read only where their aggregate passes, and the count stops at the limit, so the answer costs
  // O(min(limit, the leaves that pass) log n / B) node reads, never the leaves themselves.
  template <typename AggOk>
  size_t count_leaves_where(AggOk agg_ok, size_t limit) const {
    if (height_ == 0) return (count_ > 0 && limit > 0 && agg_ok(leaf_agg(leaf(root())))) ? 1 : 0;
    return count_leaves_below(inner(root()), 0, agg_ok, limit);
  }

  // Edits every leaf in place, in one pass over the leaves and one over each level above them.
  // visit(keys, values, count, out) sees each leaf's entries in key order and says through `out`
  // what the new tree holds in their place: out.keep(first, n) keeps n of them as they are,
  // out.put(key, value) adds one, out.amend_last(value) changes the value of the last entry kept
  // or put, even in a leaf already done. The output must be in strictly increasing key order and
  // never outnumber the entries read so far (a filter, or a merge of neighbours), because it is
  // written into the leaves already read: read an entry before output can reach its slot. An entry
  // that stays where it was costs no store, and an unchanged leaf no more than its reading, so the
  // pass reads O(n) and writes what changes, plus O(blocks / B) above the leaves. A leaf keeps its
  // own entries while it holds the minimum; one left short fills from the next. Only dense-fill
  // trees offer it: the last leaf relies on the right edge's relaxed minimum.
  template <typename Visit>
  void edit_leaves(Visit visit);
  // What edit_leaves' visitor writes through (btree_edit.hpp).
  class LeafWriter;

  // Recomputes aggregates above `at` after the caller changed its value (never its key).
  void refresh(const Cursor& at) { refresh_from(at, height_ + 1); }

  // Checks order, padding, fill, uniform depth, smallest keys and aggregates. O(n).
  bool audit() const {
    size_t entries = 0;
    size_t blocks = 0;
    if (!audit_node(root(), 0, true, &entries, &blocks)) return false;
    return entries == count_ && blocks == blocks_;
  }

 private:
  static constexpr size_t kRootBytes = sizeof(Leaf) > sizeof(Inner) ? sizeof(Leaf) : sizeof(Inner);

  static Leaf* leaf(void* node) { return std::launder(static_cast<Leaf*>(node)); }
  static const Leaf* leaf(const void* node) { return std::launder(static_cast<const Leaf*>(node)); }
  static Inner* inner(void* node) { return std::launder(static_cast<Inner*>(node)); }
  static const Inner* inner(const void* node) { return std::launder(static_cast<const Inner*>(node)); }
  void* root() { return root_storage_; }
  const void* root() const { return root_storage_; }

  // Leaves: all but the right edge's hold kLeafMin or more, so (L - 1) * kLeafMin + 1 <= entries;
  // a level of inner nodes over c children: (I - 1) * kInnerMin + 2 <= c. The root is inline.
  static constexpr size_t max_blocks_dense(size_t entries) {
    size_t level = (entries - 1) / kLeafMin + 1;
    size_t total = 0;
    while (level > 1) {
      total += level;
      level = (level - 2) / kInnerMin + 1;
    }
    return total;
  }

  // The passes of edit_leaves above the leaves (btree_edit.hpp).
  static void summarise_into(Inner* parent, uint32_t slot, const Key& smallest, const Agg& agg);
  static void summarise_into_parent(const Cursor& at, uint32_t level, const Key& smallest, const Agg& agg);
  size_t repack_level(uint32_t level, size_t children);
  void repack_root(size_t children);

  static void seal_inner(Inner* node, uint32_t count) {
    node->count = count;
    for (uint32_t i = count; i < kInnerCap; ++i) {
      node->keys[i] = Traits::kMaxKey;
      node->aggs[i] = Agg{};
    }
  }

  // Passes over every node of a level are bound by memory, not work: the node two ahead (a
  // sibling under the same parent) is requested while this one is read.
  static void prefetch_node(const void* node) {
    const char* bytes = static_cast<const char*>(node);
    for (size_t offset = 0; offset < kBlockSize; offset += 64) __builtin_prefetch(bytes + offset);
  }
  static void prefetch_ahead(const Cursor& at, uint32_t level) {
    const Inner* parent = inner(at.nodes[level - 1]);
    const uint32_t ahead = at.index[level - 1] + 2;
    if (ahead < parent->count) prefetch_node(parent->children[ahead]);
  }

  // The path to the first node of `level`; then the next node of that level, in key order.
  void first_node(Cursor* at, uint32_t level) const {
    at->nodes[0] = const_cast<unsigned char*>(root_storage_);
    for (uint32_t l = 0; l < level; ++l) {
      at->index[l] = 0;
      at->nodes[l + 1] = inner(at->nodes[l])->children[0];
    }
  }
  bool next_node(Cursor* at, uint32_t level) const {
    uint32_t l = level;
    do {
      if (l == 0) return false;
      --l;
    } while (at->index[l] + 1 >= inner(at->nodes[l])->count);
    ++at->index[l];
    for (; l < level; ++l) {
      at->nodes[l + 1] = inner(at->nodes[l])->children[at->index[l]];
      if (l + 1 < level) at->index[l + 1] = 0;
    }
    return true;
  }

  // The leaf at `at` is full: make room by moving some of its entries into a sibling that has
  // room, and put the new entry where it belongs. The path keeps naming the leaf (whose parent
  // slot the caller refreshes); the sibling's slot is refreshed here. False when both are full.
  bool spill(Cursor& at, const Key& new_key, const Value& new_value) {
    if (height_ == 0) return false;
    Inner* parent = inner(at.nodes[height_ - 1]);
    const uint32_t slot = at.index[height_ - 1];
    Leaf* node = leaf(at.nodes[height_]);
    const uint32_t position = at.index[height_];
    if (slot > 0 && leaf(parent->children[slot - 1])->count < kLeafCap) {
      Leaf* left = leaf(parent->children[slot - 1]);
      const uint32_t moved = (kLeafCap - left->count + 1) / 2;
      const uint32_t left_count = left->count;
      move_entries(node, 0, moved, left, left_count, true);
      // position >= 1 here (the leaf is not the first, so the key is not below its first entry).
      if (position < moved) {
        leaf_put(left, left_count + position, new_key, new_value);
      } else {
        leaf_put(node, position - moved, new_key, new_value);
      }
      set_slot(parent, slot - 1, left, height_);
      return true;
    }
    if (slot + 1 < parent->count && leaf(parent->children[slot + 1])->count < kLeafCap) {
      Leaf* right = leaf(parent->children[slot + 1]);
      // A key above all of the leaf's goes to the front of the right one, and nothing moves; else
      // with one slot free there, moved = 1 and the key stays here (position <= kept).
      const uint32_t moved = position == kLeafCap ? 0 : (kLeafCap - right->count + 1) / 2;
      const uint32_t kept = kLeafCap - moved;
      move_entries(node, kept, moved, right, 0, true);
      if (position > kept || position == kLeafCap) {
        leaf_put(right, position - kept, new_key, new_value);
      } else {
        leaf_put(node, position, new_key, new_value);
      }
      set_slot(parent, slot + 1, right, height_);
      return true;
    }
    return false;
  }

  // Whether the path takes the last child at every level above `below`: the node it reaches
  // there is the last of its level.
  bool on_right_edge(const Cursor& at) const { return on_right_edge(at, height_); }
  bool on_right_edge(const Cursor& at, uint32_t below) const {
    for (uint32_t level = 0; level < below; ++level) {
      if (at.index[level] + 1 != inner(at.nodes[level])->count) return false;
    }
    return true;
  }

  static uint32_t low_bits(uint32_t n) { return n >= 32 ? ~0u : (1u << n) - 1; }

  // How many of the first `count` keys are <= query; unused slots hold kMaxKey, so the fixed
  // trip count over all slots needs no branch and the clamp covers query == kMaxKey.
  static uint32_t count_le(const Key* keys, uint32_t capacity, uint32_t count, const Key& query) {
    uint32_t n = 0;
    for (uint32_t i = 0; i < capacity; ++i) n += static_cast<uint32_t>(!Traits::less(query, keys[i]));
    return n < count ? n : count;
  }

  template <typename InRange>
  static uint32_t count_where(const Key* keys, uint32_t capacity, uint32_t count, InRange in_range) {
    uint32_t n = 0;
    for (uint32_t i = 0; i < capacity; ++i) n += static_cast<uint32_t>(in_range(keys[i]));
    return n < count ? n : count;
  }

  static Leaf* init_leaf(void* at) {
    Leaf* node = new (at) Leaf{};
    for (Key& k : node->keys) k = Traits::kMaxKey;
    return node;
  }
  static Inner* init_inner(void* at) {
    Inner* node = new (at) Inner{};
    for (Key& k : node->keys) k = Traits::kMaxKey;
    return node;
  }

  uint32_t count_of(const void* node, uint32_t level) const {
    return level == height_ ? leaf(node)->count : inner(node)->count;
  }
  const Key& min_key(const void* node, uint32_t level) const {
    return level == height_ ? leaf(node)->keys[0] : inner(node)->keys[0];
  }
  static Agg leaf_agg(const Leaf* node) {
    Agg agg{};
    for (uint32_t i = 0; i < node->count; ++i)
      agg = Traits::combine(agg, Traits::entry_agg(node->keys[i], node->values[i]));
    return agg;
  }
  static Agg inner_agg(const Inner* node) {
    Agg agg{};
    for (uint32_t i = 0; i < node->count; ++i) agg = Traits::combine(agg, node->aggs[i]);
    return agg;
  }
  Agg agg_of(const void* node, uint32_t level) const {
    return level == height_ ? leaf_agg(leaf(node)) : inner_agg(inner(node));
  }
  static bool same_key(const Key& a, const Key& b) { return !Traits::less(a, b) && !Traits::less(b, a); }

  // Stores child's smallest key and aggregate in parent's slot; true when either changed.
  bool set_slot(Inner* parent, uint32_t slot, const void* child, uint32_t child_level) const {
    const Key& smallest = min_key(child, child_level);
    const Agg agg = agg_of(child, child_level);
    const bool changed = !same_key(parent->keys[slot], smallest) || !(parent->aggs[slot] == agg);
    parent->keys[slot] = smallest;
    parent->aggs[slot] = agg;
    return changed;
  }

  // Fills `at` with the path to where `query` would be inserted (after equal keys).
  void descend(const Key& query, Cursor* at) const {
    const void* node = root();
    for (uint32_t level = 0; level < height_; ++level) {
      const Inner* in = inner(node);
      const uint32_t n = count_le(in->keys, kInnerCap, in->count, query);
      const uint32_t child = n ? n - 1 : 0;
      at->nodes[level] = const_cast<void*>(node);
      at->index[level] = child;
      node = in->children[child];
    }
    const Leaf* lf = leaf(node);
    at->nodes[height_] = const_cast<void*>(node);
    at->index[height_] = count_le(lf->keys, kLeafCap, lf->count, query);
  }

  // Recomputes parent slots along the path, bottom up. Nodes at levels >= structure_top changed
  // only through their path slot, so once a slot comes out unchanged above that, nothing higher
  // can change.
  void refresh_from(const Cursor& at, uint32_t structure_top) {
    for (uint32_t level = height_; level-- > 0;) {
      const bool changed = set_slot(inner(at.nodes[level]), at.index[level], at.nodes[level + 1], level + 1);
      if (!changed && level < structure_top) return;
    }
  }

  // Leaves come from the pool's low end and inner nodes from its high end (see PoolEnd).
  static PoolEnd end_for(bool is_leaf) { return is_leaf ? PoolEnd::kLow : PoolEnd::kHigh; }
  void* new_block(bool is_leaf) {
    void* block = pool_->take(end_for(is_leaf));
    if (block) ++blocks_;
    return block;
  }
  void free_block(void* block, bool is_leaf) {
    pool_->give(block, end_for(is_leaf));
    --blocks_;
  }

  // True when the pool can serve every split this insert may cause (counted along the path).
  bool blocks_for_split(const Cursor& at) const {
    size_t needed = 1;
    for (uint32_t level = height_; level-- > 0;) {
      if (inner(at.nodes[level])->count < kInnerCap) return pool_->capacity() - pool_->in_use() >= needed;
      ++needed;
    }
    return pool_->capacity() - pool_->in_use() >= needed + 1;  // the root splits too
  }

  static void leaf_put(Leaf* node, uint32_t position, const Key& k, const Value& v) {
    for (uint32_t i = node->count; i > position; --i) {
      node->keys[i] = node->keys[i - 1];
      node->values[i] = node->values[i - 1];
    }
    node->keys[position] = k;
    node->values[position] = v;
    ++node->count;
  }
  void inner_put(Inner* node, uint32_t position, void* child, uint32_t child_level) {
    for (uint32_t i = node->count; i > position; --i) {
      node->keys[i] = node->keys[i - 1];
      node->aggs[i] = node->aggs[i - 1];
      node->children[i] = node->children[i - 1];
    }
    node->children[position] = child;
    ++node->count;
    set_slot(node, position, child, child_level);
  }
  static void inner_remove(Inner* node, uint32_t position) {
    for (uint32_t i = position; i + 1 < node->count; ++i) {
      node->keys[i] = node->keys[i + 1];
      node->aggs[i] = node->aggs[i + 1];
      node->children[i] = node->children[i + 1];
    }
    --node->count;
    node->keys[node->count] = Traits::kMaxKey;
    node->aggs[node->count] = Agg{};
  }

  // Moves the entries from `keep` on of a full node into a new block (the upper half, or none at
  // all for a dense append).
  Leaf* split_leaf(Leaf* node, uint32_t keep) {
    Leaf* right = init_leaf(new_block(true));
    for (uint32_t i = keep; i < kLeafCap; ++i) {
      right->keys[i - keep] = node->keys[i];
      right->values[i - keep] = node->values[i];
      node->keys[i] = Traits::kMaxKey;
    }
    right->count = kLeafCap - keep;
    node->count = keep;
    return right;
  }
  Inner* split_inner(Inner* node, uint32_t keep) {
    Inner* right = init_inner(new_block(false));
    for (uint32_t i = keep; i < kInnerCap; ++i) {
      right->keys[i - keep] = node->keys[i];
      right->aggs[i - keep] = node->aggs[i];
      right->children[i - keep] = node->children[i];
      node->keys[i] = Traits::kMaxKey;
      node->aggs[i] = Agg{};
    }
    right->count = kInnerCap - keep;
    node->count = keep;
    return right;
  }

  // The root (holding the lower half after a split) moves to a block and becomes the first of
  // two children of a new inline root.
  void grow_root(void* sibling) {
    void* lower = new_block(height_ == 0);
    if (height_ == 0) {
      *init_leaf(lower) = *leaf(root());
    } else {
      *init_inner(lower) = *inner(root());
    }
    ++height_;
    Inner* top = init_inner(root_storage_);
    inner_put(top, 0, lower, 1);
    inner_put(top, 1, sibling, 1);
  }

  // The root has one child: that child becomes the root and its block goes back.
  void shrink_root() {
    void* only = inner(root())->children[0];
    --height_;
    if (height_ == 0) {
      const Leaf copy = *leaf(only);
      *init_leaf(root_storage_) = copy;
    } else {
      const Inner copy = *inner(only);
      *init_inner(root_storage_) = copy;
    }
    free_block(only, height_ == 0);
  }

  // The node at `level` on the path fell below its minimum: borrow an entry from a sibling
  // that can spare one, or else merge with a sibling (the parent loses a child). Afterwards the
  // path names the surviving node.
  void rebalance(Cursor& at, uint32_t level) {
    const Inner* parent = inner(at.nodes[level - 1]);
    const uint32_t slot = at.index[level - 1];
    const uint32_t minimum = level == height_ ? kLeafMin : kInnerMin;
    if (slot > 0 && count_of(parent->children[slot - 1], level) > minimum) return borrow_from_left(at, level);
    if (slot + 1 < parent->count && count_of(parent->children[slot + 1], level) > minimum) {
      return borrow_from_right(at, level);
    }
    if (slot > 0) return merge_into_left(at, level);
    merge_right_in(at, level);
  }

  template <typename AggOk>
  size_t count_leaves_below(const Inner* node, uint32_t level, AggOk& agg_ok, size_t limit) const {
    size_t found = 0;
    for (uint32_t i = 0; i < node->count && found < limit; ++i) {
      if (!agg_ok(node->aggs[i])) continue;
      found +=
          level + 1 == height_ ? 1 : count_leaves_below(inner(node->children[i]), level + 1, agg_ok, limit - found);
    }
    return found;
  }

  // A leaf a run left short of its minimum (perhaps empty): it joins a sibling when both fit one
  // leaf, else they share evenly, which leaves both at least half full (together they exceed a
  // leaf). A single erase's rebalance may borrow one entry only, which a run cannot.
  void refill_leaf(Cursor& at) {
    const Inner* parent = inner(at.nodes[height_ - 1]);
    const uint32_t slot = at.index[height_ - 1];
    const uint32_t count = count_of(at.nodes[height_], height_);
    if (slot > 0) {
      if (count_of(parent->children[slot - 1], height_) + count <= kLeafCap) return merge_into_left(at, height_);
      return borrow_from_left(at, height_);
    }
    const uint32_t right = count_of(parent->children[slot + 1], height_);
    if (right + count <= kLeafCap) {  // the fewer entries move: an emptied leaf moves none
      return count <= right ? merge_into_right(at, height_) : merge_right_in(at, height_);
    }
    borrow_from_right(at, height_);
  }

  // The leaf at `at` joins the front of its right sibling and goes; `at` follows its entries.
  void merge_into_right(Cursor& at, uint32_t level) {
    Inner* parent = inner(at.nodes[level - 1]);
    const uint32_t slot = at.index[level - 1];
    void* node = at.nodes[level];
    void* right = parent->children[slot + 1];
    move_entries(node, 0, count_of(node, level), right, 0, true);
    at.nodes[level] = right;
    inner_remove(parent, slot);  // the right sibling now sits at `slot`
    free_block(node, true);
  }

  // A dense tree's right-edge node fell below even its relaxed minimum (an empty leaf, an inner
  // node with one child). It is its parent's last child, so a left sibling exists: join it when
  // both fit one node, else take one from it (it is then full, so it can spare one).
  void settle_right_edge(Cursor& at, uint32_t level) {
    const Inner* parent = inner(at.nodes[level - 1]);
    const uint32_t slot = at.index[level - 1];
    const uint32_t capacity = level == height_ ? kLeafCap : kInnerCap;
    const void* left = parent->children[slot - 1];
    if (count_of(left, level) + count_of(at.nodes[level], level) <= capacity) return merge_into_left(at, level);
    borrow_from_left(at, level);
  }

  // A borrow evens the two nodes out (half the difference moves, at least one entry), so that a
  // run of erases from one node, as a teardown makes, borrows once every few erases, not at each.
  uint32_t share(const void* from, const void* to, uint32_t level) const {
    const uint32_t difference = count_of(from, level) - count_of(to, level);
    return difference / 2 > 1 ? difference / 2 : 1;
  }
  void borrow_from_left(Cursor& at, uint32_t level) {
    Inner* parent = inner(at.nodes[level - 1]);
    const uint32_t slot = at.index[level - 1];
    void* left = parent->children[slot - 1];
    const uint32_t n = share(left, at.nodes[level], level);
    move_entries(left, count_of(left, level) - n, n, at.nodes[level], 0, level == height_);
    at.index[level] += n;
    set_slot(parent, slot - 1, left, level);
  }
  void borrow_from_right(Cursor& at, uint32_t level) {
    Inner* parent = inner(at.nodes[level - 1]);
    const uint32_t slot = at.index[level - 1];
    void* right = parent->children[slot + 1];
    const uint32_t n = share(right, at.nodes[level], level);
    move_entries(right, 0, n, at.nodes[level], count_of(at.nodes[level], level), level == height_);
    set_slot(parent, slot + 1, right, level);
  }
  void merge_into_left(Cursor& at, uint32_t level) {
    Inner* parent = inner(at.nodes[level - 1]);
    const uint32_t slot = at.index[level - 1];
    const bool is_leaf = level == height_;
    void* node = at.nodes[level];
    void* left = parent->children[slot - 1];
    const uint32_t offset = count_of(left, level);
    move_entries(node, 0, count_of(node, level), left, offset, is_leaf);
    at.nodes[level] = left;
    at.index[level] += offset;
    inner_remove(parent, slot);
    at.index[level - 1] = slot - 1;
    free_block(node, is_leaf);
  }
  void merge_right_in(Cursor& at, uint32_t level) {
    Inner* parent = inner(at.nodes[level - 1]);
    const uint32_t slot = at.index[level - 1];
    const bool is_leaf = level == height_;
    void* node = at.nodes[level];
    void* right = parent->children[slot + 1];
    move_entries(right, 0, count_of(right, level), node, count_of(node, level), is_leaf);
    inner_remove(parent, slot + 1);
    free_block(right, is_leaf);
  }

  // Moves `n` entries (or children) from position `from` of `source` to position `to` of
  // `target`, opening and closing gaps.
  static void move_entries(void* source, uint32_t from, uint32_t n, void* target, uint32_t to, bool is_leaf) {
    if (is_leaf) {
      Leaf* s = leaf(source);
      Leaf* t = leaf(target);
      for (uint32_t i = 0; i < n; ++i) leaf_put(t, to + i, s->keys[from + i], s->values[from + i]);
      for (uint32_t i = from; i + n < s->count; ++i) {
        s->keys[i] = s->keys[i + n];
        s->values[i] = s->values[i + n];
      }
      for (uint32_t i = s->count - n; i < s->count; ++i) s->keys[i] = Traits::kMaxKey;
      s->count -= n;
    } else {
      Inner* s = inner(source);
      Inner* t = inner(target);
      for (uint32_t i = 0; i < n; ++i) {
        for (uint32_t j = t->count; j > to + i; --j) {
          t->keys[j] = t->keys[j - 1];
          t->aggs[j] = t->aggs[j - 1];
          t->children[j] = t->children[j - 1];
        }
        t->keys[to + i] = s->keys[from + i];
        t->aggs[to + i] = s->aggs[from + i];
        t->children[to + i] = s->children[from + i];
        ++t->count;
      }
      for (uint32_t i = from; i + n < s->count; ++i) {
        s->keys[i] = s->keys[i + n];
        s->aggs[i] = s->aggs[i + n];
        s->children[i] = s->children[i + n];
      }
      for (uint32_t i = s->count - n; i < s->count; ++i) {
        s->keys[i] = Traits::kMaxKey;
        s->aggs[i] = Agg{};
      }
      s->count -= n;
    }
  }

  bool audit_node(const void* node, uint32_t level, bool right_edge, size_t* entries, size_t* blocks) const {
    const bool is_root = level == 0;
    const bool relaxed = kDenseFill && right_edge;
    if (level == height_) {
      const Leaf* lf = leaf(node);
      if (lf->count > kLeafCap || (!is_root && lf->count < (relaxed ? 1 : kLeafMin))) return false;
      for (uint32_t i = 0; i < kLeafCap; ++i) {
        if (i >= lf->count && !same_key(lf->keys[i], Traits::kMaxKey)) return false;
        if (i > 0 && i < lf->count && !Traits::less(lf->keys[i - 1], lf->keys[i])) return false;
      }
      *entries += lf->count;
      return true;
    }
    const Inner* in = inner(node);
    if (in->count > kInnerCap || in->count < (is_root || relaxed ? 2 : kInnerMin)) return false;
    for (uint32_t i = 0; i < kInnerCap; ++i) {
      if (i >= in->count) {
        if (!same_key(in->keys[i], Traits::kMaxKey)) return false;
        continue;
      }
      const void* child = in->children[i];
      ++*blocks;
      if (!audit_node(child, level + 1, right_edge && i + 1 == in->count, entries, blocks)) return false;
      if (!same_key(in->keys[i], min_key(child, level + 1)) || !(in->aggs[i] == agg_of(child, level + 1))) return false;
      if (i > 0 && !Traits::less(in->keys[i - 1], in->keys[i])) return false;
    }
    return true;
  }

  BlockPool* pool_ = nullptr;
  uint32_t height_ = 0;  // levels of inner nodes above the leaves
  size_t count_ = 0;
  size_t blocks_ = 0;
  alignas(64) unsigned char root_storage_[kRootBytes];
};

}  // namespace teemm

#include "base/btree_edit.hpp"  // IWYU pragma: export
