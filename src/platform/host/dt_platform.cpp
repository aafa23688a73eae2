// Deriving a platform from a device tree (see dt_platform.hpp).
#include "platform/host/dt_platform.hpp"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <set>
#include <tuple>

namespace teemm::platform::host {
namespace {

std::string hex_digits(uint64_t value) {
  char text[24];
  std::snprintf(text, sizeof(text), "%" PRIx64, value);
  return text;
}

std::string last_component(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// Names regions after their nodes ("pl011@9000000", "intc@8000000[1]"); a name already taken
// (two buses with a node of the same name) falls back to the full path.
class Namer {
 public:
  std::string name(const std::string& node, unsigned index) {
    const std::string suffix = index == 0 ? "" : "[" + std::to_string(index) + "]";
    std::string candidate = last_component(node) + suffix;
    if (!used_.insert(candidate).second) {
      candidate = node + suffix;
      used_.insert(candidate);
    }
    return candidate;
  }
  void reserve(const std::string& name) { used_.insert(name); }

 private:
  std::set<std::string> used_;
};

std::string origin(const std::string& node, unsigned index) { return node + " reg[" + std::to_string(index) + "]"; }

mm::MemoryType io_type(const Availability& a) {
  return a.secure_only() ? mm::MemoryType::kIoSec : mm::MemoryType::kIoNsec;
}

// Device registers rounded out to whole pages.
Interval device_pages(const DtRange& r) { return Interval{page_floor(r.base), page_ceil(r.end())}; }

}  // namespace

std::vector<std::string> missing_members(const PlatformSpec& spec) {
  std::vector<std::string> missing;
  if (!spec.tee_ram) missing.push_back("tee_ram");
  if (!spec.ta_ram) missing.push_back("ta_ram");
  if (!spec.shm_vaspace) missing.push_back("shm_vaspace");
  return missing;
}

uint64_t page_floor(uint64_t value) { return value & ~kPageMask; }
uint64_t page_ceil(uint64_t value) {
  return value > UINT64_MAX - kPageMask ? UINT64_MAX & ~kPageMask : (value + kPageMask) & ~kPageMask;
}

std::vector<Interval> interval_union(std::vector<Interval> ranges) {
  std::erase_if(ranges, [](const Interval& i) { return i.end <= i.begin; });
  std::sort(ranges.begin(), ranges.end(), [](const Interval& a, const Interval& b) { return a.begin < b.begin; });
  std::vector<Interval> out;
  for (const Interval& i : ranges) {
    if (!out.empty() && i.begin <= out.back().end)
      out.back().end = std::max(out.back().end, i.end);
    else
      out.push_back(i);
  }
  return out;
}

std::vector<Interval> interval_subtract(const std::vector<Interval>& from, const std::vector<Interval>& minus) {
  const std::vector<Interval> base = interval_union(from);
  const std::vector<Interval> holes = interval_union(minus);
  std::vector<Interval> out;
  size_t h = 0;
  for (const Interval& piece : base) {
    uint64_t at = piece.begin;
    while (h < holes.size() && holes[h].end <= at) ++h;
    for (size_t k = h; k < holes.size() && holes[k].begin < piece.end; ++k) {
      if (holes[k].begin > at) out.push_back(Interval{at, holes[k].begin});
      at = std::max(at, holes[k].end);
      if (at >= piece.end) break;
    }
    if (at < piece.end) out.push_back(Interval{at, piece.end});
  }
  return out;
}

MemoryView memory_view(const DeviceTree& tree) {
  MemoryView view;
  for (const DtMemory& m : tree.memory) {
    const Interval i{m.range.base, m.range.end()};
    if (m.availability.non_secure)
      view.non_secure_memory.push_back(i);
    else
      view.secure_memory.push_back(i);
  }
  for (const DtReserved& r : tree.reserved) {
    const Interval i{r.range.base, r.range.end()};
    const bool secure = r.role == ReservedRole::kOpteeCore || r.availability.secure_only();
    if (secure) view.secure_memory.push_back(i);
    if (secure || r.no_map) view.withheld.push_back(i);
  }
  for (const Interval& i : view.secure_memory) view.withheld.push_back(i);
  view.non_secure_memory = interval_union(view.non_secure_memory);
  view.secure_memory = interval_union(view.secure_memory);
  view.withheld = interval_union(view.withheld);
  return view;
}

void DtPlatform::add(const mm::Region& region, const std::string& name, const std::string& where,
                     std::optional<DtRange> range) {
  names_.push_back(name);
  mm::Region r = region;
  r.name = names_.back().c_str();
  regions.push_back(r);
  origins.push_back(where);
  unrounded.push_back(range.value_or(DtRange{region.base.value, region.size.bytes}));
}

const std::string& DtPlatform::origin_of(const char* name) const {
  static const std::string kNone;
  for (size_t i = 0; i < regions.size(); ++i)
    if (regions[i].name == name || std::string(regions[i].name) == name) return origins[i];
  return kNone;
}

DtPlatform derive_platform(const DeviceTree& tree, const PlatformSpec& spec) {
  DtPlatform p;
  p.source = tree.source;
  p.model = tree.model;
  Namer namer;
  for (const char* fixed :
       {"tee-code", "tee-rodata", "tee-data", "ta-ram", "nsec-shm", "shm-vaspace", "io-vaspace", "sdp"})
    namer.reserve(fixed);
  using mm::MemoryType;

  // What the TEE maps at boot: its own RAM, TA RAM, the GIC, the UARTs and the static SHM.
  if (spec.tee_ram) {
    const TeeRamSpec& t = *spec.tee_ram;
    if (t.code > 0) p.add(mm::mapped_region("", MemoryType::kTeeRamRx, t.pa, t.code), "tee-code", "tee_ram (code)");
    if (t.rodata > 0)
      p.add(mm::mapped_region("", MemoryType::kTeeRamRo, t.pa + t.code, t.rodata), "tee-rodata", "tee_ram (rodata)");
    if (t.data > 0)
      p.add(mm::mapped_region("", MemoryType::kTeeRamRw, t.pa + t.code + t.rodata, t.data), "tee-data",
            "tee_ram (data)");
  }
  if (spec.ta_ram)
    p.add(mm::mapped_region("", MemoryType::kTaRam, spec.ta_ram->pa, spec.ta_ram->size), "ta-ram", "ta_ram");

  std::set<std::tuple<uint64_t, uint64_t, int, int>> seen;  // (base, end, kind, type) already derived
  const auto add_device = [&](const DtDevice& d, mm::RegionKind kind, MemoryType type) {
    const Interval pages = device_pages(d.range);
    if (!seen.insert({pages.begin, pages.end, static_cast<int>(kind), static_cast<int>(type)}).second) return;
    p.add(mm::Region{"", kind, type, PhysAddr(pages.begin), Size(pages.size())}, namer.name(d.node, d.index),
          origin(d.node, d.index), d.range);
  };
  for (const DtDevice& d : tree.devices)
    if (d.device_class == DeviceClass::kGic && d.gic_cpu_facing)
      add_device(d, mm::RegionKind::kMapped, MemoryType::kIoSec);
  for (const DtDevice& d : tree.devices)
    if (d.device_class == DeviceClass::kUart) add_device(d, mm::RegionKind::kMapped, io_type(d.availability));

  if (spec.nsec_shm) {
    p.add(mm::mapped_region("", MemoryType::kNsecShm, spec.nsec_shm->pa, spec.nsec_shm->size), "nsec-shm", "nsec_shm");
  } else {
    for (const DtReserved& r : tree.reserved)
      if (r.role == ReservedRole::kOpteeShm)
        p.add(mm::mapped_region("", MemoryType::kNsecShm, r.range.base, r.range.size), namer.name(r.node, r.index),
              origin(r.node, r.index));
  }
  if (spec.shm_vaspace)
    p.add(mm::va_reservation("", MemoryType::kShmVaspace, *spec.shm_vaspace), "shm-vaspace", "shm_vaspace");
  if (spec.io_vaspace)
    p.add(mm::va_reservation("", MemoryType::kResVaspace, *spec.io_vaspace), "io-vaspace", "io_vaspace");

  // Devices the core may ioremap later.
  for (const DtDevice& d : tree.devices)
    if (d.device_class == DeviceClass::kOther || (d.device_class == DeviceClass::kGic && !d.gic_cpu_facing))
      add_device(d, mm::RegionKind::kDeviceIo, io_type(d.availability));

  if (spec.sdp) p.add(mm::sdp_region("", spec.sdp->pa, spec.sdp->size), "sdp", "sdp");

  // Non-secure DDR: what the normal world may use, minus everything withheld from it and the TEE's own.
  const MemoryView view = memory_view(tree);
  std::vector<Interval> withheld = view.withheld;
  if (spec.tee_ram) withheld.push_back(Interval{spec.tee_ram->pa, spec.tee_ram->pa + spec.tee_ram->size()});
  if (spec.ta_ram) withheld.push_back(Interval{spec.ta_ram->pa, spec.ta_ram->pa + spec.ta_ram->size});
  if (spec.sdp) withheld.push_back(Interval{spec.sdp->pa, spec.sdp->pa + spec.sdp->size});
  for (Interval& i : withheld) i = Interval{page_floor(i.begin), page_ceil(i.end)};
  for (const Interval& i : interval_subtract(view.non_secure_memory, withheld)) {
    const Interval pages{page_ceil(i.begin), page_floor(i.end)};
    if (pages.end <= pages.begin) continue;
    p.add(mm::nsec_ddr_region("", pages.begin, pages.size()), "nsec-ddr@" + hex_digits(pages.begin), "memory nodes");
  }
  for (const DtMemory& m : tree.memory) {
    const Interval pages{page_ceil(m.range.base), page_floor(m.range.end())};
    if (pages.end <= pages.begin) continue;
    p.add(mm::ddr_region("", pages.begin, pages.size()), namer.name(m.node, m.index), origin(m.node, m.index), m.range);
  }
  return p;
}

}  // namespace teemm::platform::host
