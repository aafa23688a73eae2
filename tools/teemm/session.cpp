// Building a CLI session (see session.hpp).
#include "session.hpp"

#include <cinttypes>
#include <cstdio>

namespace teemm::tool {

std::string hex_address(uint64_t value) {
  char text[32];
  std::snprintf(text, sizeof(text), "0x%" PRIx64, value);
  return text;
}

std::string describe_refusal(const mm::Refusal& refusal) {
  std::string text = refusal.region != nullptr ? std::string("region '") + refusal.region + "'" : "layout options";
  text += std::string(": ") + error_name(refusal.error);
  if (refusal.conflicting != nullptr) text += std::string(" with region '") + refusal.conflicting + "'";
  return text;
}

Session::Session(const std::string& platform_name, const std::vector<mm::Region>& regions,
                 const SessionOptions& options)
    : platform_name_(platform_name),
      region_storage_(regions.size() + 1),
      entry_storage_(regions.size() + 1),
      registry_(region_storage_.data(), region_storage_.size()),
      map_(entry_storage_.data(), entry_storage_.size()) {
  if (mm::Refusal r = registry_.add_all(regions.data(), regions.size()); !r.ok()) {
    error_ = "registration refused: " + describe_refusal(r);
    return;
  }
  if (mm::Refusal r = map_.build(registry_, options.layout); !r.ok()) {
    // Name what the user gave: a layout that stands without its VA offset was refused for the
    // offset, not for the region that the offset first pushed out of range.
    if (refused_for_offset(options.layout))
      error_ = "layout refused: --va-offset " + hex_address(options.layout.va_offset) + ": " + error_name(r.error);
    else
      error_ = "layout refused: " + describe_refusal(r);
    return;
  }
  pages_.reset(new arm64::TablePage[options.table_pages]);
  live_counts_.reset(new uint16_t[options.table_pages]);
  // The tables are simulated at the start of the TEE's RW memory, where a TEE core keeps them.
  const mm::MapEntry* rw = map_.find_type(mm::MemoryType::kTeeRamRw);
  const PhysAddr pool_base = rw != nullptr ? rw->pa : PhysAddr(0);
  pool_ = std::make_unique<arm64::TablePool>(pages_.get(), live_counts_.get(), options.table_pages, pool_base);
  Result<arm64::Stage1Table> table =
      arm64::Stage1Table::create(*pool_, options.layout.va_bits, arm64::TranslationRegime::kEl1And0, options.pa_bits);
  if (!table) {
    error_ = std::string("table pool: ") + error_name(table.error());
    return;
  }
  table_ = table.value();
  if (Status s = mm::map_static_regions(map_, table_); !s) {
    error_ = std::string("building tables: ") + error_name(s.error());
    return;
  }
  if (map_.find_type(mm::MemoryType::kShmVaspace) != nullptr) start_address_space(options);
}

bool Session::refused_for_offset(const mm::LayoutOptions& layout) const {
  if (layout.va_offset == 0) return false;
  mm::LayoutOptions identity = layout;
  identity.va_offset = 0;
  std::vector<mm::MapEntry> entries(entry_storage_.size());
  mm::MemoryMap trial(entries.data(), entries.size());
  return trial.build(registry_, identity).ok();
}

bool Session::start_address_space(const SessionOptions& options) {
  const size_t nodes = mm::VaAllocator::nodes_needed(options.dynamic_ranges);
  shm_nodes_.resize(nodes);
  io_nodes_.resize(nodes);
  pa_nodes_.resize(options.dynamic_ranges);
  pa_slots_.resize(mm::AddressSpace::page_slots_for(map_));
  policy_.resize(mm::PagePolicy::ranges_needed(registry_));
  page_scratch_.resize(mm::AddressSpace::scratch_pages_for(map_));
  mm::AddressSpaceStorage storage;
  storage.shm_nodes = shm_nodes_.data();
  storage.shm_node_count = shm_nodes_.size();
  storage.io_nodes = io_nodes_.data();
  storage.io_node_count = io_nodes_.size();
  storage.pa_nodes = pa_nodes_.data();
  storage.pa_node_count = pa_nodes_.size();
  storage.pa_slots = pa_slots_.data();
  storage.pa_slot_count = pa_slots_.size();
  storage.policy_ranges = policy_.data();
  storage.policy_range_count = policy_.size();
  storage.page_scratch = page_scratch_.data();
  storage.page_scratch_count = page_scratch_.size();
  if (Status s = space_.init(table_, map_, registry_, storage); !s) {
    error_ = std::string("address space: ") + error_name(s.error());
    return false;
  }
  for (const SharedMemoryRequest& request : options.shared_memory) {
    if (request.pages > 0 && request.pages - 1 > (UINT64_MAX - request.pa) / kPageSize) {  // would wrap past 2^64
      error_ = "shared memory at PA " + hex_address(request.pa) + ": " + error_name(Error::kAddressOverflow);
      return false;
    }
    std::vector<PhysAddr> pages;
    for (uint64_t i = 0; i < request.pages; ++i) pages.push_back(PhysAddr(request.pa + i * kPageSize));
    const Result<VirtAddr> va = space_.map_shared(GuestId(1), pages.data(), PageCount(request.pages), 0);
    if (!va) {
      error_ = "shared memory at PA " + hex_address(request.pa) + ": " + error_name(va.error());
      return false;
    }
  }
  for (const IoRequest& request : options.io) {
    const Result<VirtAddr> va = space_.ioremap(GuestId(1), PhysAddr(request.pa), Size(request.size), request.secure);
    if (!va) {
      error_ = "ioremap of PA " + hex_address(request.pa) + ": " + error_name(va.error());
      return false;
    }
  }
  return true;
}

arm64::WalkResult Session::translate(uint64_t va) const {
  return arm64::walk(arm64::TableMemory{pool_.get()}, table_.raw().root(), arm64::Stage::kStage1,
                     table_.raw().input_bits(), va, table_.raw().output_bits());
}

}  // namespace teemm::tool
