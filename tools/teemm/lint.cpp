// Device-tree lint (see lint.hpp).
#include "lint.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <set>

#include "render.hpp"
#include "session.hpp"
#include "table_probe.hpp"

namespace teemm::tool {
namespace {

namespace host = platform::host;
using host::Interval;

constexpr uint64_t kBlock2M = uint64_t{1} << 21;
constexpr uint64_t kBlock1G = uint64_t{1} << 30;
// Bounds that keep any tree cheap: findings per check, pair comparisons per sweep.
constexpr size_t kMaxFindingsPerCheck = 200;
constexpr size_t kMaxPairComparisons = 4'000'000;

std::string range_text(uint64_t begin, uint64_t end) {
  return hex_address(begin) + ".." + hex_address(end) + " (" + human_size(end - begin) + ")";
}

std::string entry_name(const std::string& node, unsigned index) {
  return index == 0 ? node : node + " reg[" + std::to_string(index) + "]";
}

std::vector<Interval> intersect(const std::vector<Interval>& a, const std::vector<Interval>& b) {
  return host::interval_subtract(a, host::interval_subtract(a, b));
}

uint64_t total(const std::vector<Interval>& v) {
  uint64_t sum = 0;
  for (const Interval& i : v) sum += i.size();
  return sum;
}

// A tree item for overlap sweeps.
struct Item {
  Interval range;
  std::string name;
  size_t tag = 0;  // the caller's index
};

// Calls f(a, b) for every overlapping pair (by `range`), sweeping in address order; stops after
// kMaxPairComparisons comparisons (returns false then).
template <typename F>
bool for_each_overlap(std::vector<Item> items, F&& f) {
  std::sort(items.begin(), items.end(), [](const Item& x, const Item& y) { return x.range.begin < y.range.begin; });
  size_t comparisons = 0;
  for (size_t i = 0; i < items.size(); ++i)
    for (size_t j = i + 1; j < items.size() && items[j].range.begin < items[i].range.end; ++j) {
      if (++comparisons > kMaxPairComparisons) return false;
      if (items[j].range.end > items[j].range.begin && items[i].range.end > items[i].range.begin) f(items[i], items[j]);
    }
  return true;
}

class Linter {
 public:
  Linter(const host::DeviceTree& tree, const host::PlatformSpec& spec, const LintOptions& options)
      : tree_(tree), spec_(spec), options_(options), view_(host::memory_view(tree)) {
    for (const host::DtReserved& r : tree.reserved)
      if (r.no_map) no_map_.push_back(Interval{r.range.base, r.range.end()});
    no_map_ = host::interval_union(no_map_);
  }

  LintReport run() {
    report_.source = tree_.source;
    report_.model = tree_.model;
    check_tree_notes();
    check_memory();
    check_reserved();
    check_spec_placement();
    check_devices_present();
    check_optee();
    const bool registry_ok = check_registry();
    check_pa_range();
    if (registry_ok) check_layout_and_alignment();
    check_unused_secure_memory();
    std::stable_sort(report_.findings.begin(), report_.findings.end(),
                     [](const Finding& a, const Finding& b) { return a.severity < b.severity; });
    return std::move(report_);
  }

 private:
  const host::DeviceTree& tree_;
  const host::PlatformSpec& spec_;
  const LintOptions& options_;
  host::MemoryView view_;
  std::vector<Interval> no_map_;
  LintReport report_;
  std::vector<std::pair<std::string, size_t>> per_check_;

  void add(Severity severity, const std::string& check, std::vector<std::string> subjects, std::string message) {
    size_t* count = nullptr;
    for (auto& [name, n] : per_check_)
      if (name == check) count = &n;
    if (count == nullptr) {
      per_check_.emplace_back(check, 0);
      count = &per_check_.back().second;
    }
    if (++*count > kMaxFindingsPerCheck) {
      if (*count == kMaxFindingsPerCheck + 1)
        report_.findings.push_back(Finding{Severity::kInfo, check, {}, "more findings of this check left out"});
      return;
    }
    report_.findings.push_back(Finding{severity, check, std::move(subjects), std::move(message)});
  }

  // The memory nodes that contain part of `range`, for messages.
  std::string memory_nodes_meeting(const Interval& range, bool non_secure) const {
    std::string out;
    for (const host::DtMemory& m : tree_.memory) {
      if (m.availability.non_secure != non_secure) continue;
      if (m.range.base < range.end && range.begin < m.range.end()) {
        if (!out.empty()) out += ", ";
        out += m.node;
      }
    }
    return out;
  }

  // The part of `range` the normal world may use: in a memory node available to it, not withheld
  // by a no-map reservation and not secure memory.
  std::vector<Interval> exposed(const Interval& range, bool minus_secure) const {
    std::vector<Interval> out = intersect({range}, view_.non_secure_memory);
    out = host::interval_subtract(out, no_map_);
    if (minus_secure) out = host::interval_subtract(out, view_.secure_memory);
    return out;
  }

  void check_tree_notes() {
    for (const host::DtNote& n : tree_.notes) {
      const Severity s = n.level == host::NoteLevel::kError     ? Severity::kError
                         : n.level == host::NoteLevel::kWarning ? Severity::kWarning
                                                                : Severity::kInfo;
      add(s, "tree", {n.node}, n.text);
    }
  }

  void check_memory() {
    if (tree_.memory.empty())
      add(Severity::kWarning, "memory", {"/"}, "no memory node with a size: the platform has no DDR");
    std::vector<Item> items;
    for (size_t i = 0; i < tree_.memory.size(); ++i) {
      const host::DtMemory& m = tree_.memory[i];
      const std::string name = entry_name(m.node, m.index);
      if ((m.range.base & kPageMask) != 0 || (m.range.end() & kPageMask) != 0) {
        const uint64_t lost = m.range.size - (host::page_floor(m.range.end()) > host::page_ceil(m.range.base)
                                                  ? host::page_floor(m.range.end()) - host::page_ceil(m.range.base)
                                                  : 0);
        add(Severity::kWarning, "memory", {name},
            range_text(m.range.base, m.range.end()) + " is not page aligned: " + human_size(lost) +
                " at its edges are left out");
      }
      items.push_back(Item{Interval{m.range.base, m.range.end()}, name, i});
    }
    for_each_overlap(items, [&](const Item& a, const Item& b) {
      const host::DtMemory& ma = tree_.memory[a.tag];
      const host::DtMemory& mb = tree_.memory[b.tag];
      if (ma.availability.non_secure != mb.availability.non_secure) return;  // secure-exposed says it
      add(Severity::kWarning, "memory", {a.name, b.name},
          "memory described twice: " +
              range_text(std::max(a.range.begin, b.range.begin), std::min(a.range.end, b.range.end)));
    });
  }

  void check_reserved() {
    std::vector<Interval> all_memory = view_.non_secure_memory;
    for (const host::DtMemory& m : tree_.memory) all_memory.push_back(Interval{m.range.base, m.range.end()});
    all_memory = host::interval_union(all_memory);
    std::vector<Item> items;
    for (size_t i = 0; i < tree_.reserved.size(); ++i) {
      const host::DtReserved& r = tree_.reserved[i];
      const std::string name = entry_name(r.node, r.index);
      const Interval range{r.range.base, r.range.end()};
      items.push_back(Item{range, name, i});
      const bool secure = r.role == host::ReservedRole::kOpteeCore || r.availability.secure_only();
      // (With no memory at all, check_memory has said so once.)
      const std::vector<Interval> outside = host::interval_subtract({range}, all_memory);
      if (!outside.empty() && !tree_.memory.empty()) {
        if (secure)
          add(Severity::kInfo, "reserved", {name},
              human_size(total(outside)) + " of this secure reservation lie outside every memory node (" +
                  range_text(outside.front().begin, outside.front().end) + (outside.size() > 1 ? ", ..." : "") +
                  "): the normal world never sees it");
        else
          add(Severity::kWarning, "reserved", {name},
              "reserves " + human_size(total(outside)) + " that no memory node describes (" +
                  range_text(outside.front().begin, outside.front().end) + (outside.size() > 1 ? ", ..." : "") + ")");
      }
      if (secure) {
        const std::vector<Interval> open = exposed(range, false);
        if (!open.empty()) {
          const std::string what =
              r.role == host::ReservedRole::kOpteeCore ? "OP-TEE's carve-out" : "secure-only reservation";
          add(Severity::kError, "secure-exposed", {name, memory_nodes_meeting(open.front(), true)},
              what + " " + range_text(range.begin, range.end) + " has no no-map: the normal world maps " +
                  human_size(total(open)) + " of it, and its speculative accesses reach secure memory");
        }
      }
    }
    for_each_overlap(items, [&](const Item& a, const Item& b) {
      add(Severity::kWarning, "reserved", {a.name, b.name},
          "reservations overlap: " +
              range_text(std::max(a.range.begin, b.range.begin), std::min(a.range.end, b.range.end)));
    });
    // Secure-only memory nodes inside memory the normal world may use.
    for (const host::DtMemory& m : tree_.memory) {
      if (m.availability.non_secure) continue;
      const Interval range{m.range.base, m.range.end()};
      const std::vector<Interval> open = exposed(range, false);
      if (open.empty()) continue;
      add(Severity::kError, "secure-exposed", {entry_name(m.node, m.index), memory_nodes_meeting(open.front(), true)},
          "secure-only memory " + range_text(range.begin, range.end) +
              " is also in a memory node the normal world may use (" + human_size(total(open)) +
              " not withheld by a no-map reservation)");
    }
  }

  void check_spec_placement() {
    std::vector<Interval> described = view_.non_secure_memory;
    for (const Interval& i : view_.secure_memory) described.push_back(i);
    for (const host::DtReserved& r : tree_.reserved) described.push_back(Interval{r.range.base, r.range.end()});
    described = host::interval_union(described);
    struct Secure {
      const char* member;  // the spec's name for it
      const char* what;
      Interval range;
    };
    std::vector<Secure> items;
    if (spec_.tee_ram)
      items.push_back({"tee_ram", "TEE RAM", Interval{spec_.tee_ram->pa, spec_.tee_ram->pa + spec_.tee_ram->size()}});
    if (spec_.ta_ram)
      items.push_back({"ta_ram", "TA RAM", Interval{spec_.ta_ram->pa, spec_.ta_ram->pa + spec_.ta_ram->size}});
    if (spec_.sdp) items.push_back({"sdp", "SDP memory", Interval{spec_.sdp->pa, spec_.sdp->pa + spec_.sdp->size}});
    for (const Secure& s : items) {
      const std::vector<Interval> open = exposed(s.range, true);
      if (!open.empty()) {
        add(Severity::kError, "secure-exposed", {s.member, memory_nodes_meeting(open.front(), true)},
            std::string(s.what) + " " + range_text(s.range.begin, s.range.end) + ": " + human_size(total(open)) +
                " of it lie in memory the normal world may use (" + range_text(open.front().begin, open.front().end) +
                "); reserve it with no-map or describe it as secure memory");
      }
      const std::vector<Interval> nowhere = host::interval_subtract({s.range}, described);
      if (!nowhere.empty())
        add(Severity::kWarning, "placement", {s.member},
            std::string(s.what) + " " + range_text(s.range.begin, s.range.end) + ": " + human_size(total(nowhere)) +
                " lie in no memory node or reservation the tree describes");
    }
    // Static SHM over secure memory the tree declares (over TEE RAM and the like, the registry says it).
    std::vector<std::pair<std::string, Interval>> shm;
    if (spec_.nsec_shm) {
      shm.emplace_back("nsec-shm", Interval{spec_.nsec_shm->pa, spec_.nsec_shm->pa + spec_.nsec_shm->size});
    } else {
      for (const host::DtReserved& r : tree_.reserved)
        if (r.role == host::ReservedRole::kOpteeShm)
          shm.emplace_back(entry_name(r.node, r.index), Interval{r.range.base, r.range.end()});
    }
    for (const auto& [name, range] : shm) {
      const std::vector<Interval> secure = intersect({range}, view_.secure_memory);
      if (!secure.empty())
        add(Severity::kError, "secure-exposed", {name},
            "static shared memory " + range_text(range.begin, range.end) + " overlaps secure memory " +
                range_text(secure.front().begin, secure.front().end) + ": the normal world would reach it");
    }
    const std::vector<std::string> missing = host::missing_members(spec_);
    if (!missing.empty()) {
      std::string list;
      for (const std::string& m : missing) list += (list.empty() ? "" : ", ") + m;
      add(Severity::kInfo, "spec", {},
          "not given: " + list +
              " (--tee-ram, --ta-ram, --shm-vaspace or --platform-file); TEE RAM and TA RAM placement, their "
              "alignment and the unused secure memory are checked only when given");
    }
  }

  void check_devices_present() {
    bool gic = false;
    bool uart = false;
    bool secure_uart = false;
    for (const host::DtDevice& d : tree_.devices) {
      gic = gic || d.device_class == host::DeviceClass::kGic;
      if (d.device_class == host::DeviceClass::kUart) {
        uart = true;
        secure_uart = secure_uart || d.availability.secure_only();
      }
    }
    if (!gic)
      add(Severity::kWarning, "devices", {"/"},
          "no enabled GIC (arm,gic-400, arm,cortex-a15-gic, arm,gic-v3, ...): the TEE's interrupt controller is "
          "unknown");
    if (!uart) add(Severity::kWarning, "devices", {"/"}, "no enabled UART: the TEE has no console");
    if (uart && !secure_uart)
      add(Severity::kInfo, "devices", {"/"},
          "no secure-only UART (secure-status = \"okay\" with status = \"disabled\"): the TEE's console, if any, is "
          "shared with the normal world");
  }

  void check_optee() {
    if (tree_.optee_node.empty())
      add(Severity::kInfo, "optee", {"/firmware"},
          "no /firmware/optee node (compatible \"linaro,optee-tz\"): the normal world's OP-TEE driver will not probe "
          "unless the boot firmware adds it");
    else if (tree_.optee_method != "smc" && tree_.optee_method != "hvc")
      add(Severity::kWarning, "optee", {tree_.optee_node},
          "method is \"" + tree_.optee_method + "\", not \"smc\" or \"hvc\": the normal world cannot call OP-TEE");
    if (view_.secure_memory.empty())
      add(Severity::kWarning, "optee", {"/"},
          "the tree shows no secure memory (no secure-only memory node, no OP-TEE carve-out in /reserved-memory): "
          "where TEE RAM lies cannot be checked against it");
  }

  // ---- The derived platform, as the registry judges it ------------------------------------------

  host::DtPlatform platform_;

  std::string described(size_t i) const {
    const mm::Region& r = platform_.regions[i];
    std::string text = std::string(r.name) + " (" + mm::memory_type_name(r.type) + ")";
    return text;
  }

  std::string pair_message(size_t ia, size_t ib) const {
    const mm::Region& a = platform_.regions[ia];
    const mm::Region& b = platform_.regions[ib];
    const uint64_t begin = std::max(a.base.value, b.base.value);
    const uint64_t end = std::min(a.end(), b.end());
    if (mm::is_device(a) && mm::is_device(b)) {
      const host::DtRange& ra = platform_.unrounded[ia];
      const host::DtRange& rb = platform_.unrounded[ib];
      const bool raw_overlap = ra.base < rb.end() && rb.base < ra.end();
      if (raw_overlap)
        return described(ia) + " and " + described(ib) + " overlap with different security: " + range_text(begin, end);
      return described(ia) + " and " + described(ib) + " share the page(s) " + range_text(begin, end) +
             ": a page has one security, so one of them would be reachable in the other world";
    }
    if (mm::is_device(a) || mm::is_device(b)) {
      const size_t device = mm::is_device(a) ? ia : ib;
      const size_t memory = device == ia ? ib : ia;
      return "device " + described(device) + " lies in memory " + described(memory) + ": " + range_text(begin, end);
    }
    std::string why;
    if (a.kind == mm::RegionKind::kSecureDataPath || b.kind == mm::RegionKind::kSecureDataPath)
      why = "SDP memory may meet neither a static mapping nor non-secure memory";
    else if (a.kind == mm::RegionKind::kNonSecureDdr || b.kind == mm::RegionKind::kNonSecureDdr)
      why = "secure memory inside non-secure DDR";
    else
      why = "different mapped types";
    return described(ia) + " overlaps " + described(ib) + " at " + range_text(begin, end) + ": " + why;
  }

  std::string origin_suffix(size_t i) const {
    const std::string& o = platform_.origins[i];
    return o.empty() ? "" : " [" + o + "]";
  }

  bool check_registry() {
    platform_ = host::derive_platform(tree_, spec_);
    bool ok = true;
    for (size_t i = 0; i < platform_.regions.size(); ++i) {
      const mm::Refusal r = mm::check_region(platform_.regions[i]);
      if (r.ok()) continue;
      ok = false;
      const mm::Region& region = platform_.regions[i];
      add(Severity::kError, "conflict", {region.name},
          described(i) + ": " + error_name(r.error) +
              (region.is_va_reservation()
                   ? " (size " + hex_address(region.size.bytes) + ")"
                   : " (" + hex_address(region.base.value) + " + " + hex_address(region.size.bytes) + ")") +
              origin_suffix(i));
    }
    if (!ok) return false;
    std::vector<Item> items;
    for (size_t i = 0; i < platform_.regions.size(); ++i) {
      const mm::Region& r = platform_.regions[i];
      if (r.is_va_reservation()) continue;
      items.push_back(Item{Interval{r.base.value, r.end()}, r.name, i});
    }
    const bool complete = for_each_overlap(items, [&](const Item& a, const Item& b) {
      const mm::Refusal r = mm::check_pair(platform_.regions[a.tag], platform_.regions[b.tag]);
      if (r.ok()) return;
      ok = false;
      add(Severity::kError, "conflict", {a.name, b.name}, pair_message(a.tag, b.tag));
    });
    if (!complete) {
      ok = false;
      add(Severity::kError, "conflict", {"/"}, "too many overlapping regions to compare them all");
    }
    return ok;
  }

  void check_pa_range() {
    const uint64_t limit = uint64_t{1} << options_.pa_bits;
    for (size_t i = 0; i < platform_.regions.size(); ++i) {
      const mm::Region& r = platform_.regions[i];
      if (r.is_va_reservation() || r.end() <= limit) continue;
      const bool mapped = r.kind == mm::RegionKind::kMapped;
      std::string effect = mapped                                      ? "the tables cannot map it"
                           : r.kind == mm::RegionKind::kDeviceIo       ? "it cannot be ioremapped"
                           : r.kind == mm::RegionKind::kNonSecureDdr   ? "its pages cannot become shared memory"
                           : r.kind == mm::RegionKind::kSecureDataPath ? "SDP buffers there cannot be mapped"
                                                                       : "the TEE cannot map any of it";
      add(mapped ? Severity::kError : Severity::kWarning, "pa-range", {r.name},
          described(i) + " " + range_text(r.base.value, r.end()) + " reaches beyond the " +
              std::to_string(options_.pa_bits) + "-bit physical address range TCR.IPS allows: " + effect);
    }
  }

  // The static map, its tables, and what alignment costs each mapped region.
  void check_layout_and_alignment() {
    // Mapped regions beyond the PA range are errors already (pa-range): lay out the others.
    const uint64_t limit = uint64_t{1} << options_.pa_bits;
    std::vector<mm::Region> regions;
    for (const mm::Region& r : platform_.regions)
      if (r.kind != mm::RegionKind::kMapped || r.is_va_reservation() || r.end() <= limit) regions.push_back(r);
    std::vector<mm::Region> storage(regions.size() + 1);
    mm::PhysMemRegistry registry(storage.data(), storage.size());
    if (mm::Refusal r = registry.add_all(regions.data(), regions.size()); !r.ok()) {
      add(Severity::kError, "conflict", {}, "registration refused: " + describe_refusal(r));
      return;
    }
    std::vector<mm::MapEntry> entry_storage(platform_.regions.size() + 1);
    mm::MemoryMap map(entry_storage.data(), entry_storage.size());
    if (mm::Refusal r = map.build(registry, options_.layout); !r.ok()) {
      add(Severity::kError, "layout", {r.region != nullptr ? r.region : ""}, "layout refused: " + describe_refusal(r));
      return;
    }
    const std::vector<mm::MapEntry> entries(map.begin(), map.end());
    ScratchTables actual(options_.layout.va_bits, options_.pa_bits, table_pages_bound(entries));
    if (Status s = actual.build(entries); !s) {
      add(Severity::kError, "tables", {}, std::string("building the tables: ") + error_name(s.error()));
      return;
    }
    for (size_t i = 0; i < entries.size(); ++i) check_alignment(entries, i, actual);
  }

  static std::string leaves_text(const LeafCounts& c) {
    std::string out;
    const auto part = [&](uint64_t n, const char* what) {
      if (n == 0) return;
      out += (out.empty() ? "" : " + ") + std::to_string(n) + " " + what + (n == 1 ? "" : "s");
    };
    part(c.leaves[1], "1 GiB block");
    part(c.leaves[2], "2 MiB block");
    part(c.leaves[3], "4 KiB page");
    return out.empty() ? "nothing" : out;
  }

  static uint64_t blocks(const LeafCounts& c) { return c.leaves[1] + c.leaves[2]; }

  void check_alignment(const std::vector<mm::MapEntry>& entries, size_t index, const ScratchTables& actual) {
    const mm::MapEntry& e = entries[index];
    if (e.is_va_reservation() || e.size.bytes < kBlock2M) return;
    const uint64_t alignment = e.size.bytes >= kBlock1G ? kBlock1G : kBlock2M;
    if (e.pa.value % alignment == 0 && e.va.value % alignment == 0) return;
    const LeafCounts now = count_leaves(leaf_runs(actual.pool(), actual.table(), e.va.value, e.size.bytes));
    // The other way: the same region moved (PA and VA) onto the alignment, everything else as is;
    // down, else up, else measured alone.
    uint64_t cost = 0;
    LeafCounts ideal;
    bool measured = false;
    for (int direction = 0; direction < 2 && !measured; ++direction) {
      mm::MapEntry moved = e;
      moved.pa =
          PhysAddr(direction == 0 ? e.pa.value / alignment * alignment : (e.pa.value / alignment + 1) * alignment);
      moved.va =
          VirtAddr(direction == 0 ? e.va.value / alignment * alignment : (e.va.value / alignment + 1) * alignment);
      std::vector<mm::MapEntry> other = entries;
      other[index] = moved;
      ScratchTables aligned(options_.layout.va_bits, options_.pa_bits, table_pages_bound(other));
      if (!aligned.build(other)) continue;
      measured = true;
      ideal = count_leaves(leaf_runs(aligned.pool(), aligned.table(), moved.va.value, moved.size.bytes));
      cost = actual.table_pages() > aligned.table_pages() ? actual.table_pages() - aligned.table_pages() : 0;
    }
    if (!measured) {
      ScratchTables alone(options_.layout.va_bits, options_.pa_bits, table_pages_bound({e}));
      ScratchTables alone_aligned(options_.layout.va_bits, options_.pa_bits, table_pages_bound({e}));
      mm::MapEntry moved = e;
      moved.pa = PhysAddr(e.pa.value / alignment * alignment);
      moved.va = VirtAddr(e.va.value / alignment * alignment);
      if (!alone.build({e}) || !alone_aligned.build({moved})) return;
      ideal = count_leaves(leaf_runs(alone_aligned.pool(), alone_aligned.table(), moved.va.value, moved.size.bytes));
      cost = alone.table_pages() > alone_aligned.table_pages() ? alone.table_pages() - alone_aligned.table_pages() : 0;
    }
    if (blocks(ideal) <= blocks(now)) return;
    const std::string where =
        e.pa.value % alignment != 0 ? "PA " + hex_address(e.pa.value) : "VA " + hex_address(e.va.value);
    // Device registers sit where the hardware put them: said, but only as a note.
    const bool movable = !mm::is_io_type(e.type);
    add(cost > 0 && movable ? Severity::kWarning : Severity::kInfo, "alignment", {e.name},
        std::string(e.name) + " (" + mm::memory_type_name(e.type) + ", " + human_size(e.size.bytes) + ") at " + where +
            " is not " + human_size(alignment) + " aligned: mapped with " + leaves_text(now) + " where " +
            leaves_text(ideal) + " would do; it costs " + std::to_string(cost) + " table page" +
            (cost == 1 ? "" : "s") + " (" + human_size(cost * kPageSize) + ")");
  }

  void check_unused_secure_memory() {
    if (!spec_.tee_ram || view_.secure_memory.empty()) return;
    std::vector<Interval> used;
    used.push_back(Interval{spec_.tee_ram->pa, spec_.tee_ram->pa + spec_.tee_ram->size()});
    if (spec_.ta_ram) used.push_back(Interval{spec_.ta_ram->pa, spec_.ta_ram->pa + spec_.ta_ram->size});
    if (spec_.sdp) used.push_back(Interval{spec_.sdp->pa, spec_.sdp->pa + spec_.sdp->size});
    for (const Interval& left : host::interval_subtract(view_.secure_memory, used)) {
      if (left.size() < kPageSize) continue;
      std::vector<std::string> subjects;
      for (const host::DtMemory& m : tree_.memory)
        if (!m.availability.non_secure && m.range.base < left.end && left.begin < m.range.end())
          subjects.push_back(entry_name(m.node, m.index));
      for (const host::DtReserved& r : tree_.reserved)
        if ((r.role == host::ReservedRole::kOpteeCore || r.availability.secure_only()) && r.range.base < left.end &&
            left.begin < r.range.end())
          subjects.push_back(entry_name(r.node, r.index));
      add(Severity::kWarning, "unused", subjects,
          human_size(left.size()) + " of secure memory at " + range_text(left.begin, left.end) +
              " is neither TEE RAM, TA RAM nor SDP: nothing the TEE knows uses it (boot firmware may live there)");
    }
  }
};

}  // namespace

const char* severity_name(Severity severity) {
  switch (severity) {
    case Severity::kError: return "error";
    case Severity::kWarning: return "warning";
    case Severity::kInfo: return "info";
  }
  return "unknown";
}

size_t LintReport::count(Severity severity) const {
  return static_cast<size_t>(
      std::count_if(findings.begin(), findings.end(), [&](const Finding& f) { return f.severity == severity; }));
}

LintReport lint_device_tree(const host::DeviceTree& tree, const host::PlatformSpec& spec, const LintOptions& options) {
  return Linter(tree, spec, options).run();
}

namespace {
std::string plural(size_t n, const char* word) { return std::to_string(n) + " " + word + (n == 1 ? "" : "s"); }
}  // namespace

std::string render_lint_text(const LintReport& report) {
  std::string out = "teemm lint: " + report.source + (report.model.empty() ? "" : " (" + report.model + ")") + ": " +
                    plural(report.count(Severity::kError), "error") + ", " +
                    plural(report.count(Severity::kWarning), "warning") + ", " +
                    plural(report.count(Severity::kInfo), "note") + "\n";
  for (const Finding& f : report.findings) {
    std::string subjects;
    for (const std::string& s : f.subjects)
      if (!s.empty()) subjects += (subjects.empty() ? "" : ", ") + s;
    char head[64];
    std::snprintf(head, sizeof(head), "%-7s [%s] ", severity_name(f.severity), f.check.c_str());
    out += head + (subjects.empty() ? "" : subjects + ": ") + f.message + "\n";
  }
  return out;
}

std::string render_lint_json(const LintReport& report) {
  using Json = nlohmann::ordered_json;
  Json findings = Json::array();
  for (const Finding& f : report.findings)
    findings.push_back({{"severity", severity_name(f.severity)},
                        {"check", f.check},
                        {"subjects", f.subjects},
                        {"message", f.message}});
  Json out;
  out["source"] = report.source;
  out["model"] = report.model;
  out["errors"] = report.count(Severity::kError);
  out["warnings"] = report.count(Severity::kWarning);
  out["infos"] = report.count(Severity::kInfo);
  out["findings"] = std::move(findings);
  return out.dump(2, ' ', false, Json::error_handler_t::replace) + "\n";
}

}  // namespace teemm::tool
