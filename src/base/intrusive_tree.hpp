// base/intrusive_tree: one generic intrusive AVL tree with an augmentation hook.
//
// Nodes live in caller storage and carry their own links, so a tree never allocates and one node
// can sit in several trees at once (one link per tree). A Policy type tells the tree how to reach
// a node's link and height, how nodes are ordered, and how to recompute the per-node augmented
// value (an aggregate over the node's subtree, e.g. "largest free size below here"). The tree
// recomputes that value on every structural change, so descents guided by it stay O(log n).
//
// Policy requirements (all static):
//   TreeLink<Node>& link(Node&);              const TreeLink<Node>& link(const Node&);
//   uint8_t& height(Node&);                   uint8_t height(const Node&);
//   bool less(const Node& a, const Node& b);  strict order used by insert() and audit()
//   bool update(Node&);                       recompute the augmented value from the node's own
//                                             fields and its children's; true when it changed
//   bool augmentation_ok(const Node&);        the stored value equals what update() would store
//
// Augmented values are kept consistent lazily but exactly: a caller that changes the fields a
// node's aggregate depends on (without moving it in the order) calls refresh(node) afterwards.
#pragma once

#include <cstddef>
#include <cstdint>

namespace teemm {

template <typename Node>
struct TreeLink {
  Node* parent = nullptr;
  Node* left = nullptr;
  Node* right = nullptr;
};

template <typename Node, typename Policy>
class IntrusiveTree {
 public:
  IntrusiveTree() = default;
  IntrusiveTree(const IntrusiveTree&) = delete;
  IntrusiveTree& operator=(const IntrusiveTree&) = delete;

  // Forgets every node without touching them (their storage belongs to the caller).
  void reset() {
    root_ = nullptr;
    count_ = 0;
  }

  Node* root() const { return root_; }
  size_t size() const { return count_; }
  bool empty() const { return root_ == nullptr; }

  static Node* left(const Node* node) { return Policy::link(*node).left; }
  static Node* right(const Node* node) { return Policy::link(*node).right; }
  static Node* parent(const Node* node) { return Policy::link(*node).parent; }

  Node* first() const { return root_ ? leftmost(root_) : nullptr; }
  Node* last() const { return root_ ? rightmost(root_) : nullptr; }

  static Node* next(const Node* node) {
    if (Node* r = right(node)) return leftmost(r);
    const Node* child = node;
    Node* up = parent(node);
    while (up && right(up) == child) {
      child = up;
      up = parent(up);
    }
    return up;
  }

  static Node* prev(const Node* node) {
    if (Node* l = left(node)) return rightmost(l);
    const Node* child = node;
    Node* up = parent(node);
    while (up && left(up) == child) {
      child = up;
      up = parent(up);
    }
    return up;
  }

  // The last node for which `at_or_before(node)` holds, where the predicate is true for a prefix
  // of the order and false after it (e.g. "start <= address"). nullptr when it holds for none.
  template <typename Predicate>
  Node* last_where(Predicate at_or_before) const {
    Node* best = nullptr;
    for (Node* node = root_; node;) {
      if (at_or_before(*node)) {
        best = node;
        node = right(node);
      } else {
        node = left(node);
      }
    }
    return best;
  }

  // Inserts `node` at its place by Policy::less; equal keys go after existing ones.
  void insert(Node* node) {
    Node* parent_node = nullptr;
    bool as_left = false;
    for (Node* cursor = root_; cursor;) {
      parent_node = cursor;
      as_left = Policy::less(*node, *cursor);
      cursor = as_left ? left(cursor) : right(cursor);
    }
    attach(node, parent_node, as_left);
  }

  // Inserts `node` immediately before / after `position` in the order, without comparing keys:
  // the caller vouches that this is where it belongs.
  void insert_before(Node* position, Node* node) {
    if (Node* l = left(position)) {
      attach(node, rightmost(l), false);
    } else {
      attach(node, position, true);
    }
  }
  void insert_after(Node* position, Node* node) {
    if (Node* r = right(position)) {
      attach(node, leftmost(r), true);
    } else {
      attach(node, position, false);
    }
  }

  void erase(Node* node) {
    Node* walk_from = nullptr;
    Node* moved = nullptr;  // a node that took `node`'s place and so sits above new children
    if (left(node) && right(node)) {
      moved = leftmost(right(node));
      walk_from = replace_with_successor(node, moved);
    } else {
      Node* child = left(node) ? left(node) : right(node);
      walk_from = parent(node);
      replace_child(walk_from, node, child);
      if (child) Policy::link(*child).parent = walk_from;
    }
    --count_;
    Policy::link(*node) = TreeLink<Node>{};
    rebalance_upward(walk_from);
    if (moved) {
      // Its ancestors were computed from the erased node's value, not from its stored one, so it
      // is recomputed unconditionally and only its parent may end the walk.
      Policy::update(*moved);
      refresh(parent(moved));
    }
  }

  // Recomputes augmented values from `node` up, after the caller changed `node`'s own fields.
  void refresh(Node* node) {
    for (; node; node = parent(node)) {
      if (!Policy::update(*node)) return;
    }
  }

  // Checks links, order, heights, AVL balance and augmented values; O(n).
  bool audit() const {
    size_t visited = 0;
    const Node* previous = nullptr;
    int height = 0;
    if (root_ && parent(root_)) return false;
    if (!audit_subtree(root_, &previous, &visited, &height)) return false;
    return visited == count_;
  }

  // Visits every node in order; `visit(Node&)`.
  template <typename Visitor>
  void for_each(Visitor&& visit) const {
    for (Node* node = first(); node; node = next(node)) visit(*node);
  }

 private:
  static Node* leftmost(Node* node) {
    while (Node* l = left(node)) node = l;
    return node;
  }
  static Node* rightmost(Node* node) {
    while (Node* r = right(node)) node = r;
    return node;
  }

  static int height_of(const Node* node) { return node ? Policy::height(*node) : 0; }
  static int balance_of(const Node* node) { return height_of(left(node)) - height_of(right(node)); }

  // Stores the height from the children; true when it changed.
  static bool update_height(Node* node) {
    const int l = height_of(left(node));
    const int r = height_of(right(node));
    const uint8_t fresh = static_cast<uint8_t>(1 + (l > r ? l : r));
    const bool changed = Policy::height(*node) != fresh;
    Policy::height(*node) = fresh;
    return changed;
  }

  void replace_child(Node* parent_node, Node* old_child, Node* new_child) {
    if (!parent_node) {
      root_ = new_child;
    } else if (left(parent_node) == old_child) {
      Policy::link(*parent_node).left = new_child;
    } else {
      Policy::link(*parent_node).right = new_child;
    }
  }

  void attach(Node* node, Node* parent_node, bool as_left) {
    Policy::link(*node) = TreeLink<Node>{parent_node, nullptr, nullptr};
    Policy::height(*node) = 1;
    Policy::update(*node);
    if (!parent_node) {
      root_ = node;
    } else if (as_left) {
      Policy::link(*parent_node).left = node;
    } else {
      Policy::link(*parent_node).right = node;
    }
    ++count_;
    rebalance_upward(parent_node);
  }

  // Puts `successor` (leftmost of node's right subtree) where `node` is; returns the lowest node
  // whose subtree changed shape, where rebalancing starts.
  Node* replace_with_successor(Node* node, Node* successor) {
    Node* walk_from = successor;
    if (parent(successor) != node) {
      walk_from = parent(successor);
      Node* successor_right = right(successor);
      Policy::link(*walk_from).left = successor_right;
      if (successor_right) Policy::link(*successor_right).parent = walk_from;
      Policy::link(*successor).right = right(node);
      Policy::link(*right(node)).parent = successor;
    }
    Policy::link(*successor).left = left(node);
    Policy::link(*left(node)).parent = successor;
    Policy::link(*successor).parent = parent(node);
    replace_child(parent(node), node, successor);
    // Correct unless the walk below changes it, and the walk reaches here whenever it does.
    Policy::height(*successor) = Policy::height(*node);
    return walk_from;
  }

  // Rotations keep heights and augmented values of the two moved nodes exact.
  Node* rotate_left(Node* node) {
    Node* pivot = right(node);
    Node* inner = left(pivot);
    Policy::link(*node).right = inner;
    if (inner) Policy::link(*inner).parent = node;
    Policy::link(*pivot).parent = parent(node);
    replace_child(parent(node), node, pivot);
    Policy::link(*pivot).left = node;
    Policy::link(*node).parent = pivot;
    fix_after_rotation(node, pivot);
    return pivot;
  }
  Node* rotate_right(Node* node) {
    Node* pivot = left(node);
    Node* inner = right(pivot);
    Policy::link(*node).left = inner;
    if (inner) Policy::link(*inner).parent = node;
    Policy::link(*pivot).parent = parent(node);
    replace_child(parent(node), node, pivot);
    Policy::link(*pivot).right = node;
    Policy::link(*node).parent = pivot;
    fix_after_rotation(node, pivot);
    return pivot;
  }
  static void fix_after_rotation(Node* lowered, Node* raised) {
    update_height(lowered);
    Policy::update(*lowered);
    update_height(raised);
    Policy::update(*raised);
  }

  // Restores balance at `node` if needed; returns the root of its (possibly new) subtree.
  Node* rebalance_at(Node* node, bool* rotated) {
    const int balance = balance_of(node);
    *rotated = balance > 1 || balance < -1;
    if (balance > 1) {
      if (balance_of(left(node)) < 0) rotate_left(left(node));
      return rotate_right(node);
    }
    if (balance < -1) {
      if (balance_of(right(node)) > 0) rotate_right(right(node));
      return rotate_left(node);
    }
    return node;
  }

  // Walks from `node` to the root fixing heights, balance and augmented values. It stops early
  // once a node is unchanged in both height and value: every ancestor was computed from exactly
  // that, so nothing above can change.
  void rebalance_upward(Node* node) {
    while (node) {
      const bool height_changed = update_height(node);
      const bool value_changed = Policy::update(*node);
      bool rotated = false;
      node = rebalance_at(node, &rotated);
      if (!rotated && !height_changed && !value_changed) return;
      node = parent(node);
    }
  }

  bool audit_subtree(const Node* node, const Node** previous, size_t* visited, int* height) const {
    if (!node) {
      *height = 0;
      return true;
    }
    int left_height = 0;
    int right_height = 0;
    const Node* l = left(node);
    const Node* r = right(node);
    if ((l && parent(l) != node) || (r && parent(r) != node)) return false;
    if (!audit_subtree(l, previous, visited, &left_height)) return false;
    if (*previous && !Policy::less(**previous, *node)) return false;
    *previous = node;
    ++*visited;
    if (!audit_subtree(r, previous, visited, &right_height)) return false;
    const int balance = left_height - right_height;
    *height = 1 + (left_height > right_height ? left_height : right_height);
    return balance >= -1 && balance <= 1 && Policy::height(*node) == *height && Policy::augmentation_ok(*node);
  }

  Node* root_ = nullptr;
  size_t count_ = 0;
};

}  // namespace teemm
