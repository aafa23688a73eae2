// AddressSpace::audit (see address_space.hpp): the live state checked both ways — from the
// bookkeeping to the tables and from the tables back — against the attribute and page policy.
// Reads the tables only through the walker (arm64::walk, arm64::for_each_leaf), never the builder.
#include "mm/address_space.hpp"

namespace teemm::mm {
namespace {

// Does what the walker decoded from a leaf equal what every mapping of this kind must get?
bool attributes_as_policy(const arm64::DecodedAttributes& d, const arm64::MappingAttributes& want,
                          arm64::TranslationRegime regime) {
  const uint64_t shareability =
      want.memory == arm64::MemoryKind::kNormalWriteBack ? arm64::kShareInner : arm64::kShareOuter;
  const bool no_el0 =
      regime == arm64::TranslationRegime::kEl1And0 ? d.unprivileged == arm64::Access{} : !d.single_privilege_execute;
  return d.access_flag && d.memory == want.memory && d.non_secure == want.non_secure && d.global &&
         d.privileged == want.privileged && d.shareability == shareability && no_el0;
}

bool is_device_run(const PhysRun& run) { return run.type == MemoryType::kIoSec || run.type == MemoryType::kIoNsec; }

}  // namespace

bool AddressSpace::audit() const {
  LockGuard guard(lock_);
  if (table_ == nullptr) return false;
  if (!shm_.audit() || (io_entry_ != nullptr && !io_.audit()) || !pa_index_.audit()) return false;
  return audit_runs_locked() && audit_leaves_locked(shm_, shm_entry_) &&
         (io_entry_ == nullptr || audit_leaves_locked(io_, io_entry_));
}

// From the PA index to the tables: each run sits in a used range of its owner and kind, at PAs the
// policy allows for that kind, and the walker finds exactly its PAs with exactly its attributes.
bool AddressSpace::audit_runs_locked() const {
  const arm64::TranslationTable& t = table_->raw();
  const arm64::TableMemory memory{&t.pool()};
  bool consistent = true;
  pa_index_.for_each([&](const PhysRun& run) {
    if (!consistent) return;
    const bool device = is_device_run(run);
    if (!device && run.type != MemoryType::kNsecShm) {
      consistent = false;
      return;
    }
    const bool secure = run.type == MemoryType::kIoSec;
    const PageUse use = !device ? PageUse::kSharedMemory : secure ? PageUse::kDeviceSecure : PageUse::kDeviceNonSecure;
    const VaAllocator& allocator = device ? io_ : shm_;
    const Result<VaRange> range = allocator.find(run.va);
    consistent = range && range->owner == run.owner && run.va + run.size <= range->end() &&
                 range->kind == (device ? VaRangeKind::kDeviceIo : VaRangeKind::kSharedMemory) &&
                 policy_.check(run.pa, run.size, use).ok();
    const arm64::MappingAttributes want = device ? device_attributes(secure) : shared_memory_attributes();
    for (uint64_t offset = 0; offset < run.size.bytes && consistent; offset += kPageSize) {
      const arm64::WalkResult r =
          arm64::walk(memory, t.root(), arm64::Stage::kStage1, t.input_bits(), run.va.value + offset, t.output_bits());
      consistent =
          r.ok() && r.output == run.pa.value + offset && attributes_as_policy(r.attributes, want, table_->regime());
    }
  });
  return consistent;
}

// From the tables to the bookkeeping: every leaf the walker finds in a reservation lies inside a
// used range (never its guard page); an indexed range's leaves map what the PA index says, an
// unindexed one's map pages the policy allows, with exactly the policy's attributes; and the
// leaves cover every used range in full.
bool AddressSpace::audit_leaves_locked(const VaAllocator& allocator, const MapEntry* entry) const {
  const arm64::TranslationTable& t = table_->raw();
  const auto leaf_ok = [&](const arm64::LeafVisit& leaf) {
    const Result<VaRange> range = allocator.find(VirtAddr(leaf.input));
    if (!range || leaf.input + leaf.size > range->end().value) return false;
    const uint64_t output = leaf.descriptor & arm64::kOutputAddressMask & ~(leaf.size - 1);
    if (is_indexed(*range)) {
      const Result<PhysAddr> indexed = pa_index_.virt_to_phys(VirtAddr(leaf.input));
      return indexed && indexed->value == output;
    }
    return policy_.check(PhysAddr(output), Size(leaf.size), PageUse::kSharedMemory).ok() &&
           attributes_as_policy(arm64::decode_attributes(arm64::Stage::kStage1, leaf.descriptor),
                                shared_memory_attributes(), table_->regime());
  };
  bool consistent = true;
  uint64_t mapped = 0;
  arm64::for_each_leaf(arm64::TableMemory{&t.pool()}, t.root(), t.input_bits(), entry->va.value, entry->end_va().value,
                       [&](const arm64::LeafVisit& leaf) {
                         consistent = consistent && leaf_ok(leaf);
                         mapped += leaf.size;
                       });
  uint64_t used = 0;
  allocator.for_each_used([&](const VaRange& range) { used += range.size.bytes; });
  return consistent && mapped == used;
}

}  // namespace teemm::mm
