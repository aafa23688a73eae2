// mm/pa_index: insertion, removal, both translations and the audit of the PA index.
#include "mm/pa_index.hpp"

namespace teemm::mm {
namespace {

uint64_t typed(uint8_t type, uint64_t address) { return (uint64_t{type} << kRunTypeShift) | address; }

// Both trees at their worst fill must fit the pool of node_count Nodes, whatever node_count is.
constexpr size_t worst_blocks(size_t runs) {
  return PaIndex::VaTree::max_blocks(runs) + PaIndex::PaTree::max_blocks(runs);
}
constexpr bool pool_fits_up_to(size_t last) {
  for (size_t n = 1; n <= last; ++n) {
    if (BlockPool::blocks_in(n * sizeof(PaIndex::Node), PaIndex::VaTree::kBlockSize) < worst_blocks(n)) return false;
  }
  return true;
}
// Beyond this, worst_blocks(n) <= n / 7 * 14 / 13 + n / 10 * 7 / 6 < 0.271 n, and
// 512 * 0.271 n + 63 <= 144 n.
static_assert(pool_fits_up_to(4096));
static_assert(PaIndex::VaTree::kLeafMin == 7 && PaIndex::VaTree::kInnerMin == 14);
static_assert(PaIndex::PaTree::kLeafMin == 10 && PaIndex::PaTree::kInnerMin == 7);

}  // namespace

Status PaIndex::init(Node* nodes, size_t node_count) {
  if (!nodes && node_count != 0) return Error::kInvalidArgument;
  pool_.init(nodes, node_count * sizeof(Node), VaTree::kBlockSize);
  by_va_.reset(&pool_);
  by_pa_.reset(&pool_);
  capacity_ = node_count;
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
  VaTree::Cursor at;
  if (va_end > 0 && by_va_.find_le(va_end - 1, &at) && by_va_.key(at) + by_va_.value(at).size > run.va.value) {
    return Error::kOverlap;
  }
  if (by_va_.size() == capacity_) return Error::kOutOfMemory;

  const uint8_t type = static_cast<uint8_t>(run.type);
  by_va_.insert(run.va.value, RunByVa{run.pa.value, run.size.bytes, run.owner.value, type});
  by_pa_.insert(TypedPaKey{typed(type, run.pa.value), run.va.value}, typed(type, run.pa.value + run.size.bytes));
  return Status();
}

Status PaIndex::remove(VirtAddr va) {
  VaTree::Cursor at;
  if (!by_va_.find_le(va.value, &at) || by_va_.key(at) != va.value) return Error::kNotFound;
  const RunByVa run = by_va_.value(at);
  by_va_.erase(at);
  PaTree::Cursor by_pa;
  by_pa_.find_le(TypedPaKey{typed(run.type, run.pa), va.value}, &by_pa);  // present: both trees hold every run
  by_pa_.erase(by_pa);
  return Status();
}

// The lowest run in (type, PA, VA) order whose typed range contains [pa, pa + length): among the
// runs starting at or below pa (the key range), the first that ends late enough. Both bounds
// carry the query's type, so a run of another type never compares as covering: a lower type's
// end is below the query's end, a higher type's start above the range. The per-child maxima of
// the end make this one descent: the first admissible child whose maximum reaches far enough
// holds an answer unless it is the last admissible child, and then nothing later can.
Result<VirtAddr> PaIndex::phys_to_virt(PhysAddr pa, Size size, MemoryType type) const {
  if (!is_valid_type(type)) return Error::kInvalidArgument;
  const uint64_t length = size.is_zero() ? 1 : size.bytes;
  if (!range_fits(pa.value, length, kAddressLimit)) return Error::kNotFound;
  const uint8_t type_bits = static_cast<uint8_t>(type);
  const uint64_t typed_end = typed(type_bits, pa.value + length);
  const uint64_t typed_start = typed(type_bits, pa.value);
  PaTree::Cursor at;
  if (!by_pa_.find_first_in([typed_end](uint64_t max_end) { return max_end >= typed_end; },
                            [typed_end](const TypedPaKey&, uint64_t end) { return end >= typed_end; },
                            [typed_start](const TypedPaKey& key) { return key.typed_pa <= typed_start; }, &at)) {
    return Error::kNotFound;
  }
  const TypedPaKey& run = by_pa_.key(at);
  return VirtAddr(run.va + (typed_start - run.typed_pa));
}

bool PaIndex::run_containing(uint64_t va, VaTree::Cursor* at) const {
  return by_va_.find_le(va, at) && va - by_va_.key(*at) < by_va_.value(*at).size;
}

Result<PhysAddr> PaIndex::virt_to_phys(VirtAddr va) const {
  VaTree::Cursor at;
  if (!run_containing(va.value, &at)) return Error::kNotFound;
  return PhysAddr(by_va_.value(at).pa + (va.value - by_va_.key(at)));
}

Result<PhysRun> PaIndex::find_by_va(VirtAddr va) const {
  VaTree::Cursor at;
  if (!run_containing(va.value, &at)) return Error::kNotFound;
  return run_of(by_va_.key(at), by_va_.value(at));
}

PhysRun PaIndex::run_of(uint64_t va, const RunByVa& run) {
  PhysRun result;
  result.pa = PhysAddr(run.pa);
  result.va = VirtAddr(va);
  result.size = Size(run.size);
  result.type = static_cast<MemoryType>(run.type);
  result.owner = GuestId(run.owner);
  return result;
}

PaIndexStats PaIndex::stats() const {
  PaIndexStats stats;
  stats.runs = by_va_.size();
  stats.nodes_in_use = by_va_.size();
  stats.node_capacity = capacity_;
  return stats;
}

bool PaIndex::audit() const {
  return by_pa_.audit() && by_va_.audit() && audit_runs() && pool_.audit() &&
         pool_.in_use() == by_va_.blocks() + by_pa_.blocks() && by_va_.size() <= capacity_;
}

// Each run is well formed, VA ranges are disjoint, and the PA tree holds exactly the VA tree's
// runs (same count, and each VA-tree run found there with its end).
bool PaIndex::audit_runs() const {
  if (by_pa_.size() != by_va_.size()) return false;
  uint64_t previous_end = 0;
  bool first = true;
  bool ok = true;
  by_va_.for_each([&](uint64_t va, const RunByVa& run) {
    if (!ok) return;
    if (!check_run(run_of(va, run)).ok() || (!first && previous_end > va)) ok = false;
    previous_end = va + run.size;
    first = false;
    const TypedPaKey key{typed(run.type, run.pa), va};
    PaTree::Cursor at;
    if (!by_pa_.find_le(key, &at) || by_pa_.key(at).typed_pa != key.typed_pa || by_pa_.key(at).va != va ||
        by_pa_.value(at) != typed(run.type, run.pa + run.size)) {
      ok = false;
    }
  });
  return ok;
}

}  // namespace teemm::mm
