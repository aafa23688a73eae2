// mm/pa_index: insertion, removal, both translations and the audit of the PA index.
#include "mm/pa_index.hpp"

namespace teemm::mm {

Status PaIndex::init(Node* nodes, size_t node_count) {
  if (!nodes && node_count != 0) return Error::kInvalidArgument;
  by_pa_.reset();
  by_va_.reset();
  nodes_ = nodes;
  capacity_ = node_count;
  nodes_in_use_ = 0;
  never_used_from_ = 0;
  free_list_ = nullptr;
  return Status();
}

Status PaIndex::check_run(const PhysRun& run) {
  if (run.size.is_zero()) return Error::kZeroSize;
  if (!run.pa.is_page_aligned() || !run.va.is_page_aligned() || !run.size.is_page_aligned()) {
    return Error::kMisaligned;
  }
  if (!is_valid_type(run.type)) return Error::kInvalidArgument;
  if (!range_fits(run.pa.value, run.size.bytes, kAddressLimit)) return Error::kAddressOverflow;
  if (run.size.bytes > ~uint64_t{0} - run.va.value) return Error::kAddressOverflow;
  return Status();
}

Status PaIndex::insert(const PhysRun& run) {
  if (Status valid = check_run(run); !valid) return valid;
  const uint64_t va_end = run.va.value + run.size.bytes;
  // The last run starting below our end is the only one that can reach into us.
  const Node* before_end = by_va_.last_where([va_end](const Node& node) { return node.va_ < va_end; });
  if (before_end && before_end->va_end() > run.va.value) return Error::kOverlap;
  if (nodes_in_use_ == capacity_) return Error::kOutOfMemory;

  Node* node = take_node();
  node->pa_ = run.pa.value;
  node->va_ = run.va.value;
  node->size_ = run.size.bytes;
  node->type_ = static_cast<uint8_t>(run.type);
  node->owner_ = run.owner.value;
  by_pa_.insert(node);
  by_va_.insert(node);
  return Status();
}

Status PaIndex::remove(VirtAddr va) {
  Node* node = by_va_.last_where([va](const Node& n) { return n.va_ <= va.value; });
  if (!node || node->va_ != va.value) return Error::kNotFound;
  by_pa_.erase(node);
  by_va_.erase(node);
  give_back(node);
  return Status();
}

// The lowest node in (type, PA, VA) order whose typed range contains [typed_start, typed_end).
// Both bounds carry the query's type, so a run of another type never compares as covering: a
// lower type's end is below typed_end, a higher type's start above typed_start.
const PaIndex::Node* PaIndex::lowest_covering(uint64_t typed_start, uint64_t typed_end) const {
  const Node* node = by_pa_.root();
  while (node) {
    if (node->typed_pa() > typed_start) {
      node = PaTree::left(node);
      continue;
    }
    // Everything to the left starts no later than this node, hence no later than the query:
    // the left subtree holds a covering run exactly when some run there ends late enough, and
    // the lowest answer is then there.
    const Node* left = PaTree::left(node);
    if (left && left->max_typed_end_ >= typed_end) {
      node = left;
      continue;
    }
    if (node->typed_pa_end() >= typed_end) return node;
    node = PaTree::right(node);
  }
  return nullptr;
}

Result<VirtAddr> PaIndex::phys_to_virt(PhysAddr pa, Size size, MemoryType type) const {
  if (!is_valid_type(type)) return Error::kInvalidArgument;
  const uint64_t length = size.is_zero() ? 1 : size.bytes;
  if (!range_fits(pa.value, length, kAddressLimit)) return Error::kNotFound;
  const uint64_t type_bits = uint64_t{static_cast<uint8_t>(type)} << Node::kTypeShift;
  const Node* run = lowest_covering(type_bits | pa.value, type_bits | (pa.value + length));
  if (!run) return Error::kNotFound;
  return VirtAddr(run->va_ + (pa.value - run->pa_));
}

const PaIndex::Node* PaIndex::run_containing(uint64_t va) const {
  const Node* node = by_va_.last_where([va](const Node& n) { return n.va_ <= va; });
  return node && va < node->va_end() ? node : nullptr;
}

Result<PhysAddr> PaIndex::virt_to_phys(VirtAddr va) const {
  const Node* run = run_containing(va.value);
  if (!run) return Error::kNotFound;
  return PhysAddr(run->pa_ + (va.value - run->va_));
}

Result<PhysRun> PaIndex::find_by_va(VirtAddr va) const {
  const Node* run = run_containing(va.value);
  if (!run) return Error::kNotFound;
  return run_of(*run);
}

PhysRun PaIndex::run_of(const Node& node) {
  PhysRun run;
  run.pa = PhysAddr(node.pa_);
  run.va = VirtAddr(node.va_);
  run.size = Size(node.size_);
  run.type = static_cast<MemoryType>(node.type_);
  run.owner = GuestId(node.owner_);
  return run;
}

PaIndexStats PaIndex::stats() const {
  PaIndexStats stats;
  stats.runs = by_va_.size();
  stats.nodes_in_use = nodes_in_use_;
  stats.node_capacity = capacity_;
  return stats;
}

PaIndex::Node* PaIndex::take_node() {
  Node* node = nullptr;
  if (free_list_) {
    node = free_list_;
    free_list_ = node->by_pa_.parent;
  } else {
    node = &nodes_[never_used_from_++];
  }
  *node = Node();
  ++nodes_in_use_;
  return node;
}

void PaIndex::give_back(Node* node) {
  *node = Node();
  node->by_pa_.parent = free_list_;
  free_list_ = node;
  --nodes_in_use_;
}

bool PaIndex::audit() const { return by_pa_.audit() && by_va_.audit() && audit_runs() && audit_pool(); }

// Each run is well formed, VA ranges are disjoint, and both trees hold the same nodes (same
// count, same sum and xor of node addresses: a cheap fingerprint of the set).
bool PaIndex::audit_runs() const {
  if (by_pa_.size() != by_va_.size() || by_va_.size() != nodes_in_use_) return false;
  uintptr_t pa_sum = 0, pa_xor = 0, va_sum = 0, va_xor = 0;
  by_pa_.for_each([&](const Node& node) {
    pa_sum += reinterpret_cast<uintptr_t>(&node);
    pa_xor ^= reinterpret_cast<uintptr_t>(&node);
  });
  const Node* previous = nullptr;
  bool runs_ok = true;
  by_va_.for_each([&](const Node& node) {
    va_sum += reinterpret_cast<uintptr_t>(&node);
    va_xor ^= reinterpret_cast<uintptr_t>(&node);
    const PhysRun run = run_of(node);
    if (!check_run(run).ok()) runs_ok = false;
    if (previous && previous->va_end() > node.va_) runs_ok = false;
    previous = &node;
  });
  return runs_ok && pa_sum == va_sum && pa_xor == va_xor;
}

bool PaIndex::audit_pool() const {
  if (never_used_from_ > capacity_) return false;
  size_t released = 0;
  for (const Node* node = free_list_; node; node = node->by_pa_.parent) {
    if (node < nodes_ || node >= nodes_ + never_used_from_ || ++released > capacity_) return false;
  }
  return released + nodes_in_use_ == never_used_from_;
}

}  // namespace teemm::mm
