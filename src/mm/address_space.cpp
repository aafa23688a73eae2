// Dynamic mappings of one address space (see address_space.hpp).
#include "mm/address_space.hpp"

namespace teemm::mm {
namespace {

constexpr uint64_t kBlockSize = arm64::level_block_size(2);

// The last page of the physically contiguous run that starts at pages[first].
uint64_t last_of_run(const PhysAddr* pages, uint64_t first, uint64_t count) {
  uint64_t last = first;
  while (last + 1 < count && pages[last + 1].value == pages[last].value + kPageSize) ++last;
  return last;
}

// What one pass over a page list finds: its lowest and highest page, the OR of every page's
// offset bits (0: all aligned) and its number of physically contiguous runs.
struct ListSummary {
  uint64_t lowest;
  uint64_t highest;
  uint64_t offset_bits;
  uint64_t runs;
};

ListSummary summarise(const PhysAddr* pages, uint64_t count) {
  // Locals, not the struct's fields: the loop then keeps them in registers.
  uint64_t lowest = pages[0].value, highest = lowest, bits = lowest, breaks = 0;
  for (uint64_t i = 1; i < count; ++i) {
    const uint64_t page = pages[i].value;
    lowest = page < lowest ? page : lowest;
    highest = page > highest ? page : highest;
    bits |= page;
    breaks += page != pages[i - 1].value + kPageSize ? 1 : 0;
  }
  return ListSummary{lowest, highest, bits & kPageMask, breaks + 1};
}

size_t free_nodes(const PaIndex& index) {
  const PaIndexStats stats = index.stats();
  return stats.node_capacity - stats.nodes_in_use;
}

}  // namespace

arm64::MappingAttributes shared_memory_attributes() {
  arm64::MappingAttributes a;
  a.memory = arm64::MemoryKind::kNormalWriteBack;
  a.privileged = {true, true, false};
  a.non_secure = true;
  return a;
}

arm64::MappingAttributes device_attributes(bool secure) {
  arm64::MappingAttributes a;
  a.memory = arm64::MemoryKind::kDevice;
  a.privileged = {true, true, false};
  a.non_secure = !secure;
  return a;
}

size_t AddressSpace::page_slots_for(const MemoryMap& map) {
  uint64_t pages = 0;
  for (MemoryType type : {MemoryType::kShmVaspace, MemoryType::kResVaspace}) {
    if (const MapEntry* entry = map.find_type(type)) pages += entry->size.bytes >> kPageShift;
  }
  return static_cast<size_t>(2 * pages);
}

size_t AddressSpace::scratch_pages_for(const MemoryMap& map) {
  const MapEntry* shm = map.find_type(MemoryType::kShmVaspace);
  return shm == nullptr ? 0 : static_cast<size_t>((shm->size.bytes >> kPageShift) - 1);
}

Status AddressSpace::init(arm64::Stage1Table& table, const MemoryMap& map, const PhysMemRegistry& registry,
                          const AddressSpaceStorage& storage) {
  LockGuard guard(lock_);
  table_ = nullptr;  // a failed init leaves an unusable address space, never a half-built one
  const MapEntry* shm = map.find_type(MemoryType::kShmVaspace);
  if (shm == nullptr) return Error::kNotFound;
  if (storage.page_scratch == nullptr && storage.page_scratch_count != 0) return Error::kInvalidArgument;
  if (Status s = policy_.build(registry, storage.policy_ranges, storage.policy_range_count); !s) return s;
  // Tables the normal world could write would undo every check made here.
  const arm64::TablePool& pool = table.raw().pool();
  for (PageUse use : {PageUse::kSharedMemory, PageUse::kDeviceSecure, PageUse::kDeviceNonSecure}) {
    for (size_t i = 0; i < policy_.count(); ++i) {
      const PolicyRange& r = policy_[i];
      if (r.use == use && ranges_overlap(r.base, r.end - r.base, pool.base().value, pool.capacity() << kPageShift))
        return Error::kForbiddenMemory;
    }
  }
  if (Status s = shm_.init(shm->va, shm->size, storage.shm_nodes, storage.shm_node_count); !s) return s;
  const MapEntry* io = map.find_type(MemoryType::kResVaspace);
  if (io != nullptr) {
    if (Status s = io_.init(io->va, io->size, storage.io_nodes, storage.io_node_count); !s) return s;
  }
  if (Status s = pa_index_.init(storage.pa_nodes, storage.pa_node_count, storage.pa_slots, storage.pa_slot_count); !s)
    return s;
  scratch_ = storage.page_scratch;
  scratch_count_ = storage.page_scratch_count;
  shm_pages_max_ = scratch_pages_for(map);
  last_allowed_ = PolicyRange();  // empty: holds no list
  shm_attribute_bits_ =
      arm64::encode_leaf_attributes(arm64::Stage::kStage1, shared_memory_attributes(), table.regime());
  table_ = &table;
  map_ = &map;
  shm_entry_ = shm;
  io_entry_ = io;
  return Status();
}

// The only read of a caller's page list. Volatile loads: the compiler may not re-read the caller's
// memory later in place of the copy, as it could if it assumed nobody else writes there.
const PhysAddr* AddressSpace::copy_page_list(const PhysAddr* pages, uint64_t count) {
  for (uint64_t i = 0; i < count; ++i) scratch_[i] = PhysAddr(*static_cast<const volatile uint64_t*>(&pages[i].value));
  return scratch_;
}

// Checks every page of a (secure) list and returns how many physically contiguous runs it has.
// Usually the whole list lies inside one allowed range: one pass and one policy look-up then
// clear every run at once. Otherwise each run is checked on its own, which also names the error.
Result<uint64_t> AddressSpace::check_shared_pages(const PhysAddr* pages, uint64_t count) {
  const ListSummary list = summarise(pages, count);
  if (list.offset_bits != 0 || !range_fits(list.highest, kPageSize, table_->raw().output_limit()))
    return check_runs(pages, count);
  // Successive lists mostly come from the same allowed range: test the last one found first.
  const uint64_t end = list.highest + kPageSize;
  if (list.lowest >= last_allowed_.base && end <= last_allowed_.end) return list.runs;
  const Result<PolicyRange> allowed =
      policy_.allowed_range(PhysAddr(list.lowest), Size(end - list.lowest), PageUse::kSharedMemory);
  if (!allowed) return check_runs(pages, count);
  last_allowed_ = *allowed;
  return list.runs;
}

Result<uint64_t> AddressSpace::check_runs(const PhysAddr* pages, uint64_t count) const {
  const uint64_t output_limit = table_->raw().output_limit();
  uint64_t runs = 0;
  uint64_t allowed_start = 1, allowed_end = 0;  // none yet
  for (uint64_t first = 0; first < count;) {
    if (!pages[first].is_page_aligned()) return Error::kMisaligned;
    const uint64_t last = last_of_run(pages, first, count);
    const Size size = PageCount(last - first + 1).size();
    if (!range_fits(pages[first].value, size.bytes, output_limit)) return Error::kForbiddenMemory;
    // Runs of one list usually fall in the same allowed range: test that one before searching.
    const uint64_t start = pages[first].value, end = start + size.bytes;
    if (start < allowed_start || end > allowed_end) {
      const Result<PolicyRange> allowed = policy_.allowed_range(pages[first], size, PageUse::kSharedMemory);
      if (!allowed) return allowed.error();
      allowed_start = allowed->base;
      allowed_end = allowed->end;
    }
    ++runs;
    first = last + 1;
  }
  return runs;
}

Result<VirtAddr> AddressSpace::map_shared(GuestId owner, const PhysAddr* pages, PageCount count, uint64_t cookie,
                                          Indexing indexing) {
  if (count.pages == 0) return Error::kZeroSize;
  if (pages == nullptr) return Error::kInvalidArgument;
  LockGuard guard(lock_);
  if (table_ == nullptr) return Error::kInvalidArgument;
  // Size before anything that costs per page: a list the reservation can never hold is refused at once.
  if (count.pages > shm_pages_max_) return Error::kNoVirtualSpace;
  if (count.pages > scratch_count_) return Error::kLimitReached;
  const PhysAddr* list = copy_page_list(pages, count.pages);
  const Result<uint64_t> runs = check_shared_pages(list, count.pages);
  if (!runs) return runs.error();
  const bool indexed = indexing == Indexing::kIndexed;
  if (indexed && free_nodes(pa_index_) < *runs) return Error::kOutOfMemory;
  AllocationRequest request;
  request.guard_page = true;
  request.owner = owner;
  request.kind = indexed ? VaRangeKind::kSharedMemory : VaRangeKind::kSharedMemoryUnindexed;
  request.backing = cookie;
  // A buffer that starts on a 2 MiB physical boundary gets a 2 MiB-aligned VA, so that its
  // aligned runs can be level-2 blocks.
  if (count.pages >= kBlockSize / kPageSize && list[0].is_aligned(kBlockSize)) request.alignment = kBlockSize;
  const Result<VirtAddr> va = shm_.allocate(count.size(), request);
  if (!va) return va.error();
  if (Status s = table_->raw().map_pages(va->value, list, count.pages, shm_attribute_bits_); !s) {
    (void)shm_.free(*va);
    return s.error();
  }
  if (!indexed) return *va;
  if (Status s = insert_runs_locked(owner, *va, list, count.pages); !s) {
    (void)table_->unmap(*va, count.size());
    (void)shm_.free(*va);
    return s.error();
  }
  return *va;
}

// One PA-index run per physically contiguous chunk; all or none.
Status AddressSpace::insert_runs_locked(GuestId owner, VirtAddr va, const PhysAddr* pages, uint64_t count) {
  for (uint64_t first = 0; first < count;) {
    const uint64_t last = last_of_run(pages, first, count);
    const PhysRun run{pages[first], va + PageCount(first).size(), PageCount(last - first + 1).size(),
                      MemoryType::kNsecShm, owner};
    if (Status s = pa_index_.insert(run); !s) {  // capacity was checked: only a broken invariant gets here
      remove_runs_locked(va, PageCount(first).size());
      return s;
    }
    first = last + 1;
  }
  return Status();
}

Status AddressSpace::unmap_shared(GuestId owner, VirtAddr va) {
  LockGuard guard(lock_);
  if (table_ == nullptr) return Error::kInvalidArgument;
  const Result<VaRange> range = shm_.find(va);
  if (!range || range->start != va) return Error::kNotFound;
  if (range->owner != owner) return Error::kPermissionDenied;
  return unmap_range_locked(*range, shm_);
}

TeardownResult AddressSpace::release_guest(GuestId owner) {
  TeardownResult result;
  VaAllocator* const allocators[] = {&shm_, &io_};
  for (VaAllocator* allocator : allocators) {
    {
      LockGuard guard(lock_);
      if (table_ == nullptr || (allocator == &io_ && io_entry_ == nullptr)) continue;
      if (allocator->prefers_one_pass(owner)) {
        release_all_locked(owner, *allocator, result);
        continue;
      }
    }
    // Otherwise a span of the owner's neighbouring ranges per lock hold (at most kTeardownBatch of
    // them), unmapped with one table call and freed in one pass of the allocator.
    SpanOutcome outcome = SpanOutcome::kReleased;
    while (outcome == SpanOutcome::kReleased) {
      LockGuard guard(lock_);
      if (table_ == nullptr || (allocator == &io_ && io_entry_ == nullptr)) break;
      outcome = release_span_locked(owner, *allocator, result);
    }
    if (outcome != SpanOutcome::kUnmapFailed) continue;
    // Tables edited behind this class's back: one range at a time, each visited once (`from`
    // moves past it), reporting those that cannot go.
    VirtAddr from;
    for (size_t visited = kTeardownBatch; visited == kTeardownBatch;) {
      LockGuard guard(lock_);
      visited = release_batch_locked(owner, *allocator, from, result);
    }
  }
  return result;
}

// Each range is unmapped as the allocator's pass reaches it; one the tables cannot give up stays
// owned and is counted as failed.
// The TLB is invalidated once for the whole pass, before the lock is released, so no address
// freed in it can be handed out while a stale entry may still reach its old page.
void AddressSpace::release_all_locked(GuestId owner, VaAllocator& allocator, TeardownResult& result) {
  arm64::TranslationTable::UnmapBatch batch(table_->raw());
  result.released += allocator.release_all_of(owner, [&](const VaRange& range) {
    if (unmap_tables_locked(range, batch)) return true;
    ++result.failed;
    return false;
  });
  batch.finish();
}

AddressSpace::SpanOutcome AddressSpace::release_span_locked(GuestId owner, VaAllocator& allocator,
                                                            TeardownResult& result) {
  const VaAllocator::OwnerSpan span = allocator.plan_span_of(owner, kTeardownBatch);
  if (span.ranges == 0) return SpanOutcome::kNothingLeft;
  // Between the ranges lie only guard pages and free VA, never another owner's mapping.
  if (!table_->unmap_present(span.first, span.last - span.first)) return SpanOutcome::kUnmapFailed;
  result.released += allocator.release_span_of(owner, span, [&](const VaRange& range) {
    if (is_indexed(range)) remove_runs_locked(range.start, range.size);
  });
  return SpanOutcome::kReleased;
}

size_t AddressSpace::release_batch_locked(GuestId owner, VaAllocator& allocator, VirtAddr& from,
                                          TeardownResult& result) {
  size_t visited = 0;
  for (; visited < kTeardownBatch; ++visited) {
    const Result<VaRange> range = allocator.first_of(owner, from);
    if (!range) break;
    from = range->start + range->reserved_size();
    if (unmap_range_locked(*range, allocator))
      ++result.released;
    else
      ++result.failed;
  }
  return visited;
}

Result<VirtAddr> AddressSpace::ioremap(GuestId owner, PhysAddr pa, Size size, bool secure) {
  if (size.is_zero()) return Error::kZeroSize;
  if (!range_fits(pa.value, size.bytes, kAddressLimit)) return Error::kAddressOverflow;
  LockGuard guard(lock_);
  if (table_ == nullptr) return Error::kInvalidArgument;
  return ioremap_locked(owner, pa, size, secure);
}

Result<VirtAddr> AddressSpace::ioremap_locked(GuestId owner, PhysAddr pa, Size size, bool secure) {
  const MemoryType type = secure ? MemoryType::kIoSec : MemoryType::kIoNsec;
  const PhysAddr first = pa.align_down(kPageSize);
  const Size span((pa.value + size.bytes + kPageMask) / kPageSize * kPageSize - first.value);
  const Size offset = pa - first;
  // The static map already holds the platform's own devices: its mapping is permanent.
  if (const MapEntry* e = static_entry_covering(pa, size, type)) return e->va + (pa - e->pa);
  if (Status s = policy_.check(first, span, secure ? PageUse::kDeviceSecure : PageUse::kDeviceNonSecure); !s)
    return s.error();
  if (const Result<VirtAddr> shared = own_io_mapping_locked(owner, first, span, type)) {
    const Result<VaRange> range = io_.find(*shared);
    if (!range) return Error::kNotFound;  // the index and the allocator disagree: refuse
    if (Status s = io_.set_backing(range->start, range->backing + 1); !s) return s.error();
    return *shared + offset;
  }
  if (io_entry_ == nullptr) return Error::kNoVirtualSpace;
  if (free_nodes(pa_index_) == 0) return Error::kOutOfMemory;
  AllocationRequest request;
  request.guard_page = true;
  request.owner = owner;
  request.kind = VaRangeKind::kDeviceIo;
  request.backing = 1;  // the reference count
  const Result<VirtAddr> va = io_.allocate(span, request);
  if (!va) return va.error();
  if (Status s = table_->map(*va, first, span, device_attributes(secure)); !s) {
    (void)io_.free(*va);
    return s.error();
  }
  if (Status s = pa_index_.insert(PhysRun{first, *va, span, type, owner}); !s) {
    (void)table_->unmap(*va, span);
    (void)io_.free(*va);
    return s.error();
  }
  return *va + offset;
}

// Where `owner`'s own live mapping of type `type` covers [first, first + span), if one does. The
// index answers with the lowest covering run of any owner; when that one is another owner's, the
// owner's IO ranges are searched (O(IO ranges): device mappings are few, made at driver set-up).
Result<VirtAddr> AddressSpace::own_io_mapping_locked(GuestId owner, PhysAddr first, Size span, MemoryType type) const {
  const Result<VirtAddr> lowest = pa_index_.phys_to_virt(first, span, type);
  if (!lowest) return lowest.error();
  const Result<VaRange> range = io_.find(*lowest);
  if (range && range->owner == owner) return lowest;
  Result<VirtAddr> found = Error::kNotFound;
  io_.for_each_used([&](const VaRange& r) {
    if (found || r.owner != owner) return;
    const Result<PhysRun> run = pa_index_.find_by_va(r.start);
    if (run && run->type == type && run->pa <= first && first + span <= run->pa + run->size)
      found = run->va + (first - run->pa);
  });
  return found;
}

Status AddressSpace::iounmap(GuestId owner, VirtAddr va) {
  LockGuard guard(lock_);
  if (table_ == nullptr) return Error::kInvalidArgument;
  const MapEntry* entry = map_->find(va);
  if (entry != nullptr && (entry->type == MemoryType::kIoSec || entry->type == MemoryType::kIoNsec)) return Status();
  const Result<VaRange> range = io_entry_ != nullptr ? io_.find(va) : Result<VaRange>(Error::kNotFound);
  if (!range || range->kind != VaRangeKind::kDeviceIo) return Error::kNotFound;
  if (range->owner != owner) return Error::kPermissionDenied;
  if (range->backing > 1) return io_.set_backing(range->start, range->backing - 1);
  return unmap_range_locked(*range, io_);
}

Status AddressSpace::unmap_range_locked(const VaRange& range, VaAllocator& allocator) {
  arm64::TranslationTable::UnmapBatch batch(table_->raw());
  const Status s = unmap_tables_locked(range, batch);
  batch.finish();  // the TLB is clean before the range can be handed out again
  if (!s) return s;
  return allocator.free(range.start);
}

// The range was mapped whole by this class, so no block straddles its ends and unmap needs no
// table page. Should the tables have been edited behind this class's back (a page already
// unmapped), whatever is still mapped goes, so that the range can always be released.
Status AddressSpace::unmap_tables_locked(const VaRange& range, arm64::TranslationTable::UnmapBatch& batch) {
  Status s = batch.unmap(range.start.value, range.size.bytes);
  if (s.error() == Error::kNotMapped) s = batch.unmap_present(range.start.value, range.size.bytes);
  if (!s) return s;
  if (is_indexed(range)) remove_runs_locked(range.start, range.size);
  return s;
}

void AddressSpace::remove_runs_locked(VirtAddr start, Size size) {
  for (VirtAddr cursor = start; cursor < start + size;) {
    const Result<PhysRun> run = pa_index_.find_by_va(cursor);
    if (!run) {  // only after a failed insert: the runs end here
      cursor = cursor + Size(kPageSize);
      continue;
    }
    (void)pa_index_.remove(run->va);
    cursor = run->va + run->size;
  }
}

const MapEntry* AddressSpace::static_entry_covering(PhysAddr pa, Size size, MemoryType type) const {
  // VA = PA + offset for every physical entry, so the map's VA order is its PA order: one binary
  // search finds the only candidate. The caller has checked that [pa, pa + size) does not wrap.
  const uint64_t offset = map_->options().va_offset;
  if (!range_fits(pa.value, offset, UINT64_MAX)) return nullptr;
  const MapEntry* e = map_->find(VirtAddr(pa.value + offset));
  const uint64_t bytes = size.is_zero() ? 1 : size.bytes;
  if (e == nullptr || e->is_va_reservation() || e->type != type) return nullptr;
  return pa.value + bytes <= e->pa.value + e->size.bytes ? e : nullptr;
}

Result<VirtAddr> AddressSpace::phys_to_virt(PhysAddr pa, Size size, MemoryType type) const {
  LockGuard guard(lock_);
  if (map_ == nullptr) return Error::kInvalidArgument;
  if (!range_fits(pa.value, size.is_zero() ? 1 : size.bytes, kAddressLimit)) return Error::kAddressOverflow;
  if (const MapEntry* e = static_entry_covering(pa, size, type)) return e->va + (pa - e->pa);
  return pa_index_.phys_to_virt(pa, size, type);
}

Result<PhysAddr> AddressSpace::virt_to_phys(VirtAddr va) const {
  LockGuard guard(lock_);
  if (map_ == nullptr) return Error::kInvalidArgument;
  const MapEntry* e = map_->find(va);
  if (e != nullptr && !e->is_va_reservation()) return e->pa + (va - e->va);
  if (const Result<PhysAddr> indexed = pa_index_.virt_to_phys(va)) return indexed;
  // A buffer mapped without the index: the tables are the answer.
  const Result<VaRange> range = shm_.find(va);
  if (!range || is_indexed(*range)) return Error::kNotFound;
  const arm64::WalkResult walk = walk_locked(va);
  return walk.ok() ? Result<PhysAddr>(PhysAddr(walk.output)) : Result<PhysAddr>(Error::kNotFound);
}

arm64::WalkResult AddressSpace::walk_locked(VirtAddr va) const {
  const arm64::TranslationTable& t = table_->raw();
  return arm64::walk(arm64::TableMemory{&t.pool()}, t.root(), arm64::Stage::kStage1, t.input_bits(), va.value,
                     t.output_bits());
}

arm64::WalkResult AddressSpace::translate(VirtAddr va) const {
  LockGuard guard(lock_);
  if (table_ == nullptr) {  // nothing is mapped before init: every address faults
    arm64::WalkResult none;
    none.fault = arm64::FaultKind::kTranslation;
    return none;
  }
  return walk_locked(va);
}

ReservationUsage AddressSpace::usage_of(const VaAllocator& allocator, const MapEntry* entry) const {
  ReservationUsage usage;
  if (entry == nullptr) return usage;
  const VaStats stats = allocator.stats();
  usage.name = entry->name;
  usage.type = entry->type;
  usage.base = entry->va;
  usage.size = entry->size;
  usage.in_use = stats.in_use;
  usage.ranges = stats.used_ranges;
  usage.tree_bytes = stats.tree_bytes;
  return usage;
}

Result<VaRange> AddressSpace::shm_range(VirtAddr va) const {
  LockGuard guard(lock_);
  if (table_ == nullptr) return Error::kNotFound;
  return shm_.find(va);
}

ReservationUsage AddressSpace::shm_usage() const {
  LockGuard guard(lock_);
  return usage_of(shm_, shm_entry_);
}

ReservationUsage AddressSpace::io_usage() const {
  LockGuard guard(lock_);
  return usage_of(io_, io_entry_);
}

PaIndexStats AddressSpace::pa_index_stats() const {
  LockGuard guard(lock_);
  return pa_index_.stats();
}

}  // namespace teemm::mm
