// Dynamic mappings of one address space (see address_space.hpp).
#include "mm/address_space.hpp"

namespace teemm::mm {
namespace {

constexpr uint64_t kBlockSize = arm64::level_block_size(2);
constexpr size_t kTeardownBatch = 32;

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

// Physically contiguous runs in a page list (each becomes one PA-index entry).
uint64_t count_runs(const PhysAddr* pages, uint64_t count) {
  uint64_t runs = 1;
  for (uint64_t i = 1; i < count; ++i) runs += pages[i].value != pages[i - 1].value + kPageSize;
  return runs;
}

size_t free_nodes(const PaIndex& index) {
  const PaIndexStats stats = index.stats();
  return stats.node_capacity - stats.nodes_in_use;
}

}  // namespace

size_t AddressSpace::page_slots_for(const MemoryMap& map) {
  uint64_t pages = 0;
  for (MemoryType type : {MemoryType::kShmVaspace, MemoryType::kResVaspace}) {
    if (const MapEntry* entry = map.find_type(type)) pages += entry->size.bytes >> kPageShift;
  }
  return static_cast<size_t>(2 * pages);
}

Status AddressSpace::init(arm64::Stage1Table& table, const MemoryMap& map, const AddressSpaceStorage& storage) {
  LockGuard guard(lock_);
  const MapEntry* shm = map.find_type(MemoryType::kShmVaspace);
  if (shm == nullptr) return Error::kNotFound;
  if (Status s = shm_.init(shm->va, shm->size, storage.shm_nodes, storage.shm_node_count); !s) return s;
  const MapEntry* io = map.find_type(MemoryType::kResVaspace);
  if (io != nullptr) {
    if (Status s = io_.init(io->va, io->size, storage.io_nodes, storage.io_node_count); !s) return s;
  }
  if (Status s = pa_index_.init(storage.pa_nodes, storage.pa_node_count, storage.pa_slots, storage.pa_slot_count); !s)
    return s;
  table_ = &table;
  map_ = &map;
  shm_entry_ = shm;
  io_entry_ = io;
  return Status();
}

Result<VirtAddr> AddressSpace::map_shared(GuestId owner, const PhysAddr* pages, PageCount count, uint64_t cookie) {
  if (count.pages == 0) return Error::kZeroSize;
  if (pages == nullptr || count.pages > (kAddressLimit >> kPageShift)) return Error::kInvalidArgument;
  LockGuard guard(lock_);
  if (table_ == nullptr) return Error::kInvalidArgument;
  if (free_nodes(pa_index_) < count_runs(pages, count.pages)) return Error::kOutOfMemory;
  AllocationRequest request;
  request.guard_page = true;
  request.owner = owner;
  request.kind = VaRangeKind::kSharedMemory;
  request.backing = cookie;
  // A buffer that starts on a 2 MiB physical boundary gets a 2 MiB-aligned VA, so that its
  // aligned runs can be level-2 blocks.
  if (count.pages >= kBlockSize / kPageSize && pages[0].is_aligned(kBlockSize)) request.alignment = kBlockSize;
  const Result<VirtAddr> va = shm_.allocate(count.size(), request);
  if (!va) return va.error();
  if (Status s = table_->map_pages(*va, pages, count, shared_memory_attributes()); !s) {
    (void)shm_.free(*va);
    return s.error();
  }
  for (uint64_t first = 0; first < count.pages;) {
    uint64_t last = first;
    while (last + 1 < count.pages && pages[last + 1].value == pages[last].value + kPageSize) ++last;
    const PhysRun run{pages[first], *va + PageCount(first).size(), PageCount(last - first + 1).size(),
                      MemoryType::kNsecShm, owner};
    if (Status s = pa_index_.insert(run); !s) {  // capacity was checked: only a broken invariant gets here
      (void)remove_runs_locked(*va, PageCount(first).size());
      (void)table_->unmap(*va, count.size());
      (void)shm_.free(*va);
      return s.error();
    }
    first = last + 1;
  }
  return *va;
}

Status AddressSpace::unmap_shared(VirtAddr va) {
  LockGuard guard(lock_);
  if (table_ == nullptr) return Error::kInvalidArgument;
  const Result<VaRange> range = shm_.find(va);
  if (!range || range->start != va) return Error::kNotFound;
  return unmap_range_locked(*range, shm_);
}

size_t AddressSpace::release_guest(GuestId owner) {
  LockGuard guard(lock_);
  if (table_ == nullptr) return 0;
  size_t released = 0;
  // The tree cannot change while it is visited, so ranges are collected in small batches.
  for (;;) {
    VaRange batch[kTeardownBatch];
    size_t found = 0;
    shm_.for_each_used([&](const VaRange& r) {
      if (r.owner == owner && found < kTeardownBatch) batch[found++] = r;
    });
    if (found == 0) return released;
    for (size_t i = 0; i < found; ++i)
      if (unmap_range_locked(batch[i], shm_)) ++released;
  }
}

Result<VirtAddr> AddressSpace::ioremap(PhysAddr pa, Size size, bool secure) {
  if (size.is_zero()) return Error::kZeroSize;
  if (!range_fits(pa.value, size.bytes, kAddressLimit)) return Error::kAddressOverflow;
  LockGuard guard(lock_);
  if (table_ == nullptr) return Error::kInvalidArgument;
  return ioremap_locked(pa, size, secure);
}

Result<VirtAddr> AddressSpace::ioremap_locked(PhysAddr pa, Size size, bool secure) {
  const MemoryType type = secure ? MemoryType::kIoSec : MemoryType::kIoNsec;
  const PhysAddr first = pa.align_down(kPageSize);
  const Size span((pa.value + size.bytes + kPageMask) / kPageSize * kPageSize - first.value);
  const Size offset = pa - first;
  // The static map already holds the platform's own devices: its mapping is permanent.
  if (const MapEntry* e = static_entry_covering(pa, size, type)) return e->va + (pa - e->pa);
  if (const Result<VirtAddr> shared = pa_index_.phys_to_virt(first, span, type)) {
    const Result<VaRange> range = io_.find(*shared);
    if (!range) return Error::kNotFound;  // the index and the allocator disagree: refuse
    if (Status s = io_.set_backing(range->start, range->backing + 1); !s) return s.error();
    return *shared + offset;
  }
  if (io_entry_ == nullptr) return Error::kNoVirtualSpace;
  if (free_nodes(pa_index_) == 0) return Error::kOutOfMemory;
  AllocationRequest request;
  request.guard_page = true;
  request.owner = kHypervisorGuest;
  request.kind = VaRangeKind::kDeviceIo;
  request.backing = 1;  // the reference count
  const Result<VirtAddr> va = io_.allocate(span, request);
  if (!va) return va.error();
  if (Status s = table_->map(*va, first, span, device_attributes(secure)); !s) {
    (void)io_.free(*va);
    return s.error();
  }
  if (Status s = pa_index_.insert(PhysRun{first, *va, span, type, kHypervisorGuest}); !s) {
    (void)table_->unmap(*va, span);
    (void)io_.free(*va);
    return s.error();
  }
  return *va + offset;
}

Status AddressSpace::iounmap(VirtAddr va) {
  LockGuard guard(lock_);
  if (table_ == nullptr) return Error::kInvalidArgument;
  const MapEntry* entry = map_->find(va);
  if (entry != nullptr && (entry->type == MemoryType::kIoSec || entry->type == MemoryType::kIoNsec)) return Status();
  const Result<VaRange> range = io_entry_ != nullptr ? io_.find(va) : Result<VaRange>(Error::kNotFound);
  if (!range || range->kind != VaRangeKind::kDeviceIo) return Error::kNotFound;
  if (range->backing > 1) return io_.set_backing(range->start, range->backing - 1);
  return unmap_range_locked(*range, io_);
}

Status AddressSpace::unmap_range_locked(const VaRange& range, VaAllocator& allocator) {
  // The range was mapped whole by this class, so no block straddles its ends and unmap needs no
  // table page: it cannot fail here.
  if (Status s = table_->unmap(range.start, range.size); !s) return s;
  if (Status s = remove_runs_locked(range.start, range.size); !s) return s;
  return allocator.free(range.start);
}

Status AddressSpace::remove_runs_locked(VirtAddr start, Size size) {
  for (VirtAddr cursor = start; cursor < start + size;) {
    const Result<PhysRun> run = pa_index_.find_by_va(cursor);
    if (!run) return Error::kNotFound;
    if (Status s = pa_index_.remove(run->va); !s) return s;
    cursor = run->va + run->size;
  }
  return Status();
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
  return pa_index_.virt_to_phys(va);
}

arm64::WalkResult AddressSpace::translate(VirtAddr va) const {
  LockGuard guard(lock_);
  const arm64::TranslationTable& t = table_->raw();
  return arm64::walk(arm64::TableMemory{&t.pool()}, t.root(), arm64::Stage::kStage1, t.input_bits(), va.value);
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
  return usage;
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

bool AddressSpace::audit() const {
  LockGuard guard(lock_);
  if (table_ == nullptr) return false;
  if (!shm_.audit() || (io_entry_ != nullptr && !io_.audit()) || !pa_index_.audit()) return false;
  const arm64::TranslationTable& t = table_->raw();
  bool consistent = true;
  pa_index_.for_each([&](const PhysRun& run) {
    for (uint64_t offset = 0; offset < run.size.bytes && consistent; offset += kPageSize) {
      const arm64::WalkResult r = arm64::walk(arm64::TableMemory{&t.pool()}, t.root(), arm64::Stage::kStage1,
                                              t.input_bits(), run.va.value + offset);
      consistent = r.ok() && r.output == run.pa.value + offset;
    }
  });
  return consistent;
}

}  // namespace teemm::mm
