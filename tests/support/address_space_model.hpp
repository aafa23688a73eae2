// tests/support/address_space_model: a reference model of mm::AddressSpace over the qemu-virt
// fixture (tests/support/address_space_fixture.hpp), in plain standard containers.
//
// Written from the documented contract, not from the implementation: which pages may be shared and
// which devices ioremapped comes from the platform's constants (qemu_virt.hpp and the fixture's two
// test windows), the order of the errors from address_space.hpp, where a range is placed from the
// placement rule va_allocator.cpp documents, which run phys_to_virt answers with from pa_index.hpp,
// and where level-2 blocks go from translation_table.hpp. For every call it predicts the answer
// (success and the VA, or the exact error); after a success it holds the state the address space
// must then show (ranges, owners, reference counts, PA runs, and the table pages they need).
//
// What it cannot predict exactly it says so: the VA allocators' node pools are B+tree blocks, so
// when a call could need more nodes than 2n + 1 guarantees, kOutOfMemory is allowed as well.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <tuple>
#include <vector>

#include "base/address.hpp"
#include "base/guest_id.hpp"
#include "base/result.hpp"
#include "mm/memory_map.hpp"
#include "platform/builtin/qemu_virt.hpp"
#include "support/address_space_fixture.hpp"

namespace teemm::testing {

inline constexpr uint64_t kModelBlock = uint64_t{1} << 21;  // a level-2 block

// What the model expects of one call.
struct Prediction {
  Error error = Error::kOk;   // kOk: success predicted; otherwise exactly this error
  bool may_run_out = false;   // success predicted, but kOutOfMemory (VA-allocator nodes) is allowed
  uint64_t va = 0;            // success: the VA returned
  bool changes_state = true;  // success: false for a static IO answer
  // ioremap of a range the owner's live mappings cover: returning one of these VAs shares that
  // mapping. Otherwise (or also, with new_allowed) the answer is the one above for a new mapping.
  std::vector<uint64_t> shares;
  bool new_allowed = true;
};

struct ModelShm {
  GuestId owner;
  uint64_t cookie = 0;
  std::vector<uint64_t> pages;
  uint64_t size() const { return pages.size() * kPageSize; }
};

struct ModelIo {
  GuestId owner;
  uint64_t pa = 0;    // first page
  uint64_t size = 0;  // whole pages
  bool secure = false;
  uint64_t refs = 1;
};

struct ModelRun {
  uint64_t pa = 0;
  uint64_t va = 0;
  uint64_t size = 0;
  mm::MemoryType type = mm::MemoryType::kNsecShm;
  GuestId owner;
};

class AddressSpaceModel {
 public:
  struct Limits {
    size_t scratch_pages = 0;       // the page scratch the address space was given
    size_t pa_nodes = 0;            // PA-index capacity (runs)
    size_t va_nodes = 0;            // each VA allocator's node count
    size_t table_pages = 0;         // the pool's capacity
    size_t static_table_pages = 0;  // what the static map uses
  };

  AddressSpaceModel(const mm::MemoryMap& map, const Limits& limits) : limits_(limits) {
    for (const mm::MapEntry& e : map) {
      statics_.push_back(e);
      if (e.type == mm::MemoryType::kShmVaspace) shm_window_ = {e.va.value, e.size.bytes};
      if (e.type == mm::MemoryType::kResVaspace) io_window_ = {e.va.value, e.size.bytes};
    }
  }

  // ---- The platform, as its header declares it ----------------------------------------------------

  // Only non-secure DRAM outside the static SHM carve-out may become dynamic shared memory.
  static bool shareable(uint64_t pa) {
    using namespace platform::qemu_virt;
    const bool dram = pa >= kDramBase && pa - kDramBase < kDramSize;
    const bool carve_out = pa >= kNsecShmBase && pa - kNsecShmBase < kNsecShmSize;
    return dram && !carve_out;
  }

  struct Device {
    uint64_t base, size;
    bool secure;
  };
  // Every device the platform declares (ioremap-able windows and the statically mapped IO).
  static constexpr Device kDevices[] = {
      {platform::qemu_virt::kGicBase, platform::qemu_virt::kGicSize, true},
      {platform::qemu_virt::kUart0Base, platform::qemu_virt::kUartSize, false},
      {platform::qemu_virt::kSecureUartBase, platform::qemu_virt::kUartSize, true},
      {platform::qemu_virt::kRtcBase, platform::qemu_virt::kPl0x1Size, false},
      {platform::qemu_virt::kGpioBase, platform::qemu_virt::kPl0x1Size, false},
      {platform::qemu_virt::kSecureGpioBase, platform::qemu_virt::kPl0x1Size, true},
      {platform::qemu_virt::kVirtioMmioBase, platform::qemu_virt::kVirtioMmioSize, false},
      {kTestDeviceNonSecure, kTestDeviceSize, false},
      {kTestDeviceSecure, kTestDeviceSize, true},
  };

  // [first, end) lies in declared devices of that security (touching windows count as one).
  static bool device_allowed(uint64_t first, uint64_t end, bool secure) {
    for (uint64_t at = first; at < end;) {
      bool extended = false;
      for (const Device& d : kDevices) {
        if (d.secure == secure && d.base <= at && at < d.base + d.size) {
          at = d.base + d.size;
          extended = true;
        }
      }
      if (!extended) return false;
    }
    return true;
  }

  // ---- Predictions ------------------------------------------------------------------------------------

  Prediction predict_map_shared(const PhysAddr* pages, uint64_t count) const {
    Prediction p;
    if (count == 0) return fail(Error::kZeroSize);
    if (pages == nullptr) return fail(Error::kInvalidArgument);
    if (count > shm_window_.size / kPageSize - 1) return fail(Error::kNoVirtualSpace);
    if (count > limits_.scratch_pages) return fail(Error::kLimitReached);
    for (uint64_t i = 0; i < count; ++i) {
      if ((pages[i].value & kPageMask) != 0) return fail(Error::kMisaligned);
      if (!shareable(pages[i].value)) return fail(Error::kForbiddenMemory);
    }
    std::vector<uint64_t> list(count);
    for (uint64_t i = 0; i < count; ++i) list[i] = pages[i].value;
    if (runs_.size() + runs_of(list).size() > limits_.pa_nodes) return fail(Error::kOutOfMemory);
    const uint64_t alignment = count >= kModelBlock / kPageSize && list[0] % kModelBlock == 0 ? kModelBlock : kPageSize;
    const std::optional<uint64_t> va = first_fit(shm_reserved(), shm_window_, count * kPageSize + kPageSize, alignment);
    if (!va) return fail(Error::kNoVirtualSpace);
    p.may_run_out = nodes_may_run_out(shm_.size());
    if (new_tables(*va, page_levels(*va, list)) > free_table_pages()) {
      p.error = Error::kOutOfMemory;
      return p;
    }
    p.va = *va;
    return p;
  }

  Prediction predict_unmap_shared(GuestId owner, uint64_t va) const {
    const auto it = shm_.find(va);
    if (it == shm_.end()) return fail(Error::kNotFound);
    if (it->second.owner != owner) return fail(Error::kPermissionDenied);
    return Prediction{};
  }

  Prediction predict_ioremap(GuestId owner, uint64_t pa, uint64_t size, bool secure) const {
    Prediction p;
    if (size == 0) return fail(Error::kZeroSize);
    if (!range_fits(pa, size, kAddressLimit)) return fail(Error::kAddressOverflow);
    const mm::MemoryType type = secure ? mm::MemoryType::kIoSec : mm::MemoryType::kIoNsec;
    for (const mm::MapEntry& e : statics_) {
      if (e.type == type && e.pa.value <= pa && pa + size <= e.pa.value + e.size.bytes) {
        p.va = e.va.value + (pa - e.pa.value);
        p.changes_state = false;
        return p;
      }
    }
    const uint64_t first = pa & ~kPageMask;
    const uint64_t end = (pa + size + kPageMask) & ~kPageMask;
    if (!device_allowed(first, end, secure)) return fail(Error::kForbiddenMemory);
    // Repeated calls of one owner for a range a live mapping of theirs covers share it.
    for (const auto& [start, io] : io_) {
      if (io.owner == owner && io.secure == secure && io.pa <= first && end <= io.pa + io.size)
        p.shares.push_back(start + (pa - io.pa));
    }
    if (!p.shares.empty()) {
      // Known defect (fuzz/README.md): the address space only looks at the covering run
      // phys_to_virt answers with, the lowest of any owner; when that one is another guest's it maps
      // the range again instead of sharing. Tolerated unless strict_sharing.
      const ModelRun* lowest = lowest_run(type, first, end - first);
      p.new_allowed = !strict_sharing && lowest != nullptr && lowest->owner != owner;
      if (!p.new_allowed) return p;
    }
    if (runs_.size() >= limits_.pa_nodes) return fail_keeping(p, Error::kOutOfMemory);
    const std::optional<uint64_t> va = first_fit(io_reserved(), io_window_, end - first + kPageSize, kPageSize);
    if (!va) return fail_keeping(p, Error::kNoVirtualSpace);
    p.may_run_out = nodes_may_run_out(io_.size());
    if (new_tables(*va, std::vector<uint8_t>((end - first) / kPageSize, 3)) > free_table_pages()) {
      p.error = Error::kOutOfMemory;
      return p;
    }
    p.va = *va + (pa - first);
    return p;
  }

  Prediction predict_iounmap(GuestId owner, uint64_t va) const {
    for (const mm::MapEntry& e : statics_) {
      if (mm::is_io_type(e.type) && e.va.value <= va && va - e.va.value < e.size.bytes) {
        Prediction p;
        p.changes_state = false;
        return p;
      }
    }
    const auto it = io_containing(va);
    if (it == io_.end()) return fail(Error::kNotFound);
    if (it->second.owner != owner) return fail(Error::kPermissionDenied);
    return Prediction{};
  }

  // phys_to_virt: the static map's VA, else the run of `type` covering the whole range with the lowest
  // (PA start, VA), else kNotFound.
  Result<VirtAddr> predict_phys_to_virt(uint64_t pa, uint64_t size, mm::MemoryType type) const {
    const uint64_t length = size == 0 ? 1 : size;
    if (!range_fits(pa, length, kAddressLimit)) return Error::kAddressOverflow;
    for (const mm::MapEntry& e : statics_) {
      if (e.type == type && !e.is_va_reservation() && e.pa.value <= pa && pa + length <= e.pa.value + e.size.bytes)
        return VirtAddr(e.va.value + (pa - e.pa.value));
    }
    if (!mm::is_valid_type(type)) return Error::kInvalidArgument;
    if (const ModelRun* run = lowest_run(type, pa, length)) return VirtAddr(run->va + (pa - run->pa));
    return Error::kNotFound;
  }

  // The run of `type` holding all of [pa, pa + length) with the lowest (PA start, VA), if any.
  const ModelRun* lowest_run(mm::MemoryType type, uint64_t pa, uint64_t length) const {
    // Key order is (type, PA, VA): the first covering run met is the answer. None starts lower than
    // the longest run ever added reaches.
    const uint64_t from = pa > longest_run_ ? pa - longest_run_ : 0;
    for (auto it = runs_by_pa_.lower_bound({type, from, 0}); it != runs_by_pa_.end(); ++it) {
      const ModelRun& run = it->second;
      if (run.type != type || run.pa > pa) break;
      if (run.pa + run.size >= pa + length) return &run;
    }
    return nullptr;
  }

  // Enforce ioremap's documented sharing even where the known defect (above) breaks it.
  bool strict_sharing = true;

  Result<PhysAddr> predict_virt_to_phys(uint64_t va) const {
    for (const mm::MapEntry& e : statics_) {
      if (!e.is_va_reservation() && e.va.value <= va && va - e.va.value < e.size.bytes)
        return PhysAddr(e.pa.value + (va - e.va.value));
    }
    if (const ModelRun* run = run_at(va)) return PhysAddr(run->pa + (va - run->va));
    return Error::kNotFound;
  }

  // The PA a walk of `va` must give, if the dynamic ranges map it (nullopt: a fault there, when
  // `va` lies in a reservation).
  std::optional<uint64_t> dynamic_pa(uint64_t va) const {
    if (const ModelRun* run = run_at(va)) return run->pa + (va - run->va);
    return std::nullopt;
  }
  bool in_reservation(uint64_t va) const {
    return (va >= shm_window_.base && va - shm_window_.base < shm_window_.size) ||
           (va >= io_window_.base && va - io_window_.base < io_window_.size);
  }

  // ---- State changes after a success ---------------------------------------------------------------------

  void map_shared(uint64_t va, GuestId owner, uint64_t cookie, std::vector<uint64_t> pages) {
    const std::vector<uint8_t> levels = page_levels(va, pages);
    count_tables(va, levels, +1);
    uint64_t index = 0;
    for (const ModelRun& r : runs_of(pages)) {
      add_run(ModelRun{r.pa, va + index * kPageSize, r.size, mm::MemoryType::kNsecShm, owner});
      index += r.size / kPageSize;
    }
    shm_[va] = ModelShm{owner, cookie, std::move(pages)};
  }

  void unmap_shared(uint64_t va) {
    const ModelShm& m = shm_.at(va);
    count_tables(va, page_levels(va, m.pages), -1);
    remove_runs(va, m.size());
    shm_.erase(va);
  }

  // A new IO mapping at `start` (the page-aligned VA, not the one returned).
  void ioremap_new(uint64_t start, GuestId owner, uint64_t first, uint64_t size, bool secure) {
    count_tables(start, std::vector<uint8_t>(size / kPageSize, 3), +1);
    add_run(ModelRun{first, start, size, secure ? mm::MemoryType::kIoSec : mm::MemoryType::kIoNsec, owner});
    io_[start] = ModelIo{owner, first, size, secure, 1};
  }
  // A share of the mapping that holds `va`.
  void ioremap_share(uint64_t va) { ++io_containing_mut(va)->second.refs; }

  // iounmap of a dynamic mapping: true when the mapping went (its last reference).
  bool iounmap(uint64_t va) {
    auto it = io_containing_mut(va);
    if (--it->second.refs > 0) return false;
    count_tables(it->first, std::vector<uint8_t>(it->second.size / kPageSize, 3), -1);
    remove_runs(it->first, it->second.size);
    io_.erase(it);
    return true;
  }

  // ---- Views -----------------------------------------------------------------------------------------------

  const std::map<uint64_t, ModelShm>& shm() const { return shm_; }
  const std::map<uint64_t, ModelIo>& io() const { return io_; }
  std::map<uint64_t, ModelIo>::const_iterator io_containing(uint64_t va) const {
    auto it = io_.upper_bound(va);
    if (it == io_.begin()) return io_.end();
    --it;
    return va - it->first < it->second.size ? it : io_.end();
  }
  size_t runs() const { return runs_.size(); }
  size_t table_pages() const { return limits_.static_table_pages + l3_pages_.size(); }
  uint64_t shm_in_use() const {
    uint64_t bytes = 0;
    for (const auto& [va, m] : shm_) bytes += m.size() + kPageSize;
    return bytes;
  }
  uint64_t io_in_use() const {
    uint64_t bytes = 0;
    for (const auto& [va, m] : io_) bytes += m.size + kPageSize;
    return bytes;
  }
  size_t live_pages() const { return (shm_in_use() + io_in_use()) / kPageSize; }

  // Level of each page's leaf: 2 where a whole 2 MiB-aligned VA chunk maps 512 contiguous pages
  // starting 2 MiB aligned, 3 elsewhere.
  static std::vector<uint8_t> page_levels(uint64_t va, const std::vector<uint64_t>& pages) {
    std::vector<uint8_t> levels(pages.size(), 3);
    const uint64_t per_block = kModelBlock / kPageSize;
    for (uint64_t i = 0; i < pages.size(); ++i) {
      const uint64_t at = va + i * kPageSize;
      if (at % kModelBlock != 0 || pages.size() - i < per_block || pages[i] % kModelBlock != 0) continue;
      bool contiguous = true;
      for (uint64_t k = 1; k < per_block && contiguous; ++k) contiguous = pages[i + k] == pages[i] + k * kPageSize;
      if (!contiguous) continue;
      for (uint64_t k = 0; k < per_block; ++k) levels[i + k] = 2;
      i += per_block - 1;
    }
    return levels;
  }

  // Physically contiguous chunks of a list (one PA-index run each); `va` fields are page offsets.
  static std::vector<ModelRun> runs_of(const std::vector<uint64_t>& pages) {
    std::vector<ModelRun> runs;
    for (uint64_t i = 0; i < pages.size(); ++i) {
      if (!runs.empty() && pages[i] == runs.back().pa + runs.back().size)
        runs.back().size += kPageSize;
      else
        runs.push_back(ModelRun{pages[i], i * kPageSize, kPageSize, mm::MemoryType::kNsecShm, GuestId()});
    }
    return runs;
  }

 private:
  struct Window {
    uint64_t base = 0, size = 0;
  };

  static Prediction fail(Error error) {
    Prediction p;
    p.error = error;
    return p;
  }
  static Prediction fail_keeping(Prediction p, Error error) {
    p.error = error;
    return p;
  }

  // The VA allocator documents that n used ranges need at most 2n + 1 nodes: beyond that guarantee
  // its B+tree may or may not find a block.
  bool nodes_may_run_out(size_t used_ranges) const { return 2 * (used_ranges + 1) + 1 > limits_.va_nodes; }

  size_t free_table_pages() const { return limits_.table_pages - table_pages(); }

  // Level-3 pages of a range per 2 MiB VA chunk.
  static std::vector<std::pair<uint64_t, int64_t>> pages_per_chunk(uint64_t va, const std::vector<uint8_t>& levels) {
    std::vector<std::pair<uint64_t, int64_t>> chunks;
    for (uint64_t i = 0; i < levels.size(); ++i) {
      if (levels[i] != 3) continue;
      const uint64_t chunk = (va + i * kPageSize) / kModelBlock;
      if (chunks.empty() || chunks.back().first != chunk) chunks.emplace_back(chunk, 0);
      ++chunks.back().second;
    }
    return chunks;
  }

  // Level-3 tables a new range needs: its page-mapped 2 MiB chunks that have no table yet.
  size_t new_tables(uint64_t va, const std::vector<uint8_t>& levels) const {
    size_t tables = 0;
    for (const auto& [chunk, pages] : pages_per_chunk(va, levels)) tables += l3_pages_.count(chunk) == 0 ? 1 : 0;
    return tables;
  }

  void count_tables(uint64_t va, const std::vector<uint8_t>& levels, int delta) {
    for (const auto& [chunk, pages] : pages_per_chunk(va, levels)) {
      if ((l3_pages_[chunk] += delta * pages) == 0) l3_pages_.erase(chunk);
    }
  }

  std::map<uint64_t, uint64_t> shm_reserved() const {
    std::map<uint64_t, uint64_t> used;
    for (const auto& [va, m] : shm_) used[va] = m.size() + kPageSize;
    return used;
  }
  std::map<uint64_t, uint64_t> io_reserved() const {
    std::map<uint64_t, uint64_t> used;
    for (const auto& [va, m] : io_) used[va] = m.size + kPageSize;
    return used;
  }

  // The documented placement (va_allocator.cpp): the lowest free range of at least
  // span + alignment - 4 KiB, at its first aligned slot; failing that, the lowest free range that
  // holds an aligned slot at all; nothing when none does.
  static std::optional<uint64_t> first_fit(const std::map<uint64_t, uint64_t>& used, Window window, uint64_t span,
                                           uint64_t alignment) {
    std::vector<std::pair<uint64_t, uint64_t>> gaps;
    uint64_t at = window.base;
    for (const auto& [start, size] : used) {
      if (start > at) gaps.emplace_back(at, start);
      at = start + size;
    }
    if (window.base + window.size > at) gaps.emplace_back(at, window.base + window.size);
    const auto aligned = [alignment](uint64_t v) { return (v + alignment - 1) & ~(alignment - 1); };
    for (const auto& [start, end] : gaps)
      if (end - start >= span + alignment - kPageSize) return aligned(start);
    for (const auto& [start, end] : gaps)
      if (aligned(start) < end && end - aligned(start) >= span) return aligned(start);
    return std::nullopt;
  }

  void add_run(const ModelRun& run) {
    if (run.size > longest_run_) longest_run_ = run.size;
    runs_[run.va] = run;
    runs_by_pa_[{run.type, run.pa, run.va}] = run;
  }
  void remove_runs(uint64_t va, uint64_t size) {
    for (auto it = runs_.lower_bound(va); it != runs_.end() && it->first < va + size;) {
      runs_by_pa_.erase({it->second.type, it->second.pa, it->second.va});
      it = runs_.erase(it);
    }
  }
  const ModelRun* run_at(uint64_t va) const {
    auto it = runs_.upper_bound(va);
    if (it == runs_.begin()) return nullptr;
    --it;
    return va - it->first < it->second.size ? &it->second : nullptr;
  }
  std::map<uint64_t, ModelIo>::iterator io_containing_mut(uint64_t va) {
    auto it = io_.upper_bound(va);
    --it;
    return it;
  }

  Limits limits_;
  std::vector<mm::MapEntry> statics_;
  Window shm_window_, io_window_;
  std::map<uint64_t, ModelShm> shm_;
  std::map<uint64_t, ModelIo> io_;
  std::map<uint64_t, ModelRun> runs_;                                              // by VA
  std::map<std::tuple<mm::MemoryType, uint64_t, uint64_t>, ModelRun> runs_by_pa_;  // (type, PA, VA)
  uint64_t longest_run_ = 0;
  std::map<uint64_t, int64_t> l3_pages_;  // page leaves per 2 MiB VA chunk (each needs a level-3 table)
};

}  // namespace teemm::testing
