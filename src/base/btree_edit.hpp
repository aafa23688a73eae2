// base/btree_edit: BTree's whole-tree pass, edit_leaves: the writer that edits each leaf in place,
// and the repacking of the levels above. Included by btree.hpp only, after the class it defines
// these members of.
#pragma once

namespace teemm {

template <typename Traits>
template <typename Visit>
void BTree<Traits>::edit_leaves(Visit visit) {
  static_assert(kDenseFill, "the last leaf relies on the right edge's relaxed minimum");
  Cursor read;
  first_node(&read, height_);
  LeafWriter out(*this, read);
  for (bool more = true; more;) {
    if (height_ > 0) prefetch_ahead(read, height_);
    const Leaf* source = leaf(read.nodes[height_]);
    out.begin_leaf(source);
    visit(static_cast<const Key*>(source->keys), static_cast<const Value*>(source->values), source->count, out);
    out.end_leaf();
    more = next_node(&read, height_);
  }
  out.finish(leaf(read.nodes[height_]));
  count_ = out.entries_;
  if (height_ == 0) return;
  size_t nodes = out.leaves_;
  for (uint32_t level = height_; level-- > 1;) nodes = repack_level(level, nodes);
  repack_root(nodes);
}

// edit_leaves' output, written from the first leaf on. While the write leaf is the leaf being
// read (aligned, the usual case), it is named by the read cursor; a short leaf that fills from
// the next ones gets a cursor of its own until it closes. Kept entries that stay in place do not
// move and a put equal to what is there is not stored; a leaf changed is summarised into its
// parent's slot, from the aggregate of its output where every part of it came with one.
template <typename Traits>
class BTree<Traits>::LeafWriter {
 public:
  void keep(uint32_t first, uint32_t n) {
    Agg agg{};
    for (uint32_t i = 0; i < n; ++i)
      agg = Traits::combine(agg, Traits::entry_agg(source_->keys[first + i], source_->values[first + i]));
    keep(first, n, agg);
  }
  // The same, with the aggregate of those n entries, for a caller that has it at hand.
  void keep(uint32_t first, uint32_t n, const Agg& agg_of_run) {
    if (n == 0) return;
    entries_ += n;
    if (target_ == source_ && filled_ == first) {  // in place
      agg_ = Traits::combine(agg_, agg_of_run);
      filled_ += n;
      last_ = Slot{target_, filled_ - 1};
      return;
    }
    if (filled_ == kLeafCap) advance();
    agg_ = Traits::combine(agg_, agg_of_run);
    if (n > kLeafCap - filled_) agg_known_ = false;  // the run spans two leaves
    while (n > 0) {
      if (filled_ == kLeafCap) {
        advance();
        agg_known_ = false;
      }
      const uint32_t room = kLeafCap - filled_;
      const uint32_t m = n < room ? n : room;
      // Ascending: in one leaf the write position is below the read one.
      for (uint32_t i = 0; i < m; ++i) {
        target_->keys[filled_ + i] = source_->keys[first + i];
        target_->values[filled_ + i] = source_->values[first + i];
      }
      filled_ += m;
      first += m;
      n -= m;
      dirty_ = true;
    }
    last_ = Slot{target_, filled_ - 1};
  }
  void put(const Key& k, const Value& v) {
    if (filled_ == kLeafCap) advance();
    if (!same_key(target_->keys[filled_], k) || !(target_->values[filled_] == v)) {
      target_->keys[filled_] = k;
      target_->values[filled_] = v;
      dirty_ = true;
    }
    agg_ = Traits::combine(agg_, Traits::entry_agg(k, v));
    last_ = Slot{target_, filled_};
    ++filled_;
    ++entries_;
  }
  void amend_last(const Value& v) {
    Value& value = last_.node->values[last_.index];
    if (value == v) return;
    value = v;
    if (last_.node == target_) {  // what it replaced may have counted in the aggregate
      dirty_ = true;
      agg_known_ = false;
    } else {  // a leaf already sealed: its slot above is summarised again
      summarise_into(sealed_above_.parent, sealed_above_.slot, last_.node->keys[0], leaf_agg(last_.node));
    }
  }

 private:
  friend class BTree;
  struct Slot {
    Leaf* node;
    uint32_t index;
  };
  struct Above {
    Inner* parent;
    uint32_t slot;
  };

  LeafWriter(BTree& tree, const Cursor& read) : tree_(tree), read_(read) {}

  void begin_leaf(const Leaf* source) {
    source_ = source;
    if (aligned_) start(const_cast<Leaf*>(source));
  }
  // The leaf just read is done. An aligned write leaf closes if it holds the minimum; a short
  // one stays open for the next leaves. An open one closes once it holds the minimum, and the
  // leaves after it, up to this one, were emptied into it and go.
  void end_leaf() {
    if (filled_ < kLeafMin) {
      if (aligned_) {
        write_ = read_;
        aligned_ = false;
      }
      return;
    }
    if (aligned_) {
      seal(above(read_));
      return;
    }
    close_open_leaf(source_);
  }
  // After the last leaf: a write leaf still open closes, short or not (the right edge).
  void finish(const Leaf* last_read) {
    if (!aligned_) close_open_leaf(last_read);
  }

  void close_open_leaf(const Leaf* last_read) {
    const uint32_t height = tree_.height_;
    Cursor past = write_;
    if (filled_ > 0 || leaves_ == 0) {
      seal(above(write_));
    } else {
      drop(write_);
    }
    while (past.nodes[height] != last_read) {
      (void)tree_.next_node(&past, height);
      drop(past);
    }
    aligned_ = true;
  }
  // The open write leaf filled up while the read is further on: the next one takes over.
  void advance() {
    seal(above(write_));
    (void)tree_.next_node(&write_, tree_.height_);  // exists: the write never passes the read
    start(leaf(write_.nodes[tree_.height_]));
  }
  void start(Leaf* target) {
    target_ = target;
    filled_ = 0;
    dirty_ = false;
    agg_ = Agg{};
    agg_known_ = true;
  }
  Above above(const Cursor& at) const {
    const uint32_t height = tree_.height_;
    return height == 0 ? Above{nullptr, 0} : Above{inner(at.nodes[height - 1]), at.index[height - 1]};
  }
  void seal(const Above& slot) {
    Leaf* node = target_;
    if (filled_ != node->count) dirty_ = true;
    for (uint32_t i = filled_; i < node->count; ++i) node->keys[i] = Traits::kMaxKey;
    node->count = filled_;
    ++leaves_;
    if (!slot.parent) return;  // the root leaf
    if (last_.node == node) sealed_above_ = slot;
    if (!dirty_) return;
    summarise_into(slot.parent, slot.slot, node->keys[0], agg_known_ ? agg_ : leaf_agg(node));
  }
  // A leaf the pass left empty: its parent's slot is cleared for repack_level to pass over.
  void drop(const Cursor& at) {
    const uint32_t height = tree_.height_;
    inner(at.nodes[height - 1])->children[at.index[height - 1]] = nullptr;
    tree_.free_block(at.nodes[height], true);
  }

  BTree& tree_;
  const Cursor& read_;
  Cursor write_;  // the open write leaf's, while not aligned
  bool aligned_ = true;
  Leaf* target_ = nullptr;
  const Leaf* source_ = nullptr;
  uint32_t filled_ = 0;
  bool dirty_ = false;
  Agg agg_{};              // of the output in target_ so far
  bool agg_known_ = true;  // false when agg_ may miss a change
  Slot last_{nullptr, 0};
  Above sealed_above_{nullptr, 0};  // the slot above the sealed leaf that holds last_
  size_t entries_ = 0;
  size_t leaves_ = 0;
};

// A repacked node's smallest key and aggregate, stored in the slot its old parent has for that
// position: the pass over the level above reads them there instead of reading the node again.
// The passes below only follow counts and children, which this leaves alone.
template <typename Traits>
void BTree<Traits>::summarise_into(Inner* parent, uint32_t slot, const Key& smallest, const Agg& agg) {
  parent->keys[slot] = smallest;
  parent->aggs[slot] = agg;
}
template <typename Traits>
void BTree<Traits>::summarise_into_parent(const Cursor& at, uint32_t level, const Key& smallest, const Agg& agg) {
  summarise_into(inner(at.nodes[level - 1]), at.index[level - 1], smallest, agg);
}

// Packs the first `children` nodes of level + 1 (in order, passing over cleared slots) into the
// nodes of `level`, full from the first on; frees the nodes of `level` left over. A last node left
// with one child takes one more from its neighbour (the right edge's minimum is two). Returns
// how many nodes remain.
template <typename Traits>
size_t BTree<Traits>::repack_level(uint32_t level, size_t children) {
  Cursor read;
  Cursor write;
  first_node(&read, level);
  write = read;
  Inner* target = inner(write.nodes[level]);
  Inner* before = nullptr;
  Cursor before_at;
  size_t nodes = 1;
  uint32_t filled = 0;
  size_t taken = 0;
  for (bool more = true; more && taken < children; more = next_node(&read, level)) {
    const Inner* source = inner(read.nodes[level]);
    for (uint32_t i = 0; i < source->count && taken < children; ++i) {
      if (!source->children[i]) continue;  // a leaf edit_leaves left empty
      ++taken;
      if (filled == kInnerCap) {
        seal_inner(target, filled);
        summarise_into_parent(write, level, target->keys[0], inner_agg(target));
        before = target;
        before_at = write;
        (void)next_node(&write, level);
        target = inner(write.nodes[level]);
        ++nodes;
        filled = 0;
      }
      // The child's slot was summarised into `source` by the pass below.
      target->keys[filled] = source->keys[i];
      target->aggs[filled] = source->aggs[i];
      target->children[filled] = source->children[i];
      ++filled;
    }
  }
  seal_inner(target, filled);
  if (filled == 1 && before) {  // the neighbour is full: its last child moves over
    constexpr uint32_t kLast = kInnerCap - 1;
    target->keys[1] = target->keys[0];
    target->aggs[1] = target->aggs[0];
    target->children[1] = target->children[0];
    target->keys[0] = before->keys[kLast];
    target->aggs[0] = before->aggs[kLast];
    target->children[0] = before->children[kLast];
    target->count = 2;
    seal_inner(before, kLast);
    summarise_into_parent(before_at, level, before->keys[0], inner_agg(before));
  }
  summarise_into_parent(write, level, target->keys[0], inner_agg(target));
  while (next_node(&write, level)) free_block(write.nodes[level], false);
  return nodes;
}

// The root keeps the first `children` of its children (passing over cleared slots); a root left
// with one child hands over to it, as often as that happens (a level always keeps one node).
template <typename Traits>
void BTree<Traits>::repack_root(size_t children) {
  Inner* top = inner(root());  // its slots were summarised by the pass below
  uint32_t kept = 0;
  for (uint32_t i = 0; i < top->count && kept < children; ++i) {
    if (!top->children[i]) continue;  // a leaf edit_leaves left empty
    top->keys[kept] = top->keys[i];
    top->aggs[kept] = top->aggs[i];
    top->children[kept] = top->children[i];
    ++kept;
  }
  seal_inner(top, kept);
  while (height_ > 0 && inner(root())->count == 1) shrink_root();
}

}  // namespace teemm
