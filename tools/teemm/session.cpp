// Building a CLI session (see session.hpp).
#include "session.hpp"

namespace teemm::tool {

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
    error_ = "layout refused: " + describe_refusal(r);
    return;
  }
  pages_.reset(new arm64::TablePage[options.table_pages]);
  live_counts_.reset(new uint16_t[options.table_pages]);
  // The tables are simulated at the start of the TEE's RW memory, where a TEE core keeps them.
  const mm::MapEntry* rw = map_.find_type(mm::MemoryType::kTeeRamRw);
  const PhysAddr pool_base = rw != nullptr ? rw->pa : PhysAddr(0);
  pool_ = std::make_unique<arm64::TablePool>(pages_.get(), live_counts_.get(), options.table_pages, pool_base);
  Result<arm64::Stage1Table> table = arm64::Stage1Table::create(*pool_, options.layout.va_bits);
  if (!table) {
    error_ = std::string("table pool: ") + error_name(table.error());
    return;
  }
  table_ = table.value();
  if (Status s = mm::map_static_regions(map_, table_); !s)
    error_ = std::string("building tables: ") + error_name(s.error());
}

arm64::WalkResult Session::translate(uint64_t va) const {
  return arm64::walk(arm64::TableMemory{pool_.get()}, table_.raw().root(), arm64::Stage::kStage1,
                     table_.raw().input_bits(), va);
}

}  // namespace teemm::tool
