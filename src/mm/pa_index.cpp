// mm/pa_index: insertion, removal, both translations and the audit of the PA index, and keeping
// its page hash exact.
//
// The hash invariant (checked by audit): a slot for (type T, page P) holds the run the trees
// would answer for [P, P + 4 KiB) of type T - among the runs of T covering P, the lowest PA
// start, then the lowest VA. A lookup of [pa, pa + length) within P that hits a slot whose run
// covers the whole range may answer with it: the runs covering the range are a subset of those
// covering P, and the slot's run, the minimum over the superset, is in the subset, so it is the
// minimum there too. Any other lookup descends the trees. A missing slot is always allowed.
//
// Keeping it: when a run is inserted and no run of its type overlaps its PA range (one tree
// descent tells), it is the only run covering each of its pages, so each page simply gets it.
// When a run is removed and no other run of its type overlaps, the pages naming it are emptied.
// Otherwise (PA ranges shared by several runs of one type) each page is recomputed from the
// trees: O(log n) per page, paid only by overlapping mappings. A slot names a run by the page's
// VA, which no other live run maps.
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

Status PaIndex::init(Node* nodes, size_t node_count, PageSlot* slots, size_t slot_count) {
  if ((!nodes && node_count != 0) || (!slots && slot_count != 0)) return Error::kInvalidArgument;
  pool_.init(nodes, node_count * sizeof(Node), VaTree::kBlockSize);
  by_va_.reset(&pool_);
  by_pa_.reset(&pool_);
  capacity_ = node_count;
  hash_.init(slots, slot_count);
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
  const uint64_t typed_start = typed(type, run.pa.value);
  const uint64_t typed_end = typed(type, run.pa.value + run.size.bytes);
  const bool shared = hash_.enabled() && type_overlaps(typed_start, typed_end);
  by_va_.insert(run.va.value, RunByVa{run.pa.value, run.size.bytes, run.owner.value, type});
  by_pa_.insert(TypedPaKey{typed_start, run.va.value}, typed_end);
  if (hash_.enabled()) hash_inserted(run, shared);
  return Status();
}

void PaIndex::hash_inserted(const PhysRun& run, bool shared) {
  const uint64_t typed_start = typed(static_cast<uint8_t>(run.type), run.pa.value);
  const uint64_t pages = run.size.bytes >> kPageShift;
  for (uint64_t i = 0; i < pages; ++i) {
    const uint64_t page = typed_start + (i << kPageShift);
    if (shared) {
      rehash_page(page);
    } else if (hash_.used() == hash_.capacity()) {
      break;  // only new keys here, and no room for any: the rest of the run stays unhashed
    } else {
      (void)hash_.put(page, run.va.value + (i << kPageShift), pages - i);  // a full window leaves it unhashed
    }
  }
}

Status PaIndex::remove(VirtAddr va) {
  VaTree::Cursor at;
  if (!by_va_.find_le(va.value, &at) || by_va_.key(at) != va.value) return Error::kNotFound;
  const RunByVa run = by_va_.value(at);
  by_va_.erase(at);
  PaTree::Cursor by_pa;
  by_pa_.find_le(TypedPaKey{typed(run.type, run.pa), va.value}, &by_pa);  // present: both trees hold every run
  by_pa_.erase(by_pa);
  if (hash_.enabled()) {
    const bool shared = type_overlaps(typed(run.type, run.pa), typed(run.type, run.pa + run.size));
    unhash_removed(va.value, run, shared);
  }
  return Status();
}

void PaIndex::unhash_removed(uint64_t va, const RunByVa& run, bool shared) {
  const uint64_t typed_start = typed(run.type, run.pa);
  for (uint64_t offset = 0; offset < run.size && hash_.used() != 0; offset += kPageSize) {
    PageSlot* slot = hash_.find(typed_start + offset);
    if (slot == nullptr || PageHash::va_of(*slot) != va + offset) continue;  // names another run: still right
    if (shared) {
      rehash_page(typed_start + offset);
    } else {
      hash_.erase(slot);
    }
  }
}

void PaIndex::rehash_page(uint64_t typed_page) {
  PaTree::Cursor at;
  if (!tree_answer(typed_page, typed_page + kPageSize, &at)) {
    if (PageSlot* slot = hash_.find(typed_page)) hash_.erase(slot);
    return;
  }
  const TypedPaKey& run = by_pa_.key(at);
  (void)hash_.put(typed_page, run.va + (typed_page - run.typed_pa), (by_pa_.value(at) - typed_page) >> kPageShift);
}

// Any run of the same type (the type sits in both bounds) with start < typed_end and end >
// typed_start: the first such in key order, by the same pruned descent as phys_to_virt.
bool PaIndex::type_overlaps(uint64_t typed_start, uint64_t typed_end) const {
  PaTree::Cursor at;
  return by_pa_.find_first_in([typed_start](uint64_t max_end) { return max_end > typed_start; },
                              [typed_start](const TypedPaKey&, uint64_t end) { return end > typed_start; },
                              [typed_end](const TypedPaKey& key) { return key.typed_pa < typed_end; }, &at);
}

// The lowest run in (type, PA, VA) order whose typed range contains [pa, pa + length): among the
// runs starting at or below pa (the key range), the first that ends late enough. Both bounds
// carry the query's type, so a run of another type never compares as covering: a lower type's
// end is below the query's end, a higher type's start above the range. The per-child maxima of
// the end make this one descent: the first admissible child whose maximum reaches far enough
// holds an answer unless it is the last admissible child, and then nothing later can.
bool PaIndex::tree_answer(uint64_t typed_start, uint64_t typed_end, PaTree::Cursor* at) const {
  return by_pa_.find_first_in([typed_end](uint64_t max_end) { return max_end >= typed_end; },
                              [typed_end](const TypedPaKey&, uint64_t end) { return end >= typed_end; },
                              [typed_start](const TypedPaKey& key) { return key.typed_pa <= typed_start; }, at);
}

// A page-hash hit whose run reaches the range's end answers (see the top of this file);
// anything else is the tree's.
Result<VirtAddr> PaIndex::phys_to_virt(PhysAddr pa, Size size, MemoryType type) const {
  if (!is_valid_type(type)) return Error::kInvalidArgument;
  const uint64_t length = size.is_zero() ? 1 : size.bytes;
  if (!range_fits(pa.value, length, kAddressLimit)) return Error::kNotFound;
  const uint8_t type_bits = static_cast<uint8_t>(type);
  const uint64_t typed_start = typed(type_bits, pa.value);
  const uint64_t offset = pa.value & kPageMask;
  if (const PageSlot* slot = hash_.find(typed_start - offset)) {
    if (length <= (PageHash::pages_of(*slot) << kPageShift) - offset) return VirtAddr(PageHash::va_of(*slot) + offset);
  }
  PaTree::Cursor at;
  if (!tree_answer(typed_start, typed(type_bits, pa.value + length), &at)) return Error::kNotFound;
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
  stats.hashed_pages = hash_.used();
  stats.hash_slots = hash_.capacity();
  return stats;
}

bool PaIndex::audit() const {
  return by_pa_.audit() && by_va_.audit() && audit_runs() && pool_.audit() &&
         pool_.in_use() == by_va_.blocks() + by_pa_.blocks() && by_va_.size() <= capacity_ && audit_hash();
}

// Each slot: a valid type; a live run (the one mapping the slot's VA) of that type mapping the
// slot's page there, with its page count to the end (saturated); and that run is the trees' answer
// for the page.
bool PaIndex::audit_hash() const {
  if (!hash_.audit()) return false;
  bool ok = true;
  hash_.for_each([&](const PageSlot& slot) {
    if (!ok) return;
    const uint64_t key = PageHash::key_of(slot);
    const uint64_t type = key >> kRunTypeShift;
    const uint64_t page = key & ((uint64_t{1} << kRunTypeShift) - 1);
    const uint64_t va = PageHash::va_of(slot);
    VaTree::Cursor at;
    if (type >= kMemoryTypeCount || !run_containing(va, &at)) {
      ok = false;
      return;
    }
    const RunByVa& run = by_va_.value(at);
    const uint64_t run_end = run.pa + run.size;
    const uint64_t pages = (run_end - page) >> kPageShift;
    if (run.type != type || run.pa + (va - by_va_.key(at)) != page ||
        PageHash::pages_of(slot) != (pages < PageHash::kMaxPages ? pages : PageHash::kMaxPages)) {
      ok = false;
      return;
    }
    PaTree::Cursor answer;
    ok =
        tree_answer(key, key + kPageSize, &answer) && by_pa_.key(answer).va + (key - by_pa_.key(answer).typed_pa) == va;
  });
  return ok;
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
